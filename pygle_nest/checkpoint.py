"""Checkpoints of a built network: the states of every GLE connection (weights, optimizer
states, held values), the learned and dynamic states of every unit, the inputs on their way,
the number of steps run, and the position in the data.

A checkpoint is a folder (layout 7)::

    manifest.json                    layout, the network's signature, the position, the ranks
                                     and threads it was written at, its version and its blocks
    <version>/units.npz              the units' states, parameters, pending inputs and last
                                     values sent, the connection models' common properties, the
                                     steps run (and the same of a test pass: test_*)
    <version>/r<R>-t<T>-<model>.<column>.npy
                                     per block (the connections of one model on thread T of
                                     rank R): source, target, port, delay, states, held

Every rank writes its own blocks, in parallel and chunk by chunk, straight from NEST
(pygle_nest.bulk: no Python object per connection); rank 0 the units, then the manifest, which
it replaces atomically: the checkpoint is the version its manifest names, complete before the
manifest names it; older versions are removed after. Loading takes a network built the same way
in a fresh kernel, at any number of ranks and threads: at the layout it was written at, each
block is read back in order (bit for bit); at another, connections are matched by (source,
target, port), where several share those (multapses) in the order NEST keeps them. NEST sorts
a thread's connections by source with random pivots (``std::rand``), so that another build
(another layout, or a second build in one process) may order multapses otherwise: they then
exchange their states, which is exact where they share the delay too, but for the order of
their sums into the target (round-off); a same-layout load in a fresh process, as ``train
--resume`` makes, sorts as the saved kernel did and reads back in order. The loaded network
continues as the saved one would have:

- NEST delivers the values of the last min_delay slice (or of a partly run slice) only at the
  start of its next call; the checkpoint delivers them itself, in the module
  (``nestml_models/cpp/pygle_bulk.h``: each connection's own code on a copy of it, in NEST's
  order, with the common properties that its model had while those steps ran): the copies'
  states are saved and what they transmit is added to the units' pending inputs.
- the hyperparameters in force are read from NEST, not from the spec, and set again on load:
  the plastic models' common properties and the units' parameters (a learning rate lowered by
  a schedule, a momentum or ``learning`` set by hand after ``build()``);
- the units' pending inputs (delays > 1 step, stream values) are saved and put back, and so
  are the values they sent in the last step (lanes and units alike);
- Adam's step count continues (``step_offset`` of units and plastic models);
- the network's input streams, lane inputs and spike trains continue where they were (spikes
  already emitted are among the pending inputs).

A test pass does not learn, so the state kept for it (``test_state`` of save) holds the units
only and shares the connections' states with the end state.
"""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from . import bulk
from .nest_backend import stream_amplitudes
from .parallel import allgather, barrier, num_processes, rank, sum_over_ranks
from .results import write_arrays, write_json
from .network import FIELD_TYPES, UNIT_FIELDS
from .parameters import RECEPTORS, SYNAPSE_DEFAULTS
from .reference import RECORDABLES

#: The layout of the checkpoints written here; one of another layout is refused with a message.
FORMAT = 7

#: gle_neuron states saved (all but the per-step inputs, which are recomputed every step).
UNIT_STATES = tuple(k for k in RECORDABLES if k not in ("I_fwd", "I_bwd", "y"))
#: gle_neuron parameters saved as NEST has them (tau_m and bias are states).
UNIT_PARAMETERS = tuple(k for k in UNIT_FIELDS if k not in UNIT_STATES)
#: gle_synapse common properties saved as NEST has them (step_offset is set from the steps run).
SYNAPSE_PARAMETERS = tuple(SYNAPSE_DEFAULTS)
_TYPES = {**FIELD_TYPES, "learning": bool, "rate_lag": int}
#: Connections per chunk read from NEST and written to a file (bounds the memory a save takes).
CHUNK = 1 << 20
#: The columns of a block in a checkpoint.
COLUMNS = bulk.COLUMNS + ("states", "held")


def _plastic(spec):
    models = spec.model_list()
    return np.flatnonzero([models[m].plastic for m in spec.connections["model"]])


def _digest(*arrays):
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()[:16]


