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
#: Receptor types (continuous input ports) of gle_neuron.
RECEPTORS = {"fwd": 0, "bwd": 1, "target": 2, "softmax_self": 3, "softmax_sum": 4}
#: The two output channels of gle_neuron and the NEST connection model that carries each.
CHANNEL_CONNECTIONS = {"rate": "rate_connection_delayed", "error": "eprop_learning_signal_connection"}

#: Defaults of gle_neuron (times in ms).
DEFAULTS = {"tau_m": 10.0, "tau_r": 10.0, "bias": 0.0, "gamma": 0.0, "beta": 0.0,
            "activation": "linear", "loss": "squared_error"}


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

    Values may be scalars or one value per unit. Unknown keys raise ValueError.
    """
    unknown = set(params) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown gle_neuron parameter(s) {sorted(unknown)}; allowed: {', '.join(DEFAULTS)}")
    out = dict(params)
    for name in ("tau_m", "tau_r"):
        if name in out:
            check_time_constant(name, out[name], resolution)
    if "beta" in out and np.any(np.asarray(out["beta"], dtype=float) < 0):
        raise ValueError(f"beta must be >= 0; got {out['beta']}")
    for name in ("bias", "gamma", "beta"):
        if name in out and not np.all(np.isfinite(np.asarray(out[name], dtype=float))):
            raise ValueError(f"{name} must be finite; got {out[name]}")
    if "activation" in out:
        out["activation"] = code(ACTIVATIONS, out["activation"], "activation")
    if "loss" in out:
        out["loss"] = code(LOSSES, out["loss"], "loss")
    return out
