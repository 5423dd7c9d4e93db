"""Checkpoints: written atomically, loaded into a freshly built network and kernel."""

import numpy as np
import pytest

import nest
from pygle_nest import checkpoint
from pygle_nest.training import Trainer
from test_training import network, task


def states(net):
    plastic = np.concatenate([np.r_[p.forward, p.backward] for p in net.projections])
    return net.nest.synapse_states(plastic), net.nest.unit_states(checkpoint.UNIT_STATES)


def test_checkpoint_round_trip_into_a_fresh_kernel(tmp_path):
    x, labels = task(20)
    net = network(eta_bias=1e-3)
    trainer = Trainer(net)
    trainer.train(x, labels, epochs=1, verbose=False)
    accuracy, loss = trainer.evaluate(x, labels)
    saved = states(net)
    path = tmp_path / "ckpt.npz"
    checkpoint.save(net, path, position={"epoch": 1, "sample": 0})
    assert path.exists() and not list(tmp_path.glob("*partial*"))

    fresh = network(eta_bias=1e-3)  # ResetKernel and the same construction
    assert checkpoint.load(fresh, path) == {"epoch": 1, "sample": 0}
    loaded = states(fresh)
    for a, b in zip(saved, loaded):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    accuracy_loaded, loss_loaded = Trainer(fresh).evaluate(x, labels)
    assert accuracy_loaded == accuracy
    assert loss_loaded == pytest.approx(loss, rel=0.05)


def test_checkpoint_of_another_network_is_refused(tmp_path):
    net = network()
    checkpoint.save(net, tmp_path / "a.npz")
    nest.ResetKernel()
    import pygle_nest as pg
    other = pg.Network(resolution=0.1)
    a = other.input("x", 1)
    b = other.output("y", 2)
    other.project(a, b)
    other.build()
    with pytest.raises(ValueError, match="is of another network"):
        checkpoint.load(other, tmp_path / "a.npz")
