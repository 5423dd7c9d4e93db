"""Checkpoints: written atomically, loaded into a freshly built network and kernel, and a
resumed run continues exactly as the uninterrupted one."""

import json

import numpy as np
import pytest

import nest
import random_networks
from pygle_nest import checkpoint, classify, nest_backend
from pygle_nest.training import Trainer
from test_training import network, task


def test_checkpoint_round_trip_into_a_fresh_kernel(tmp_path):
    x, labels = task(20)
    net = network(eta_bias=1e-3)
    trainer = Trainer(net)
    trainer.train(x, labels, epochs=1, verbose=False)
    accuracy, loss = trainer.evaluate(x, labels)
    saved = checkpoint.state(net)
    path = tmp_path / "ckpt"
    checkpoint.save(net, path, position={"epoch": 1, "sample": 0})
    assert path.is_dir() and not list(path.rglob("*partial*"))

    fresh = network(eta_bias=1e-3)  # ResetKernel and the same construction
    assert checkpoint.load(fresh, path) == {"epoch": 1, "sample": 0}
    loaded = checkpoint.state(fresh)
    for key in [k for k in saved if k.startswith(("conn_", "unit_"))]:
        np.testing.assert_array_equal(loaded[key], saved[key], err_msg=key)
    accuracy_loaded, loss_loaded = Trainer(fresh).evaluate(x, labels)
    assert accuracy_loaded == accuracy
    assert loss_loaded == pytest.approx(loss, rel=1e-12)  # evaluate puts the state back: the saved one


def test_checkpoint_of_another_network_is_refused(tmp_path):
    net = network()
    checkpoint.save(net, tmp_path / "a")
    nest.ResetKernel()
    import pygle_nest as pg
    other = pg.Network(resolution=0.1)
    a = other.input("x", 1)
    b = other.output("y", 2)
    other.project(a, b)
    other.build()
    with pytest.raises(ValueError, match="is of another network"):
        checkpoint.load(other, tmp_path / "a")


def assert_same_state(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("delays, first, lanes, rate_lag, interval", [
    ((1, 1), 30.0, 1, 0, 1), ((2, 3), 30.3, 1, 0, 1), ((1, 4), 0.5, 1, 0, 1), ((1, 1), 30.0, 3, 1, 1),
    ((2, 3), 30.3, 16, 1, 1), ((1, 2), 20.0, 3, 0, 1), ((2, 3), 30.3, 3, 1, 7), ((1, 1), 30.0, 1, 0, 11)])
def test_a_resumed_simulation_continues_identically(tmp_path, delays, first, lanes, rate_lag, interval):
    """Simulate(first); save; in a fresh kernel load and Simulate(40 ms): the same trajectories,
    weights and optimizer states as Simulate(first) then Simulate(40 ms) in one kernel; also
    when the save falls within a min_delay slice and with inputs on their way (delays > 1), with
    lanes, with the paper's pairing (rate_lag 1), and within an update interval (sums saved)."""
    def build():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        spec = random_networks.layered(seed=9, sizes=(8, 8, 4), n_steps=800, fwd_delay=delays[0], bwd_delay=delays[1],
                                       plasticity={"optimizer": "adam", "eta": 1e-3, "rate_lag": rate_lag,
                                                   "update_interval": interval},
                                       unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam",
                                                      "update_interval": interval},
                                       lanes=lanes)
        net = nest_backend.create(spec)
        return net, net.multimeter(["r", "err"])

    path = tmp_path / "ckpt"
    net, mm = build()
    nest.Simulate(first)
    checkpoint.save(net, path)
    nest.Simulate(40.0)
    uninterrupted = checkpoint.state(net), nest_backend.recorded(mm, net.units)
    steps = int(round(first / 0.1))
    net, mm = build()
    checkpoint.load(net, path)
    nest.Simulate(40.0)
    resumed = checkpoint.state(net), nest_backend.recorded(mm, net.units)
    assert_same_state(uninterrupted[0], resumed[0])
    for key in ("r", "err"):  # row k of a kernel: step k + 1 of its own
        np.testing.assert_array_equal(uninterrupted[1][key][steps:], resumed[1][key][:len(uninterrupted[1][key]) - steps])
    assert resumed[0]["steps"] == steps + 400 and np.abs(uninterrupted[0]["pending_inputs"]).max() > 0


