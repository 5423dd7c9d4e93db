"""Streaming training and evaluation of built networks."""

import numpy as np
import pytest

import nest
import pygle_nest as pg
from pygle_nest import ReferenceNetwork
from pygle_nest.training import PlateauSchedule, Trainer

T = 30


def task(n, seed=0):
    """Two classes told apart by the input's mean, with a random oscillation on top."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    x = [(0.5 if label else -0.5) + 0.3 * np.sin(np.arange(T) * 0.3 + rng.uniform(0, 6)) for label in labels]
    return x, labels


def network(eta=1e-3, eta_bias=0.0, lanes=1, rate_lag=0):
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = pg.Network(resolution=0.1, seed=1, lanes=lanes)
    x = net.input("x", 1)
    h = net.layer("h", [pg.Group(6, 1.0, 1.0), pg.Group(6, 2.0, 0.5)], activation="tanh",
                  eta_bias=eta_bias, eta_tau=eta_bias, optimizer="adam")
    y = net.output("y", 2, loss="cross_entropy", beta=1.0)
    net.project(x, h, optimizer="adam", eta=eta, rate_lag=rate_lag)
    net.project(h, y, optimizer="adam", eta=eta, rate_lag=rate_lag)
    net.build()
    return net


def test_training_reduces_the_loss():
    x, labels = task(40)
    trainer = Trainer(network())
    accuracy_before, loss_before = trainer.evaluate(x, labels)
    history = trainer.train(x, labels, epochs=2, verbose=False)
    accuracy, loss = trainer.evaluate(x, labels)
    assert loss < 0.1 * loss_before and accuracy >= 0.95 > accuracy_before
    assert history[1][1] < history[0][1]


def test_evaluation_leaves_the_network_unchanged():
    """Evaluation learns nothing (the first evaluation still learns from the last training step,
    which NEST delivers at its start: see test_the_switch_to_evaluation_is_exact)."""
    x, labels = task(10)
    net = network(eta_bias=1e-2)
    trainer = Trainer(net)
    trainer.train(x, labels, epochs=1, verbose=False)
    conns = nest.GetConnections(synapse_model=net.projections[0].model)
    trainer.evaluate(x[:1], labels[:1])
    before = (conns.get("weight"), net.nest.units.get("bias"), net.nest.units.get("tau_m"))
    trainer.evaluate(x, labels)
    after = (conns.get("weight"), net.nest.units.get("bias"), net.nest.units.get("tau_m"))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    assert net.populations["h"].nodes.get("eta_bias")[0] == 1e-2  # learning is back on
    trainer.train(x[:2], labels[:2], epochs=1, verbose=False)
    assert not np.array_equal(conns.get("weight"), after[0])


@pytest.mark.parametrize("per_step", [False, True], ids=["targets held", "targets per step"])
def test_streamed_samples_equal_the_reference_of_one_long_stream(per_step):
    """Targets held over each sample (sent as one row, lane_inputs_hold) or given step by step
    (here: the label for the first half of a sample, the other class after)."""
    x, labels = task(6)
    net = network(eta=1e-2)
    trainer = Trainer(net)
    targets = np.repeat(np.eye(2)[labels][:, None], T, axis=1)  # samples x steps x outputs
    if per_step:
        targets[:, T // 2:] = 1 - targets[:, T // 2:]
    trainer.run(x, targets if per_step else np.eye(2)[labels])
    # the reference sees the samples as one sequence of lane inputs from step 0; NEST's
    # connections have processed all but the last step (its slice is delivered at the next Run)
    spec = net.spec
    spec.set_lane_inputs(net.populations["x"].indices[0], np.concatenate(x)[:, None], first_step=0)
    for k, unit in enumerate(net.populations["y"].indices):
        spec.set_lane_inputs(unit, np.concatenate(targets[:, :, k])[:, None], port="target", first_step=0)
    ref = ReferenceNetwork(spec)
    ref.run(6 * T - 1, record=())
    plastic = np.concatenate([np.r_[p.forward, p.backward] for p in net.projections])
    np.testing.assert_allclose(net.nest.synapse_states(plastic)["weight"], ref.synapses["weight"][plastic],
                               rtol=0, atol=1e-10)
    assert np.max(np.abs(ref.synapses["weight"][plastic] - spec.connections["weight"][plastic])) > 1e-3


@pytest.mark.parametrize("inputs, targets, message", [
    ([], [], "no samples"),
    ([np.zeros(5)], [[1, 0], [0, 1]], "1 samples but 2 targets"),
    ([np.zeros((5, 2))], [[1, 0]], r"must be \(steps x 1\)"),
    ([np.full(5, np.nan)], [[1, 0]], "must be finite"),
])
def test_bad_data_is_rejected(inputs, targets, message):
    trainer = Trainer(network())
    with pytest.raises(ValueError, match=message):
        trainer.run(inputs, targets)
    assert nest.biological_time == 0.0


@pytest.mark.parametrize("lanes, rate_lag", [(3, 0), (4, 1)])
def test_batches_of_lanes_equal_the_reference(lanes, rate_lag):
    """7 samples in batches of `lanes` (the last one ragged: its empty lanes run the batch's first
    samples again) train the network as the reference trains it on each lane's sequence of
    samples; the sums returned are those of the samples' own lanes."""
    x, labels = task(7)
    net = network(eta=1e-2, eta_bias=1e-3, lanes=lanes, rate_lag=rate_lag)
    trainer = Trainer(net)
    sums, _ = trainer.run(x, np.eye(2)[labels])
    assert sums.shape == (7, 2)
    spec = net.spec
    batches = [lanes_of for _, lanes_of in trainer.batches(7)]
    series = np.concatenate([np.stack([x[k] for k in b], axis=1) for b in batches])  # steps x lanes
    spec.set_lane_inputs(net.populations["x"].indices[0], series, first_step=0)
    for k, unit in enumerate(net.populations["y"].indices):
        spec.set_lane_inputs(unit, np.concatenate([np.repeat(np.eye(2)[labels[b], k][None], T, axis=0)
                                                   for b in batches]), port="target", first_step=0)
    ref = ReferenceNetwork(spec)
    out = ref.run(len(batches) * T - 1, record=("r",))  # NEST delivers the last step's slice later
    plastic = np.concatenate([np.r_[p.forward, p.backward] for p in net.projections])
    np.testing.assert_allclose(net.nest.synapse_states(plastic)["weight"], ref.synapses["weight"][plastic],
                               rtol=0, atol=1e-10)
    r_out = np.concatenate([out["r"], ref.run(1, record=("r",))["r"]])[..., net.populations["y"].indices]
    for k, b in enumerate(batches):
        expected = r_out[k * T:(k + 1) * T].sum(axis=0)
        got = sums[k * lanes:(k + 1) * lanes]
        np.testing.assert_allclose(got, expected[:len(got)], rtol=0, atol=1e-10)


