"""Random GLE networks for the exactness tests: every activation, mixed time-constant groups."""

import numpy as np

from pygle_nest import ACTIVATIONS, NetworkSpec

RESOLUTION = 0.1
# (tau_m, tau_r) in ms: instantaneous, retrospective, prospective
TAU_GROUPS = [(1.0, 1.0), (1.0, 0.4), (0.5, 1.0)]


def _mixed_units(spec, rng, n, **params):
    """n units cycling through the time-constant groups and all activations."""
    groups = np.arange(n) % len(TAU_GROUPS)
    tau_m, tau_r = np.array(TAU_GROUPS)[groups].T
    activation = np.array(list(ACTIVATIONS))[rng.permutation(np.arange(n) % len(ACTIVATIONS))]
    return spec.add_units(n, tau_m=tau_m, tau_r=tau_r, activation=activation,
                          bias=rng.normal(0, 0.2, n), **params)


def _streams(spec, rng, n_streams, n_steps):
    t = np.arange(n_steps) * spec.resolution
    freq = rng.uniform(0.2, 2.0, n_streams)
    phase = rng.uniform(0, 2 * np.pi, n_streams)
    return spec.add_streams(np.sin(freq[:, None] * t[None, :] + phase[:, None]))


def _lane_inputs(spec, rng, units, n_steps):
    """Each lane its own input: sines of lane-specific frequency and phase into the units."""
    t = np.arange(n_steps)[:, None] * spec.resolution
    for unit in units:
        freq, phase = rng.uniform(0.2, 2.0, spec.lanes), rng.uniform(0, 2 * np.pi, spec.lanes)
        spec.set_lane_inputs(unit, np.sin(freq * t + phase))


def layered(seed, sizes=(14, 14, 14, 14, 6), fwd_delay=1, bwd_delay=1, n_steps=2000, plasticity=None,
            unit_learning=None, feedback="transposed", stream_delay=1, lanes=1):
    """Layers connected all-to-all forward (rate) and backward (error); the last layer is an
    output layer: half squared error, half cross-entropy with softmax, with targets.

    plasticity: common properties of a plastic gle_synapse copy for the forward connections
    (None: static); its backward twin carries the errors when feedback is "transposed";
    feedback "random" sends them through fixed random weights B instead.
    unit_learning: eta_bias / eta_tau / tau_m_min of the hidden units.
    lanes > 1: the first layer's first four units get lane inputs too.
    """
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=RESOLUTION, lanes=lanes)
    fwd_model, bwd_model = "rate_connection_delayed", "eprop_learning_signal_connection"
    if plasticity is not None:
        fwd_model = spec.add_synapse_model("plastic", **plasticity)
        bwd_model = fwd_model + "_backward" if feedback == "transposed" else bwd_model
    layers = [_mixed_units(spec, rng, n, gamma=rng.choice([0.0, 0.1]), **(unit_learning or {}))
              for n in sizes[:-1]]
    n_out = sizes[-1]
    half = n_out // 2
    out_se = spec.add_units(half, tau_m=1.0, tau_r=1.0, activation="tanh", beta=0.5)
    out_ce = spec.add_units(n_out - half, tau_m=1.0, tau_r=1.0, activation="linear", beta=0.5,
                            loss="cross_entropy")
    layers.append(np.concatenate([out_se, out_ce]))
    streams = _streams(spec, rng, 3, n_steps)
    pre, post = np.meshgrid(streams, layers[0], indexing="ij")
    spec.connect_stream(pre.ravel(), post.ravel(), rng.normal(0, 1.0, pre.size), delay=stream_delay)
    for below, above in zip(layers[:-1], layers[1:]):
        pre, post = np.meshgrid(below, above, indexing="ij")
        w = rng.normal(0, 1.0 / np.sqrt(len(below)), pre.size)
        b = w if feedback == "transposed" else rng.normal(0, 1.0 / np.sqrt(len(below)), pre.size)
        spec.connect(pre.ravel(), post.ravel(), w, delay=fwd_delay, synapse=fwd_model)
        spec.connect(post.ravel(), pre.ravel(), b, delay=bwd_delay, synapse=bwd_model, port="bwd")
    targets = _streams(spec, rng, n_out, n_steps)
    spec.connect_stream(targets[:half], out_se, 1.0, delay=stream_delay, port="target")
    t = np.arange(n_steps) * spec.resolution
    logits = np.sin(0.3 * t[None, :] + np.arange(len(out_ce))[:, None])
    soft = spec.add_streams(np.exp(logits) / np.exp(logits).sum(axis=0))  # smooth class targets
    spec.connect_stream(soft, out_ce, 1.0, delay=stream_delay, port="target")
    pre, post = np.meshgrid(out_ce, out_ce, indexing="ij")
    spec.connect(out_ce, out_ce, 1.0, delay=fwd_delay, port="softmax_self")
    spec.connect(pre.ravel(), post.ravel(), 1.0, delay=fwd_delay, port="softmax_sum")
    if lanes > 1:
        _lane_inputs(spec, rng, layers[0][:4], n_steps)
    return spec