@pytest.mark.parametrize("delays", [(1, 1), (2, 3)])
def test_a_resume_keeps_the_hyperparameters_set_after_build(tmp_path, delays):
    """Learning rates, Adam's betas, update_interval and learning set in NEST after build (as a
    schedule or a user does), and a change made right before the save (the undelivered steps
    learn with the properties they ran with): the resumed run continues bit for bit."""
    def build():
        nest.ResetKernel()
        nest.verbosity = nest.VerbosityLevel.ERROR
        spec = random_networks.layered(seed=9, sizes=(8, 8, 4), n_steps=800, fwd_delay=delays[0], bwd_delay=delays[1],
                                       plasticity={"optimizer": "adam", "eta": 3e-3, "rate_lag": 1},
                                       unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam"})
        return nest_backend.create(spec)

    path = tmp_path / "ckpt"
    net = build()
    for model in ("plastic", "plastic_backward"):
        nest.SetDefaults(model, {"eta": 1e-3, "beta1": 0.8, "update_interval": 3})
    net.units.set({"eta_bias": 2e-3})
    nest.Simulate(20.3)
    for model in ("plastic", "plastic_backward"):  # after the steps the save delivers
        nest.SetDefaults(model, {"eta": 3e-4, "learning": False})
    checkpoint.save(net, path)
    for model in ("plastic", "plastic_backward"):
        nest.SetDefaults(model, {"learning": True})
    nest.Simulate(20.0)
    uninterrupted = checkpoint.state(net)
    net = build()
    checkpoint.load(net, path)
    for model in ("plastic", "plastic_backward"):
        assert nest.GetDefaults(model, "eta") == 3e-4 and nest.GetDefaults(model, "beta1") == 0.8
        nest.SetDefaults(model, {"learning": True})
    nest.Simulate(20.0)
    assert_same_state(uninterrupted, checkpoint.state(net))


@pytest.mark.parametrize("schedule", [None, lambda epoch: 1e-3 * 0.3 ** epoch], ids=["fixed rate", "lowered rate"])
def test_resumed_training_continues_identically(tmp_path, monkeypatch, schedule):
    """Training interrupted right after the checkpoint within the second epoch, resumed in a
    fresh kernel: the same history, weights and states as the uninterrupted run; also after
    the schedule lowered the rate."""
    x, labels = task(20)

    def train(path, **kwargs):
        trainer = Trainer(network(eta_bias=1e-3))
        history = trainer.train(x, labels, epochs=2, rng=np.random.default_rng(3), verbose=False,
                                checkpoint=path, checkpoint_every=7, lr_schedule=schedule, **kwargs)
        return history, checkpoint.state(trainer.net)

    uninterrupted = train(tmp_path / "a")

    saves = []
    real_save = checkpoint.save

    def save_then_crash(net, path, position=None, **kwargs):
        real_save(net, path, position, **kwargs)
        saves.append(position)
        if position["epoch"] == 1 and position["sample"] == 14:
            raise KeyboardInterrupt
    monkeypatch.setattr(checkpoint, "save", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(tmp_path / "b")
    monkeypatch.setattr(checkpoint, "save", real_save)
    assert [(p["epoch"], p["sample"]) for p in saves] == [(0, 7), (0, 14), (1, 0), (1, 7), (1, 14)]

    resumed = train(tmp_path / "b", resume=True)
    assert resumed[0] == uninterrupted[0]
    assert_same_state(uninterrupted[1], resumed[1])
    version = json.loads((tmp_path / "b" / "manifest.json").read_text())["version"]
    assert np.load(tmp_path / "b" / version / "units.npz")["steps"] == 2 * 20 * 30
    # the earlier versions are gone
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(["manifest.json", version])


def test_resume_needs_a_fresh_kernel(tmp_path):
    net = network()
    checkpoint.save(net, tmp_path / "a")
    nest.Simulate(1.0)
    with pytest.raises(ValueError, match="freshly built network"):
        checkpoint.load(net, tmp_path / "a")


def test_save_creates_missing_folders(tmp_path):
    """python -m pygle_nest train died at its first checkpoint when results/ did not exist."""
    net = network()
    checkpoint.save(net, tmp_path / "results" / "deeper" / "run.ckpt")
    assert (tmp_path / "results" / "deeper" / "run.ckpt" / "manifest.json").exists()


def test_a_network_of_other_parameters_is_named_in_the_refusal(tmp_path):
    """Same sizes, other unit parameters and connection settings: refused, saying what differs
    (before, only the counts and the resolution were compared)."""
    import pygle_nest as pg

    def build(activation, tau_r, eta):
        nest.ResetKernel()
        net = pg.Network(resolution=0.1, seed=1)
        x = net.input("x", 1)
        h = net.layer("h", [pg.Group(3, 1.0, tau_r)], activation=activation)
        net.project(x, h, optimizer="adam", eta=eta)
        net.project(h, net.output("y", 2))
        net.build()
        return net

    checkpoint.save(build("softplus", 0.5, 1e-3), tmp_path / "a")
    with pytest.raises(ValueError, match=r"another network; what differs: connection models \(gle_x_h_0, "
                                         r"gle_x_h_0_backward\); unit parameters \(activation, tau_r\)"):
        checkpoint.load(build("tanh", 2.0, 1e-2), tmp_path / "a")
    checkpoint.load(build("softplus", 0.5, 1e-3), tmp_path / "a")


def test_a_checkpoint_of_another_layout_is_refused_before_its_position_is_read(tmp_path):
    """A checkpoint of an older layout (its position lacks settings of this version) is refused
    by name, by position() as by load(), and so by evaluate and train --resume: a folder of
    another layout, and a single .npz file of the layouts before folders."""
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"format": checkpoint.FORMAT + 1, "position": {}}))
    single = tmp_path / "old.npz"
    np.savez(single, meta=json.dumps({"format": 6, "position": {"extra": {"config": {}}}}))
    for read in (checkpoint.position, lambda p: classify.evaluate(p)):
        with pytest.raises(ValueError, match=rf"has the layout {checkpoint.FORMAT + 1}; this version of pygle-nest "
                                             rf"reads layout {checkpoint.FORMAT}"):
            read(folder)
        with pytest.raises(ValueError, match=rf"is a single file of layout 6 \(pygle-nest before checkpoint "
                                             rf"folders\); this version reads layout {checkpoint.FORMAT}"):
            read(single)
    (tmp_path / "text.npz").write_text("not a checkpoint")
    with pytest.raises(ValueError, match="is not a pygle-nest checkpoint"):
        checkpoint.position(tmp_path / "text.npz")