@pytest.mark.parametrize("interval", [1, T])
def test_the_switch_to_evaluation_is_exact(interval):
    """Training, then evaluation: NEST equals the reference run straight through with learning
    switched off at the first evaluation step (connections, biases, time constants): the last
    training step is learned from (with update_interval = the steps of a sample, its optimizer
    step is taken), the evaluation sees the weights after it, and the evaluation's last step
    is not learned from when training goes on."""
    x, labels = task(8)
    net = network(eta=1e-2, eta_bias=1e-3, lanes=2, rate_lag=1)
    for p in net.projections:
        for model in (p.model, p.model + "_backward"):
            nest.SetDefaults(model, {"update_interval": interval})
    trainer = Trainer(net)
    trainer.run(x[:4], np.eye(2)[labels[:4]])
    sums, _ = trainer.run(x[4:], np.eye(2)[labels[4:]], train=False)
    trainer.run(x[:2], np.eye(2)[labels[:2]])  # delivers the evaluation's last step

    spec = net.spec
    for model in spec.model_list():
        if model.plastic:
            model.params["update_interval"] = interval
    order = [[0, 1], [2, 3], [4, 5], [6, 7], [0, 1]]
    spec.set_lane_inputs(net.populations["x"].indices[0], np.concatenate([np.stack([x[k] for k in b], 1)
                                                                           for b in order]), first_step=0)
    for k, unit in enumerate(net.populations["y"].indices):
        spec.set_lane_inputs(unit, np.concatenate([np.repeat(np.eye(2)[labels[b], k][None], T, axis=0)
                                                   for b in order]), port="target", first_step=0)
    ref = ReferenceNetwork(spec)
    ref.run(2 * T, record=())
    plastic = [m.name for m in spec.model_list() if m.plastic]
    rates = {k: ref.params[k].copy() for k in ("eta_bias", "eta_tau")}
    for name in plastic:
        ref.common[name]["learning"] = False
    for k in rates:
        ref.params[k][:] = 0.0
    r = ref.run(2 * T, record=("r",))["r"][..., net.populations["y"].indices]
    np.testing.assert_allclose(sums, np.concatenate([r[:T].sum(0), r[T:].sum(0)]), rtol=0, atol=1e-10)
    for name in plastic:
        ref.common[name]["learning"] = True
    ref.params.update(rates)
    ref.run(T - 1, record=())
    connections = np.concatenate([np.r_[p.forward, p.backward] for p in net.projections])
    np.testing.assert_allclose(net.nest.synapse_states(connections)["weight"], ref.synapses["weight"][connections],
                               rtol=0, atol=1e-10)
    ref.run(1, record=())  # the units have run the third pass's last step
    states = net.nest.unit_states(("bias", "tau_m"))
    for k in states:
        np.testing.assert_allclose(states[k], ref.state[k], rtol=0, atol=1e-10)