def recurrent(seed, n=60, p=0.12, max_delay=5, n_steps=2000, lanes=1):
    """Sparse random recurrence on both channels with random delays of 1..max_delay steps;
    lanes > 1: lane inputs into six units."""
    rng = np.random.default_rng(seed)
    spec = NetworkSpec(resolution=RESOLUTION, lanes=lanes)
    units = _mixed_units(spec, rng, n, gamma=0.1, beta=rng.choice([0.0, 0.2], n))
    rate, error = "rate_connection_delayed", "eprop_learning_signal_connection"
    for synapse, port in ((rate, "fwd"), (error, "bwd")):
        mask = rng.random((n, n)) < p
        pre, post = np.nonzero(mask)
        spec.connect(units[pre], units[post], rng.normal(0, 0.25 / np.sqrt(p * n), pre.size),
                     delay=rng.integers(1, max_delay + 1, pre.size), synapse=synapse, port=port)
    streams = _streams(spec, rng, 4, n_steps)
    spec.connect_stream(np.repeat(streams, n // 4), units[rng.permutation(n)[: 4 * (n // 4)]],
                        rng.normal(0, 1.0, 4 * (n // 4)), delay=rng.integers(1, max_delay + 1, 4 * (n // 4)))
    targets = _streams(spec, rng, 1, n_steps)
    spec.connect_stream(np.repeat(targets, n), units, 1.0, delay=2, port="target")
    if lanes > 1:
        _lane_inputs(spec, rng, units[:6], n_steps)
    return spec


def diverging_network(eta=1e6, unit_params=None):
    """In the current kernel: two linear units learning a target with a plain rule far too fast
    (NaN within 10 ms at eta = 1e6)."""
    import nest

    nest.SetDefaults("gle_synapse", {"eta": eta})
    nest.SetDefaults("gle_synapse_backward", {"eta": eta})
    drive = nest.Create("step_rate_generator", params={"amplitude_times": [0.1], "amplitude_values": [1.0]})
    x = nest.Create("gle_neuron", params={"tau_m": 1.0, "tau_r": 1.0, **(unit_params or {})})
    y = nest.Create("gle_neuron", params={"tau_m": 1.0, "tau_r": 1.0, "beta": 1.0})
    rate = {"synapse_model": "rate_connection_delayed", "delay": 0.1}
    nest.Connect(drive, x, syn_spec=rate)
    nest.Connect(drive, y, syn_spec={**rate, "receptor_type": 2, "weight": 5.0})
    nest.Connect(x, y, syn_spec={"synapse_model": "gle_synapse", "delay": 0.1, "weight": 0.5})
    nest.Connect(y, x, syn_spec={"synapse_model": "gle_synapse_backward", "delay": 0.1, "weight": 0.5,
                                 "receptor_type": 1})
    return x, y