def _signature(spec):
    """What identifies a network: sizes, and fingerprints of its units' parameters (as declared),
    its connections (pairs, ports, delays, models) and its connection models' settings."""
    c = spec.connections
    return {"units": spec.n_units, "lanes": spec.lanes, "connections": len(c["pre"]),
            "resolution": spec.resolution, "plastic": len(_plastic(spec)),
            "unit parameters": {k: _digest(v) for k, v in spec.units.items()},
            "connection pairs": _digest(c["pre"], c["post"], c["port"], c["delay"], c["model"]),
            "connection models": {m.name: json.dumps(m.params, sort_keys=True) for m in spec.model_list()}}


def _differences(saved, built):
    """What differs between two signatures, in words."""
    out = []
    for key in saved.keys() | built.keys():
        a, b = saved.get(key), built.get(key)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            names = sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
            out.append(f"{key} ({', '.join(names)})")
        elif isinstance(a, (int, float)) and isinstance(b, (int, float)):
            out.append(f"{key} ({a} saved, {b} here)")
        else:
            out.append(key)
    return "; ".join(sorted(out))


def state(net, connections=True):
    """The state a checkpoint holds, {name: array} (see the module docstring), on every rank.
    Per-lane unit states are lanes x units (units with one lane). connections: with
    ``conn_<model>`` (the states of the model's connections, ordered by source, target and port,
    gathered from all ranks) and ``conn_<model>_held``: for comparisons, small networks only."""
    collected = {}
    out = _snapshot(net, (lambda block, first, got: collected.setdefault(block.model, []).append(got))
                    if connections else None)[0]
    everywhere = {}
    for parts in allgather(collected):
        for model, chunks in parts.items():
            everywhere.setdefault(model, []).extend(chunks)
    for model, chunks in sorted(everywhere.items()):
        joined = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
        order = np.lexsort((joined["port"], joined["target"], joined["source"]))
        out["conn_" + model] = joined["states"][order]
        if "held" in joined:
            out["conn_" + model + "_held"] = joined["held"][order]
    return out


def restore(net, saved):
    """Put a network back, in the kernel that it runs in, into a state of :func:`state` taken
    earlier in that kernel: its units' states, the inputs on their way and the values they sent
    last; weights and optimizer states stay as they are. NEST adds the values that it has not
    delivered yet (the last slice of the calls since) at the start of its next call, so they are
    taken off the pending inputs set here: the next call starts from the saved state, to
    round-off (1e-15)."""
    nest_net = getattr(net, "nest", net)
    _, delivered = _snapshot(nest_net)
    units = _unit_states(saved)
    nest_net.set_unit_states({"pending_inputs": saved["pending_inputs"] - delivered, "last_sent": saved["last_sent"],
                              **units})


def _unit_states(saved):
    """The saved unit states as NestNetwork.set_unit_states takes them (per lane: units x lanes)."""
    return {k: saved["unit_" + k].T if saved["unit_" + k].ndim == 2 else saved["unit_" + k] for k in UNIT_STATES}


