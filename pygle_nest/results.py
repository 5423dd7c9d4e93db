"""Writing results (figures, JSON metrics, arrays) atomically: a reader never sees a half-written file."""

import json
from pathlib import Path


def _atomic(path, write):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial" + path.suffix)
    write(partial)
    partial.replace(path)
    return path


def write_figure(fig, path, dpi=110):
    """Save a matplotlib figure to path (PNG) and close it."""
    import matplotlib.pyplot as plt

    _atomic(path, lambda p: fig.savefig(p, dpi=dpi))
    plt.close(fig)
    return Path(path)


def write_arrays(path, **arrays):
    """Write NumPy arrays to path (.npz)."""
    import numpy as np

    return _atomic(path, lambda p: np.savez(p, **arrays))


def write_json(obj, path):
    """Write obj as indented JSON to path."""
    return _atomic(path, lambda p: p.write_text(json.dumps(obj, indent=2)))


def pyplot():
    """matplotlib.pyplot with a backend that needs no display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
