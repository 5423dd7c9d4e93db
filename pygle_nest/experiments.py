"""The published GLE experiments as NetworkSpecs and runs in NEST (Ellenberger et al. 2024, "Backpropagation through space, time, and the brain").

LagLine (Fig. 5 of the paper): a teacher chain x -> 1 -> 1 of softplus units with weights
(1, 2) and membrane time constants (1, 2) (tau_r = 0.1), and a student chain of the same form
whose weights and membrane time constants start random and are learned: weights by the plastic
gle_synapse with Adam, tau_m by the units' local rule dtau_m/dt = -eta_tau e du/dt. The student's
output is nudged towards the teacher's (beta = 0.01, gamma = 1). Time is in ms (the paper's time
units), dt = 0.01.

The 1-2-2-1 teacher-student task (Fig. 6): teacher and student chains of tanh hidden layers,
each of one instantaneous and one retrospective unit, and a linear output; only the student's
first layer learns, with SGD and momentum, as published (see teacher_student).
"""

from dataclasses import dataclass

import numpy as np

from .network import NetworkSpec

LAGLINE_TEACHER = {"w": (1.0, 2.0), "tau_m": (1.0, 2.0), "tau_r": 0.1}


def square_wave(n_steps, dt, rng, half_period=2.0, sigma=0.05):
    """+-1 square wave with the given half period and a random phase, Gaussian-smoothed
    (sigma in ms: the paper's 5 steps of 0.01)."""
    sigma_steps = max(int(round(sigma / dt)), 1)
    t = np.arange(n_steps + 8 * sigma_steps) * dt + rng.uniform(0, 2 * half_period)
    wave = np.where(np.floor(t / half_period) % 2 == 0, 1.0, -1.0)
    k = np.arange(-4 * sigma_steps, 4 * sigma_steps + 1)
    kernel = np.exp(-0.5 * (k / sigma_steps) ** 2)
    return np.convolve(wave, kernel / kernel.sum(), mode="valid")[:n_steps]


@dataclass
class LagLine:
    """Units and connections of a LagLine spec (indices into the spec)."""

    spec: NetworkSpec
    teacher: np.ndarray
    student: np.ndarray
    student_connections: np.ndarray  # forward plastic connections (relay -> 1, 1 -> 2)