def _snapshot(net, sink=None):
    """The units' part of state(net), and what the values NEST has not delivered yet add to their
    pending inputs (units x ports, steps and lanes, as pending_inputs). sink(block, first,
    columns): called with the states of every chunk of this rank's connections after that
    delivery (None: the connections are delivered, not read)."""
    import nest

    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    n, lanes = spec.n_units, spec.lanes
    channels = ("sent_rates", "sent_errors", "sent_before", "sent_errors_before", "last_sent")
    status = nest_net.unit_status(UNIT_STATES + UNIT_PARAMETERS + channels + ("pending_inputs",))
    units = nest_net.unit_states(UNIT_STATES, status)
    channels = nest_net.unit_arrays(channels, status)
    unsent = channels["sent_rates"].shape[1] // lanes
    kernel_steps = int(round(nest.biological_time / spec.resolution))
    pending = nest_net.pending_inputs(status)  # no steps before the first Simulate
    ahead = max(pending.shape[2], spec.max_delay)
    pending = np.ascontiguousarray(np.pad(pending, ((0, 0), (0, 0), (0, ahead - pending.shape[2]), (0, 0))))
    before = pending.copy()

    def sent(now, earlier):  # units x (the step before, then the unsent steps) x lanes
        first = channels[earlier] if kernel_steps else np.zeros((n, lanes))
        return np.ascontiguousarray(np.concatenate([first.reshape(n, 1, lanes), channels[now].reshape(n, unsent, lanes)],
                                                   axis=1))

    rates, errors = sent("sent_rates", "sent_before"), sent("sent_errors", "sent_errors_before")
    ids = nest_net.unit_ids
    row_of_node = np.full(ids.max() + 1, -1, dtype=np.int_)
    row_of_node[ids] = np.arange(n)
    delivery = bulk.Delivery(kernel_steps - unsent, unsent, lanes, row_of_node.ctypes.data, len(row_of_node),
                             rates.ctypes.data, errors.ctypes.data, pending.ctypes.data, len(RECEPTORS), ahead)
    for block in bulk.blocks():
        for first in range(0, block.size, CHUNK):
            got = bulk.read(block, first, min(CHUNK, block.size - first), columns=COLUMNS if sink else (),
                            lanes=lanes, delivery=delivery)
            if sink is not None:
                sink(block, first, got)
    if num_processes() > 1:  # each rank delivered to its own units: take each unit's row from its rank
        # this rank's units: those whose status it holds (NEST gives None for the others)
        local = np.array([v is not None for v in status["pending_inputs"]], dtype=bool)
        pending[~local] = 0.0
        pending = sum_over_ranks(pending)
    last = np.concatenate([rates[:, -1], errors[:, -1]], axis=1)  # what the units sent in the last step
    if channels["last_sent"].size:  # set (restore, load) and not yet taken by a Simulate
        last = channels["last_sent"]
    return {"steps": np.array(nest_net.steps), "pending_inputs": pending.reshape(n, -1), "last_sent": last,
            **{"unit_" + k: v for k, v in units.items()},
            **{"param_" + k: v for k, v in nest_net.unit_states(UNIT_PARAMETERS, status).items()},
            **{"model_" + model.name: np.array([nest.GetDefaults(model.name, k) for k in SYNAPSE_PARAMETERS], dtype=float)
               for model in spec.model_list() if model.plastic}}, (pending - before).reshape(n, -1)


def _write_npy_header(f, dtype, shape):
    np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                             "fortran_order": False, "shape": tuple(shape)})


#: How the columns of connections are stored (node ids below 2^32, receptors below 256, delays
#: below 2^32 steps: what _key and NEST's connections allow).
_STORED = {"source": np.uint32, "target": np.uint32, "port": np.uint8, "delay": np.uint32}


class _Blocks:
    """The sink of a save: writes each chunk of a block to its .npy files as it comes, in a
    thread of its own while NEST's next chunk is read (both release the GIL), one chunk ahead at
    most; plain writes, not memory maps, so that the pages written do not count in the process's
    memory."""

    def __init__(self, folder):
        from concurrent.futures import ThreadPoolExecutor

        self.folder, self.files, self.records = folder, {}, []
        self.writer, self.pending = ThreadPoolExecutor(1), None

    def __call__(self, block, first, got):
        for k, v in got.items():
            if k in _STORED and v.size and v.max() > np.iinfo(_STORED[k]).max:
                raise ValueError(f"a connection's {k} of {v.max()} is beyond what a checkpoint stores "
                                 f"({np.iinfo(_STORED[k]).max})")
        chunk = {k: np.ascontiguousarray(v, dtype=_STORED.get(k, v.dtype)) for k, v in got.items()}
        self._wait()
        if first == 0:
            stem = f"r{rank()}-t{block.thread}-{block.model}"
            self._close_files()
            for k, v in chunk.items():
                f = open(self.folder / f"{stem}.{k}.npy", "wb")
                _write_npy_header(f, v.dtype, (block.size,) + v.shape[1:])
                self.files[k] = f
            self.records.append({"rank": rank(), "thread": block.thread, "model": block.model, "size": block.size,
                                 "states": list(block.states), "stem": stem, "columns": sorted(got)})
        files = dict(self.files)
        self.pending = self.writer.submit(lambda: [files[k].write(v.data) for k, v in chunk.items()])

    def _wait(self):
        if self.pending is not None:
            self.pending.result()  # its error, if any, here
            self.pending = None

    def _close_files(self):
        for f in self.files.values():
            f.close()
        self.files = {}

    def close(self):
        try:
            self._wait()
        finally:
            self._close_files()
            self.writer.shutdown()