def test_evaluate_twice_gives_the_same_figures():
    """Three evaluations in a row gave losses 0.5651, 0.5716, 0.5716 (each started where the
    last left the units): now each starts from the state at the first call and puts it back,
    so all give the same figures and the units' states are those before (to round-off);
    restore=False keeps the paper's protocol (states carry on), and the next pass differs."""
    from pygle_nest import checkpoint

    x, labels = task(12)
    net = network(eta=1e-2, eta_bias=1e-3, lanes=3, rate_lag=1)
    trainer = Trainer(net)
    trainer.train(x, labels, epochs=1, verbose=False)
    figures = [trainer.scores(x[:7], labels[:7]) for _ in range(3)]
    assert figures[0] == figures[1] == figures[2]
    before = checkpoint.state(net)
    trainer.evaluate(x[:7], labels[:7])
    after = checkpoint.state(net)
    for key in checkpoint.UNIT_STATES:
        np.testing.assert_allclose(after["unit_" + key], before["unit_" + key], rtol=0, atol=1e-14, err_msg=key)
    np.testing.assert_allclose(after["pending_inputs"], before["pending_inputs"], rtol=0, atol=1e-14)
    carried = [trainer.scores(x[:7], labels[:7], restore=False) for _ in range(2)]
    assert carried[0] == figures[0] and carried[1]["loss"] != carried[0]["loss"]


def test_a_frozen_projection_stays_frozen():
    """A projection declared with learning=False, and a model frozen by hand after build(),
    keep their weights through train, evaluate and scores; the others learn."""
    x, labels = task(6)
    nest.ResetKernel()
    nest.verbosity = nest.VerbosityLevel.ERROR
    net = pg.Network(resolution=0.1, seed=1)
    inp = net.input("x", 1)
    h = net.layer("h", [pg.Group(4, 1.0, 1.0)], activation="tanh")
    y = net.output("y", 2, loss="cross_entropy", beta=1.0)
    frozen = net.project(inp, h, optimizer="adam", eta=1e-2, learning=False)
    by_hand = net.project(h, y, optimizer="adam", eta=1e-2)
    net.build()
    nest.SetDefaults(by_hand.model, {"learning": False})
    nest.SetDefaults(by_hand.model + "_backward", {"learning": False})
    before = [p.get("weight", format="array") for p in (frozen, by_hand)]
    trainer = Trainer(net)
    trainer.train(x, labels, epochs=2, verbose=False)
    trainer.evaluate(x, labels)
    trainer.scores(x, labels)
    trainer.train(x, labels, epochs=1, verbose=False)
    for p, b in zip((frozen, by_hand), before):
        np.testing.assert_array_equal(p.get("weight", format="array"), b)
    assert nest.GetDefaults(frozen.model, "learning") is False
    nest.SetDefaults(by_hand.model, {"learning": True})
    nest.SetDefaults(by_hand.model + "_backward", {"learning": True})
    trainer.train(x, labels, epochs=1, verbose=False)
    assert not np.array_equal(by_hand.get("weight", format="array"), before[1])


