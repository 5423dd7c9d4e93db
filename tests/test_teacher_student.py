"""The 1-2-2-1 teacher-student task: GLE's errors in NEST against the exact adjoint (BPTT) of
the same discrete dynamics (examples/teacher_student.py shows them)."""

import numpy as np

import nest
from pygle_nest import nest_backend
from pygle_nest.bptt import adjoint
from pygle_nest.experiments import teacher_student

WINDOW = 3000


def test_gle_errors_follow_the_adjoint():
    task = teacher_student(WINDOW, seed=0, learning=False)
    hidden = np.concatenate(task.student[:2])
    _, _, dl_di = adjoint(task.spec, WINDOW)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(task.spec)
    nodes = net.units[[int(k) for k in hidden]]
    mm = net.multimeter(["err"], units=nodes)
    nest.Simulate(WINDOW * task.spec.resolution)
    errors = nest_backend.recorded(mm, nodes)["err"]
    settled = slice(WINDOW // 3, len(errors) - 3)
    # GLE's error of a unit trails the adjoint by its latency: 3 steps below the output
    corr = [np.corrcoef(errors[settled.start + 3:settled.stop + 3, k], -dl_di[settled, u])[0, 1]
            for k, u in enumerate(hidden)]
    # the instantaneous unit right below the output gets exactly the backpropagated error
    assert corr[2] > 0.999
    # the others: same phase, other gain (retrospective units, and the layer below)
    np.testing.assert_allclose(corr[:2] + corr[3:], [0.677, 0.254, 0.683], atol=0.02)  # measured, pinned