def save(net, path, position=None, test_state=None):
    """Write the checkpoint of a built Network (or NestNetwork) to the folder path (created, or
    replaced atomically); position: what the caller needs to continue (epoch, sample, ...),
    stored as JSON. test_state: a state of :func:`state` (without connections) that the
    checkpoint keeps as well, the one a test pass started from (load with at="test").
    Called on every rank."""
    import nest

    nest_net = getattr(net, "nest", net)
    path = Path(path)
    if path.is_file():
        raise ValueError(f"{path} is a file; a checkpoint is a folder (name another path, or remove the file)")
    manifest = path / "manifest.json"
    previous = json.loads(manifest.read_text()) if manifest.exists() else {}
    version = f"{int(previous.get('version', 0)) + 1:06d}"
    barrier()  # every rank has read the previous manifest before rank 0 replaces it
    folder = path / version
    folder.mkdir(parents=True, exist_ok=True)
    sink = _Blocks(folder)
    try:
        saved = _snapshot(nest_net, sink)[0]
    finally:
        sink.close()
    blocks = [record for records in allgather(sink.records) for record in records]
    if rank() == 0:
        saved.update({"test_" + k: v for k, v in (test_state or {}).items() if not k.startswith("conn_")})
        write_arrays(folder / "units.npz", **saved)
        write_json({"format": FORMAT, "signature": _signature(nest_net.spec), "position": position,
                    "version": version, "ranks": num_processes(), "threads": nest.local_num_threads,
                    "test_state": test_state is not None, "blocks": blocks}, manifest)
        for old in path.iterdir():
            if old.is_dir() and old.name != version:
                shutil.rmtree(old, ignore_errors=True)
    barrier()


NOT_A_CHECKPOINT = "is not a pygle-nest checkpoint (a folder written by pygle_nest.checkpoint.save or train)"


def _manifest(path):
    """The checkpoint's manifest; a ValueError for anything that is not a checkpoint of this
    layout (before anything reads its position: a position of another layout may lack what
    this version needs)."""
    path = Path(path)
    if path.is_file():
        try:
            with np.load(path) as data:
                meta = json.loads(str(data["meta"])) if "meta" in data.files else None
        except (OSError, ValueError, TypeError):
            meta = None
        if meta is None:
            raise ValueError(f"{path} {NOT_A_CHECKPOINT}")
        raise ValueError(f"the checkpoint {path} is a single file of layout {meta.get('format', 1)} (pygle-nest "
                         f"before checkpoint folders); this version reads layout {FORMAT}: continue that run "
                         f"with the version that wrote it, or start it again")
    try:
        meta = json.loads((path / "manifest.json").read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path} {NOT_A_CHECKPOINT}: {err}") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"the checkpoint {path} has the layout {meta.get('format', 1)}; this version of "
                         f"pygle-nest reads layout {FORMAT} (write it again with this version)")
    return meta


def position(path):
    """The position saved in a checkpoint, without loading it."""
    return _manifest(path)["position"]


def has_test_state(path):
    """Whether a checkpoint keeps the state of a test pass (see save)."""
    return _manifest(path)["test_state"]


def arrays(path):
    """A checkpoint's arrays, read without NEST: the units' (as :func:`state` gives them), and per
    connection model ``<model>`` the connections of all ranks ordered by source, target and port:
    {"source", "target", "port", "delay", "states", "held" (where kept)} and "state_names".
    All of it in memory: for analysis and comparisons."""
    path = Path(path)
    meta = _manifest(path)
    folder = path / meta["version"]
    with np.load(folder / "units.npz") as data:
        out = {k: data[k] for k in data.files}
    for model in sorted({r["model"] for r in meta["blocks"]}):
        records = [r for r in meta["blocks"] if r["model"] == model]
        joined = {}
        for column in COLUMNS:
            if column in records[0]["columns"]:
                parts = []
                for r in records:
                    f = _Npy(folder / f"{r['stem']}.{column}.npy")
                    parts.append(f.read())
                    f.close()
                joined[column] = np.concatenate(parts)
        order = np.lexsort((joined["port"], joined["target"], joined["source"]))
        out[model] = {**{k: v[order] for k, v in joined.items()}, "state_names": records[0]["states"]}
    return out