@pytest.mark.parametrize("labels, message", [
    ([0, 1, 5], r"labels must be integers in \[0, 1\] \(the 2 outputs of 'y'\); got values from 0 to 5"),
    ([0, 1], r"labels must hold one class per sample \(3 samples\)"),
])
def test_bad_labels_are_named(labels, message):
    x, _ = task(3)
    trainer = Trainer(network())
    for call in (trainer.train, trainer.evaluate):
        with pytest.raises(ValueError, match=message):
            call(x, labels)


def test_plateau_schedule_reduces_after_patience():
    """As PyTorch's ReduceLROnPlateau (mode min, relative threshold 1e-4, no cooldown)."""
    schedule = PlateauSchedule(1e-3, patience=2, factor=0.5)
    losses = [1.0, 0.9, 0.95, 0.95, 0.95, 0.8, 0.85, 0.89995, 0.85, 0.7]
    rates = [schedule.step(loss) for loss in losses]
    assert rates == [1e-3, 1e-3, 1e-3, 1e-3, 5e-4, 5e-4, 5e-4, 5e-4, 2.5e-4, 2.5e-4]
    with pytest.raises(ValueError, match=r"factor must be in \(0, 1\)"):
        PlateauSchedule(1e-3, factor=1.5)


def test_a_simulation_between_trainer_and_training_is_no_stale_clock():
    """The Trainer reads the kernel's step when it presents a batch: a Simulate in between moves
    the inputs with it (before, they were scheduled in the past: outputs exactly 0, loss ln 2)."""
    x, labels = task(4)
    net = network()
    trainer = Trainer(net)
    nest.Simulate(5.0)
    sums, costs = trainer.run(x, np.eye(2)[labels])
    assert np.all(np.abs(sums) > 1e-3) and not np.allclose(costs, np.log(2))


def test_the_running_readout_mean_is_causal_and_label_free():
    """running_centred_accuracy: each batch's summed outputs minus the running mean (decay per
    batch) of the earlier batches' own outputs, whatever their labels; computed by hand from
    the summed outputs of two passes; restored with the units by scores(restore=True)."""
    x, labels = task(9)
    net = network(eta=1e-2, lanes=3)
    trainer = Trainer(net, readout_decay=0.5)
    sums, _ = trainer.run(x[:6], np.eye(2)[labels[:6]])
    mean = 0.5 * sums[:3].mean(axis=0) + 0.5 * sums[3:6].mean(axis=0)
    np.testing.assert_allclose(trainer.centred_sums, np.r_[sums[:3], sums[3:6] - sums[:3].mean(axis=0)])
    np.testing.assert_allclose(trainer.readout_mean, mean)
    scores = trainer.scores(x[6:], labels[6:])
    test, _ = trainer.run(x[6:], np.eye(2)[labels[6:]], train=False)  # from the restored state
    np.testing.assert_allclose(trainer.centred_sums, test - mean, rtol=0, atol=1e-12)
    assert scores["running_centred_accuracy"] == np.mean(np.argmax(test - mean, axis=1) == labels[6:])
    with pytest.raises(ValueError, match=r"readout_decay must be in \[0, 1\); got 1.5"):
        Trainer(net, readout_decay=1.5)
