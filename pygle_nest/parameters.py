"""Names, codes and allowed ranges of the gle_neuron parameters, shared by every part of the package.

The NESTML model takes integer codes for the activation and the loss; users write names.
Every check raises ValueError naming the parameter and its allowed range, before NEST is touched.
"""

import numbers

import numpy as np

#: Activation names and the codes of gle_neuron's ``activation`` parameter.
ACTIVATIONS = {"linear": 0, "tanh": 1, "sigmoid": 2, "softplus": 3, "relu": 4, "hard_sigmoid": 5}
#: Output costs and the codes of gle_neuron's ``loss`` parameter.
LOSSES = {"squared_error": 0, "cross_entropy": 1}
#: Receptor types (continuous input ports) of gle_neuron; spikes (SpikeEvent) go to "spikes" only.
RECEPTORS = {"fwd": 0, "bwd": 1, "target": 2, "softmax_self": 3, "softmax_sum": 4, "spikes": 5}
#: Roles of a gle_neuron (codes of its ``role`` parameter): a whole GLE unit, or, in an explicit
#: microcircuit, the representation neuron or the error neuron of a unit.
ROLES = {"unit": 0, "representation": 1, "error": 2}
#: Connection models between GLE units and the channel each carries (0 rate, 1 error):
#: NEST's static ones and the plastic gle_synapse with its backward twin, and their lagged
#: variants for microcircuits (they pair the values of the previous step).
SYNAPSE_CHANNELS = {"rate_connection_delayed": 0, "eprop_learning_signal_connection": 1,
                    "gle_synapse": 0, "gle_synapse_backward": 1,
                    "gle_synapse_lagged": 0, "gle_synapse_lagged_backward": 1}
PLASTIC_SYNAPSES = ("gle_synapse", "gle_synapse_backward", "gle_synapse_lagged", "gle_synapse_lagged_backward")
LAGGED_SYNAPSES = ("gle_synapse_lagged", "gle_synapse_lagged_backward")

#: Optimizers (of gle_synapse, and of gle_neuron's bias and tau_m) and their codes.
OPTIMIZERS = {"plain": 0, "momentum": 1, "adam": 2}
#: update_interval: steps per optimizer step (the increments of those steps summed; 1: every step);
#: update_average: the optimizer takes their mean instead (NEST e-prop's batch average).
OPTIMIZER_DEFAULTS = {"optimizer": "plain", "mu": 0.9, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8,
                      "update_interval": 1, "update_average": False}

#: Defaults of gle_neuron (times in ms).
DEFAULTS = {"tau_m": 10.0, "tau_r": 10.0, "bias": 0.0, "gamma": 0.0, "beta": 0.0,
            "activation": "linear", "loss": "squared_error", "eta_bias": 0.0, "eta_tau": 0.0,
            "tau_m_min": 0.0, "prospective_error": True, "role": "unit", "tau_s": 0.0, "rate_scale": 0.0,
            **OPTIMIZER_DEFAULTS}
#: Defaults of gle_synapse's common properties.
#: rate_lag: 0 pairs the rate of step n with the error of step n, 1 the rate of step n - 1 (the one
#: that entered the target's update at a delay of one step: the paper's scheme).
SYNAPSE_DEFAULTS = {"learning": True, "eta": 0.001, "rate_lag": 0, **OPTIMIZER_DEFAULTS}

_RANGES = {"eta": (lambda x: x >= 0, ">= 0"), "mu": (lambda x: (0 <= x) & (x < 1), "in [0, 1)"),
           "beta1": (lambda x: (0 <= x) & (x < 1), "in [0, 1)"),
           "beta2": (lambda x: (0 <= x) & (x < 1), "in [0, 1)"), "epsilon": (lambda x: x > 0, "> 0"),
           "beta": (lambda x: x >= 0, ">= 0"), "eta_bias": (lambda x: x >= 0, ">= 0"),
           "eta_tau": (lambda x: x >= 0, ">= 0"), "tau_m_min": (lambda x: x >= 0, ">= 0"),
           "tau_s": (lambda x: x >= 0, ">= 0 ms"), "rate_scale": (lambda x: x >= 0, ">= 0 (spikes/s per unit of r)"),
           "bias": (lambda x: x == x, "finite"), "gamma": (lambda x: x == x, "finite"),
           "rate_lag": (lambda x: (x == 0) | (x == 1), "0 or 1"),
           "update_interval": (lambda x: (x >= 1) & (x == np.round(x)), "an integer >= 1 (steps)")}


def _checked(params, defaults, what):
    """Unknown keys and values out of range raise ValueError naming the parameter and range."""
    unknown = set(params) - set(defaults)
    if unknown:
        raise ValueError(f"unknown {what} parameter(s) {sorted(unknown)}; allowed: {', '.join(defaults)}")
    out = dict(params)
    for name, (ok, allowed) in _RANGES.items():
        if name in out:
            value = np.asarray(out[name], dtype=float)
            if not (np.all(np.isfinite(value)) and np.all(ok(value))):
                raise ValueError(f"{name} must be {allowed}; got {out[name]}")
    for name, table in (("activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS), ("role", ROLES)):
        if name in out:
            out[name] = np.vectorize(lambda a: code(table, a, name), otypes=[int])(out[name])
            out[name] = out[name].item() if out[name].ndim == 0 else out[name]
    return out


def synapse_params(**params):
    """Checked gle_synapse common properties, codes instead of names."""
    out = _checked(params, SYNAPSE_DEFAULTS, "gle_synapse")
    for name in ("learning", "update_average"):
        if name in out:
            out[name] = bool(out[name])
    for name in ("rate_lag", "update_interval"):
        if name in out:
            out[name] = int(out[name])
    return out


def code(table, name, what):
    """Code of ``name`` in ``table``; a ValueError lists the allowed names."""
    if isinstance(name, numbers.Integral) and name in table.values():
        return int(name)
    if name not in table:
        raise ValueError(f"unknown {what} {name!r}; allowed: {', '.join(table)}")
    return table[name]


def check_time_constant(name, value, resolution):
    """Time constants must be finite and >= the simulation resolution."""
    value = np.asarray(value, dtype=float)
    if not np.all(np.isfinite(value)) or np.any(value < resolution):
        raise ValueError(f"{name} must be >= the resolution ({resolution} ms) and finite; "
                         f"got {value.min() if value.size else value}")


def unit_params(resolution, **params):
    """Checked gle_neuron parameters for nest.Create / SetStatus, codes instead of names.

    Values may be scalars or one value per unit.
    """
    out = _checked(params, DEFAULTS, "gle_neuron")
    for name in ("tau_m", "tau_r"):
        if name in out:
            check_time_constant(name, out[name], resolution)
    return out