class _Npy:
    """Rows of a .npy file read with plain reads (no memory map: what is read once does not stay
    in the process's memory)."""

    def __init__(self, path):
        self.path, self.f = path, open(path, "rb")
        header = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        self.shape, _, self.dtype = header[np.lib.format.read_magic(self.f)](self.f)
        self.offset = self.f.tell()
        self.row = int(np.prod(self.shape[1:], dtype=int))

    def read(self, first=0, count=None):
        count = self.shape[0] - first if count is None else count
        self.f.seek(self.offset + first * self.row * self.dtype.itemsize)
        return np.fromfile(self.f, dtype=self.dtype, count=count * self.row).reshape((count,) + tuple(self.shape[1:]))

    def take(self, rows):
        """Rows in any order (through a memory map)."""
        return np.load(self.path, mmap_mode="r")[rows]

    def close(self):
        self.f.close()


def _key(source, target, port):
    """One integer per connection for (source, target, port)."""
    if len(source) and (max(source.max(), target.max()) >= 1 << 27 or port.max() >= 1 << 8):
        raise ValueError("node ids of 2^27 and more or receptors of 256 and more do not fit the key of a checkpoint")
    return (source.astype(np.int64) << 36) | (target.astype(np.int64) << 8) | port.astype(np.int64)


def _load_blocks(folder, meta, lanes):
    """Set this rank's connections to the checkpoint's."""
    import nest

    saved = meta["blocks"]
    same_layout = meta["ranks"] == num_processes() and meta["threads"] == nest.local_num_threads
    matched = {}  # per model: the saved connections sorted by key, for another layout

    def columns(record, which):
        return {k: _Npy(folder / f"{record['stem']}.{k}.npy") for k in which if k in record["columns"]}

    here = bulk.blocks()
    counts = {}
    for blocks in allgather([(b.model, b.size) for b in here]):
        for model, size in blocks:
            counts[model] = counts.get(model, 0) + size
    for model in sorted(counts.keys() | {r["model"] for r in saved}):
        kept = sum(r["size"] for r in saved if r["model"] == model)
        if kept != counts.get(model, 0):
            raise ValueError(f"the checkpoint {folder.parent} holds {kept} connections of {model!r}, this network "
                             f"{counts.get(model, 0)}")
    for block in here:
        candidates = [r for r in saved if r["model"] == block.model]
        if not candidates:
            raise ValueError(f"the checkpoint {folder.parent} holds no connections of {block.model!r}, "
                             f"which this network has")
        if any(r["states"] != list(block.states) for r in candidates):
            raise ValueError(f"the checkpoint {folder.parent} keeps other states of {block.model!r} "
                             f"({candidates[0]['states']}) than this module ({list(block.states)})")
        same = [r for r in candidates if same_layout and r["rank"] == rank() and r["thread"] == block.thread
                and r["size"] == block.size]
        if same and _load_in_order(block, columns(same[0], COLUMNS), lanes):
            continue
        if block.model not in matched:
            matched[block.model] = _sorted_connections(candidates, columns)
        _load_by_key(block, matched[block.model], columns, lanes)


def _load_in_order(block, files, lanes):
    """Copy a block saved at this layout, chunk by chunk, after checking that its connections
    are the same in the same order; False (nothing written) where they are not."""
    try:
        for first in range(0, block.size, CHUNK):
            count = min(CHUNK, block.size - first)
            here = bulk.read(block, first, count, columns=("source", "target", "port"))
            if any(not np.array_equal(here[k], files[k].read(first, count)) for k in here):
                return False
        for first in range(0, block.size, CHUNK):
            count = min(CHUNK, block.size - first)
            bulk.write(block, files["states"].read(first, count),
                       files["held"].read(first, count) if "held" in files else None, first=first)
        return True
    finally:
        for f in files.values():
            f.close()


def _sorted_connections(records, columns):
    """The saved connections of one model (all ranks' blocks): their keys sorted (stable: where
    several share a key, in the order NEST keeps them), and where each sits (block, row)."""
    keys, where = [], []
    for b, record in enumerate(records):
        files = columns(record, ("source", "target", "port"))
        keys.append(_key(*(files[k].read() for k in ("source", "target", "port"))))
        where.append(np.stack([np.full(record["size"], b), np.arange(record["size"])], axis=1))
        for f in files.values():
            f.close()
    keys, where = np.concatenate(keys), np.concatenate(where)
    order = np.argsort(keys, kind="stable")
    return records, keys[order], where[order]