def lagline(n_steps, seed=0, dt=0.01, lr=3e-4, lr_tau=None, prospective_error=True, beta=0.01, lanes=1,
            tau_m_min=None):
    """The LagLine teacher and student; the student's initial w and tau_m are drawn from
    U(0, 1) (tau_m at least tau_m_min, default 5 dt). Weights learn with Adam at the rate lr,
    tau_m at lr_tau (default: lr). lanes > 1: as published, that many input streams, each a
    square wave of its own random phase, through the one teacher and the one student."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=dt, lanes=lanes)
    tau_m_min = 5 * dt if tau_m_min is None else tau_m_min
    spec.add_synapse_model("lagline", optimizer="adam", eta=lr)
    tau_r = LAGLINE_TEACHER["tau_r"]
    # an identity relay (tau_m = tau_r: u_breve = input) turns the stream into a unit's rate, so
    # that the first student weight can be a plastic connection between units like the second
    relay = spec.add_units(1, tau_m=1.0, tau_r=1.0)
    teacher = spec.add_units(2, tau_m=LAGLINE_TEACHER["tau_m"], tau_r=tau_r, activation="softplus")
    student = spec.add_units(2, tau_m=np.maximum(rng.uniform(0, 1, 2), tau_m_min), tau_r=tau_r,
                             activation="softplus", gamma=1.0, beta=[0.0, beta], eta_tau=lr if lr_tau is None else lr_tau,
                             optimizer="adam", tau_m_min=tau_m_min, prospective_error=prospective_error)
    if lanes == 1:
        x = spec.add_streams(square_wave(n_steps, dt, rng))
        spec.connect_stream(x, relay, 1.0)
    else:
        spec.set_lane_inputs(relay[0], np.stack([square_wave(n_steps, dt, rng) for _ in range(lanes)], axis=1))
    spec.connect([relay[0], teacher[0]], teacher, LAGLINE_TEACHER["w"])
    w0 = rng.uniform(0, 1, 2)
    forward = spec.connect([relay[0], student[0]], student, w0, synapse="lagline")
    spec.connect(student[1], student[0], w0[1], synapse="lagline_backward", port="bwd")
    spec.connect(teacher[1], student[1], 1.0, port="target")
    return LagLine(spec, teacher, student, forward)


def run_lagline(task: LagLine, n_steps, n_points=200, lr_schedule=None):
    """Simulate in NEST; return times and, at n_points times, the student's weights and
    membrane time constants and the mean squared output error of the interval before.
    lr_schedule(t) -> the Adam rate of weights and tau_m from time t (ms) on, applied at the
    n_points times."""
    import nest

    from . import nest_backend

    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = nest_backend.create(task.spec)
    rec_units = net.units[[int(task.teacher[1]), int(task.student[0]), int(task.student[1])]]
    mm = net.multimeter(["r", "tau_m"], units=rec_units)
    chunk = max(n_steps // n_points, 1)
    out = {"t": [], "w": [], "tau_m": [], "loss": []}
    done = 0
    while done < n_steps:
        if lr_schedule is not None:
            lr = float(lr_schedule(done * task.spec.resolution))
            for model in ("lagline", "lagline_backward"):
                nest.SetDefaults(model, {"eta": lr})
            net.units[[int(k) for k in task.student]].set({"eta_tau": lr})
        steps = min(chunk, n_steps - done)
        nest.Simulate(steps * task.spec.resolution)
        done += steps
        rec = nest_backend.recorded(mm, rec_units)
        mm.n_events = 0
        out["t"].append(done * task.spec.resolution)
        out["w"].append(net.synapse_states(task.student_connections)["weight"])
        out["tau_m"].append(rec["tau_m"][-1, 1:])
        out["loss"].append(np.mean((rec["r"][:, 0] - rec["r"][:, 2]) ** 2))
    return {k: np.array(v) for k, v in out.items()}


def relative_errors(result):
    """|learned / teacher - 1| of the final weights and membrane time constants."""
    w = np.abs(result["w"][-1] / np.array(LAGLINE_TEACHER["w"]) - 1)
    tau = np.abs(result["tau_m"][-1] / np.array(LAGLINE_TEACHER["tau_m"]) - 1)
    return w, tau


TEACHER_STUDENT_FREQUENCIES = (0.49, 1.07, 1.98)  # rad/ms, the input's sines (Ellenberger et al. 2024, Fig. 6)
#: The published set-up's fixed layers, equal in teacher and student: a "strong slow path", the
#: identity with its entry [0, 0] (the instantaneous unit's) halved, from hidden layer 1 to 2;
#: from hidden layer 2 to the output the same rule on the row of ones (our reading: the paper
#: names one matrix for both frozen layers, and the output must see both paths).
TEACHER_STUDENT_FROZEN = (((0.5, 0.0), (0.0, 1.0)), ((0.5, 1.0),))
#: The teacher's first-layer weights (input -> the instantaneous and the retrospective unit);
#: the paper gives [0][0] = -0.5, the other is ours.
TEACHER_STUDENT_W1 = (-0.5, 1.0)


@dataclass
class TeacherStudent:
    """Units and connections of a teacher-student spec (indices into the spec)."""

    spec: NetworkSpec
    teacher: list  # units per layer: hidden 1, hidden 2, output
    student: list
    student_connections: np.ndarray  # the student's first-layer connections (plastic)


def teacher_student(n_steps, seed=0, dt=0.01, eta=2e-2, mu=0.9, beta=1.0, gamma=1e-3, learning=True):
    """The published 1-2-2-1 teacher-student task: tanh hidden layers of one instantaneous
    (tau_r = tau_m = 1) and one retrospective (tau_r = 0.1) unit, a linear instantaneous output,
    the input a sum of sines. Only the student's first layer (input -> hidden 1) learns, by GLE
    with SGD and momentum, from weights drawn U(-1, 1); the layers above are fixed
    (TEACHER_STUDENT_FROZEN) and carry the errors back through their transposes."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=dt)
    spec.add_synapse_model("student", optimizer="momentum", eta=eta, mu=mu, learning=learning)
    relay = spec.add_units(1, tau_m=1.0, tau_r=1.0)
    t = np.arange(n_steps) * dt
    phases = rng.uniform(0, 2 * np.pi, 3)
    x = spec.add_streams(sum(np.sin(w * t + p) for w, p in zip(TEACHER_STUDENT_FREQUENCIES, phases)) / 2)
    spec.connect_stream(x, relay, 1.0)
    nets = {}
    for name, output_beta, g in (("teacher", 0.0, 0.0), ("student", beta, gamma)):
        layers = [spec.add_units(2, tau_m=1.0, tau_r=[1.0, 0.1], activation="tanh", gamma=g) for _ in range(2)]
        layers.append(spec.add_units(1, tau_m=1.0, tau_r=1.0, beta=output_beta, gamma=g))
        nets[name] = layers
    spec.connect(relay[[0, 0]], nets["teacher"][0], TEACHER_STUDENT_W1)
    first = spec.connect(relay[[0, 0]], nets["student"][0], rng.uniform(-1, 1, 2), synapse="student")
    for k, matrix in enumerate(TEACHER_STUDENT_FROZEN):
        w = np.asarray(matrix)  # post x pre
        post, pre = np.nonzero(w)
        for name in ("teacher", "student"):
            below, above = nets[name][k], nets[name][k + 1]
            spec.connect(below[pre], above[post], w[post, pre])
            if name == "student":
                spec.connect(above[post], below[pre], w[post, pre], synapse="eprop_learning_signal_connection",
                             port="bwd")
    spec.connect(nets["teacher"][-1], nets["student"][-1], 1.0, port="target")
    return TeacherStudent(spec, nets["teacher"], nets["student"], first)