def _layered(threads=1, lanes=3, rate_lag=1):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    nest.local_num_threads = threads
    spec = random_networks.layered(seed=9, sizes=(8, 8, 4), n_steps=800, fwd_delay=2, bwd_delay=3,
                                   plasticity={"optimizer": "adam", "eta": 1e-3, "rate_lag": rate_lag},
                                   unit_learning={"eta_bias": 1e-3, "eta_tau": 1e-3, "optimizer": "adam"}, lanes=lanes)
    return nest_backend.create(spec)


@pytest.mark.parametrize("saved_at, loaded_at", [(1, 2), (2, 1), (2, 2)])
def test_a_checkpoint_resumes_at_another_number_of_threads(tmp_path, monkeypatch, saved_at, loaded_at):
    """Written at one number of threads, resumed at another (connections matched by source,
    target and port; the sums into a unit's inputs then run in another order): the same state
    40 ms later to 1e-12; at the same number, bit for bit, each block read back in its order
    (no matching)."""
    if saved_at == loaded_at:
        monkeypatch.setattr(checkpoint, "_load_by_key", lambda *args: pytest.fail("matched by key"))
    net = _layered(saved_at)
    nest.Simulate(30.1)
    checkpoint.save(net, tmp_path / "ckpt")
    nest.Simulate(40.0)
    uninterrupted = checkpoint.state(net)
    net = _layered(loaded_at)
    checkpoint.load(net, tmp_path / "ckpt")
    nest.Simulate(40.0)
    resumed = checkpoint.state(net)
    if saved_at == loaded_at:
        assert_same_state(uninterrupted, resumed)
    for key in uninterrupted:
        np.testing.assert_allclose(resumed[key], uninterrupted[key], rtol=0, atol=1e-12, err_msg=key)
    assert np.ptp(uninterrupted["conn_plastic"][:, 0]) > 0 and "conn_plastic_held" not in uninterrupted


def test_the_checkpoint_delivers_the_last_slice_as_nest_does(tmp_path):
    """The saved weights are those NEST reaches when it delivers the undelivered slice itself:
    learning switched off after the save (the slice learns with the properties it ran with),
    one more slice simulated, and NEST's own GetConnections equals the checkpoint bit for bit."""
    net = _layered(lanes=1)
    nest.Simulate(30.0)
    checkpoint.save(net, tmp_path / "ckpt")
    undelivered = {model: np.asarray(nest.GetConnections(synapse_model=model).get("weight"))
                   for model in ("plastic", "plastic_backward")}
    for model in ("plastic", "plastic_backward"):
        nest.SetDefaults(model, {"learning": False})
    nest.Simulate(0.2)  # min_delay: the fwd delay of 2 steps
    saved = checkpoint.arrays(tmp_path / "ckpt")
    for model in ("plastic", "plastic_backward"):
        conns = nest.GetConnections(synapse_model=model)
        got = conns.get(["source", "target", "receptor", "weight", "m", "s"])
        order = np.lexsort((got["receptor"], got["target"], got["source"]))
        np.testing.assert_array_equal(saved[model]["source"], np.asarray(got["source"])[order])
        for j, name in enumerate(("weight", "m", "s")):
            np.testing.assert_array_equal(saved[model]["states"][:, j], np.asarray(got[name])[order], err_msg=name)
        assert np.abs(undelivered[model] - np.asarray(got["weight"])).max() > 1e-6  # the slice learned
    assert saved["plastic"]["state_names"] == ["w", "m", "s", "g_sum"]