def _load_by_key(block, matched, columns, lanes):
    """Set a block's connections to the saved ones of the same (source, target, port), the k-th
    of several sharing them to the k-th saved."""
    records, keys, where = matched
    here = bulk.read(block, columns=("source", "target", "port"))
    mine = _key(here["source"], here["target"], here["port"])
    order = np.argsort(mine, kind="stable")
    sorted_mine = mine[order]
    occurrence = np.arange(len(mine)) - np.searchsorted(sorted_mine, sorted_mine, side="left")
    pos = np.searchsorted(keys, sorted_mine, side="left") + occurrence
    found = pos < len(keys)
    found[found] = keys[pos[found]] == sorted_mine[found]
    if not np.all(found):
        k = order[np.flatnonzero(~found)[0]]
        raise ValueError(f"the checkpoint holds no connection {block.model!r} from node {here['source'][k]} to "
                         f"{here['target'][k]} (receptor {here['port'][k]}), which this network has")
    source, source_row = np.empty(block.size, dtype=int), np.empty(block.size, dtype=int)
    source[order], source_row[order] = where[pos, 0], where[pos, 1]  # per connection: saved block and row
    states = np.empty((block.size, len(block.states)))
    held = np.full((block.size, lanes), np.nan) if block.keeps_values else None
    for b in np.unique(source):
        rows = np.flatnonzero(source == b)
        files = columns(records[b], ("states", "held"))
        states[rows] = files["states"].take(source_row[rows])
        if held is not None and "held" in files:
            held[rows] = files["held"].take(source_row[rows])
        for f in files.values():
            f.close()
    bulk.write(block, states, held)


def load(net, path, at="end"):
    """Set a network freshly built in a fresh kernel (nothing simulated yet) to a checkpoint;
    returns the saved position. at="test": to the state kept for a test pass (see save).
    Called on every rank."""
    import nest

    nest_net = getattr(net, "nest", net)
    spec = nest_net.spec
    path = Path(path)
    if nest.biological_time != 0.0:
        raise ValueError("load a checkpoint into a freshly built network, before any simulation "
                         f"(the kernel is at {nest.biological_time} ms; call nest.ResetKernel() and build again)")
    meta = _manifest(path)
    if meta["signature"] != _signature(spec):
        raise ValueError(f"the checkpoint {path} is of another network; what differs: "
                         f"{_differences(meta['signature'], _signature(spec))}")
    if at not in ("end", "test"):
        raise ValueError(f"at must be 'end' or 'test'; got {at!r}")
    if at == "test" and not meta["test_state"]:
        raise ValueError(f"the checkpoint {path} holds no state of a test pass")
    folder = path / meta["version"]
    prefix = "test_" if at == "test" else ""
    with np.load(folder / "units.npz") as data:
        saved = {k[len(prefix):]: data[k] for k in data.files if k.startswith(prefix) and (prefix or not k.startswith("test_"))}
    # NEST sorts the connections by source when it prepares the first simulation: sorted now as
    # in the saved kernel, a block of the same layout is in the saved order and reads back in it
    nest.Prepare()
    nest.Cleanup()
    _load_blocks(folder, meta, spec.lanes)
    units = _unit_states(saved)
    params = {k: saved["param_" + k].astype(FIELD_TYPES.get(k, float)) for k in UNIT_PARAMETERS}
    nest_net.set_unit_states({"pending_inputs": saved["pending_inputs"], "last_sent": saved["last_sent"],
                              **params, **units})
    for model in spec.model_list():
        if model.plastic:
            values = saved["model_" + model.name]
            nest.SetDefaults(model.name, {k: _TYPES.get(k, float)(v) for k, v in zip(SYNAPSE_PARAMETERS, values)})
    steps = int(saved["steps"])
    nest_net.set_step_offset(steps)
    if nest_net.streams is not None:  # the spec's streams go on from step `steps`
        nest_net.streams.set([stream_amplitudes(x[min(steps, len(x) - 1):], spec.resolution) for x in spec.streams])
    for unit, (_, first_step, _) in spec.lane_inputs.items():  # and so do its lane inputs
        nest_net.units[unit].set({"lane_inputs_start": first_step - steps})
    for k, (_, times, _, _, counts) in enumerate(spec.spike_trains):  # and its spike trains
        stamps = np.round(times / spec.resolution).astype(int) - steps
        later = stamps >= 1  # the others were emitted and are on their way
        nest_net.spike_sources[k].set({"spike_times": np.round(stamps[later] * spec.resolution, 12).tolist(),
                                       "spike_multiplicities": counts[later].astype(int).tolist()})
    return meta["position"]
