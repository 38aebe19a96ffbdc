"""Profiles, resumable multi-run sweeps and chapter records.

Three profiles size every experiment (book/design.md): ``smoke`` (CI, tiny), ``book`` (the rendered
book, the default) and ``thesis`` (the thesis's own sizes). A sweep runs one function over many
configurations in parallel processes and stores each finished run on disk, keyed by its
configuration, so an interrupted run resumes where it stopped. A chapter's headline numbers go into
a ``Record``, which the headless runner compares with a committed reference.
"""

import hashlib
import inspect
import json
import math
import os
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numba
import numpy as np
import torch
from joblib import Parallel, delayed
from tqdm import tqdm

from lib import cluster
from lib.checkpoints import Checkpoint
from lib.claims import make_claim
from lib.costs import seeds_per_model
from lib.data import DATA_READS, FETCH_HINT, identify_idx_files
from lib.identity import chapter_fingerprint, data_fingerprint, data_identity, function_fingerprint
from lib.nets import device as torch_device
from lib.profiles import PROFILES, ROOT, SCHEDULER_ENV, resolve_profile
from lib.training import progress_enabled


class BadInputs(ValueError):
    """Parameters a chapter cannot run with (a missing data folder, too little data)."""


THESIS_IMAGES = 50_000  # the thesis profile trains on full MNIST (lib.data.require_composites)


def check_inputs(profile, data_dir=None):
    """Stop, before any kernel starts, on data a chapter cannot run with: ``BadInputs`` with one
    line naming the problem (a folder that does not exist or holds no MNIST, or, at the
    ``thesis`` profile, data smaller than full MNIST). Returns the data identity."""
    try:
        ident = data_identity(data_dir)
    except FileNotFoundError as err:
        raise BadInputs(str(err)) from None
    if resolve_profile(profile) == "thesis" and ident["source"] == "bundled":
        raise BadInputs(
            f"the thesis profile needs full MNIST ({THESIS_IMAGES:,} training images) but the data "
            f"are the bundled 5,000-digit subset; {FETCH_HINT}"
        )
    return ident


def pick(profile, **by_profile):
    """Return the value given for ``profile``, e.g. ``pick(p, smoke=2, book=10, thesis=30)``."""
    profile = resolve_profile(profile)
    missing = set(PROFILES) - set(by_profile)
    unknown = set(by_profile) - set(PROFILES)
    if missing or unknown:
        raise ValueError(
            f"pick() needs exactly the profiles {sorted(PROFILES)}; "
            f"missing {sorted(missing)}, unknown {sorted(unknown)}"
        )
    return by_profile[profile]


def results_dir(profile):
    """``results/<profile>`` under the repository (or ``$BOOK_RESULTS_DIR``), created on demand."""
    base = Path(os.environ.get("BOOK_RESULTS_DIR", ROOT / "results"))
    path = base / resolve_profile(profile)
    path.mkdir(parents=True, exist_ok=True)
    return path


def jsonable(value):
    """Convert numpy scalars and arrays to plain JSON types."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


def json_safe(value):
    """``jsonable(value)`` with every NaN or infinity, however deep, as its string ("nan", "inf",
    "-inf"): strict JSON has no such numbers, and a record holds only what JSON can hold."""
    value = jsonable(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


def atomic_write(path, write):
    """Write through ``write(tmp_path)`` to a temporary file, then rename: never a half file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are for everyone to read
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def config_key(config):
    """A short stable hash of a configuration dict (its canonical JSON)."""
    text = json.dumps(jsonable(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save_run(path, config, result, provenance):
    """Store one finished run: arrays in ``.npz``; scalars, config and provenance in ``.json``."""
    if not isinstance(result, dict):
        raise TypeError(f"a sweep function must return a dict, got {type(result).__name__}")
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in result.items() if k not in arrays}
    if arrays:

        def write_npz(tmp):
            with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
                np.savez(f, **arrays)

        atomic_write(path.with_suffix(".npz"), write_npz)
    doc = {
        "config": jsonable(config),
        "result": jsonable(scalars),
        "arrays": sorted(arrays),
        "schema": run_schema(jsonable(scalars), arrays),
        **provenance,
    }
    # The .json is written last: its presence marks the run as complete.
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(doc)))


def _set_aside(path, err):
    """Move a stored run that cannot be read to ``*.corrupt`` and say which file and why."""
    moved = []
    for part in (path.with_suffix(".json"), path.with_suffix(".npz")):
        if part.exists():
            os.replace(part, part.with_name(part.name + ".corrupt"))
            moved.append(f"{part}.corrupt")
    message = (
        f"corrupt stored run {path.with_suffix('.json')} ({type(err).__name__}: {err}); "
        f"moved aside to {', '.join(moved)} and recomputed"
    )
    print(message, file=sys.stderr, flush=True)
    return message


def _kind(value):
    """The JSON kind of a stored scalar: number, bool, str, null, list or dict."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    kinds = {str: "str", type(None): "null", list: "list", dict: "dict"}
    return kinds.get(type(value), type(value).__name__)


def run_schema(scalars, arrays):
    """What a stored run holds: each scalar's kind, each array's dtype and shape."""
    return {
        "result": {k: _kind(v) for k, v in sorted(scalars.items())},
        "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in sorted(arrays.items())},
    }


class InvalidRun(ValueError):
    """A stored run that parses but does not hold what its schema says (keys, types, shapes)."""


def _expect(ok, what):
    if not ok:
        raise InvalidRun(what)


def _validate(doc, arrays):
    """Check a stored run's document and arrays against its schema; raise ``InvalidRun``."""
    _expect(isinstance(doc, dict), "the run is not a JSON object")
    for key, kind in (("config", dict), ("result", dict), ("arrays", list)):
        _expect(isinstance(doc.get(key), kind), f"{key!r} is missing or not a {kind.__name__}")
    _expect(isinstance(doc.get("code"), (str, type(None))), "'code' is not a fingerprint")
    _expect(set(doc["arrays"]) == set(arrays), f"arrays {sorted(arrays)} != listed {doc['arrays']}")
    schema = doc.get("schema")
    if schema is None:  # stored before runs carried a schema: the structure checks above only
        return
    _expect(isinstance(schema, dict), "'schema' is not an object")
    want, got = schema.get("result", {}), {k: _kind(v) for k, v in doc["result"].items()}
    _expect(set(want) == set(got), f"result keys {sorted(got)} != schema {sorted(want)}")
    bad = [f"{k} is {got[k]}, not {want[k]}" for k in sorted(want) if got[k] != want[k]]
    _expect(not bad, "; ".join(bad))
    for key, spec in schema.get("arrays", {}).items():
        a = arrays.get(key)
        _expect(a is not None, f"array {key!r} is missing")
        same = a.dtype.str == spec.get("dtype") and list(a.shape) == spec.get("shape")
        _expect(same, f"array {key!r} is {a.dtype.str} {list(a.shape)}, not {spec}")


def _read_arrays(path, names):
    """The arrays of a stored run (an empty dict when it lists none)."""
    if not names:
        return {}
    with np.load(path.with_suffix(".npz"), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def _load_run(path):
    """``(result, provenance)`` of a finished run; None when it is missing or incomplete.

    A file that cannot be read, or one that does not hold what its schema says (``_validate``),
    raises ``CorruptRun`` after it has been moved aside.
    """
    json_path = path.with_suffix(".json")
    if not json_path.exists():
        return None
    try:
        doc = json.loads(json_path.read_text())
        arrays = _read_arrays(path, doc.get("arrays") if isinstance(doc, dict) else None)
        _validate(doc, arrays)
        result = {**doc["result"], **arrays}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as err:
        raise CorruptRun(_set_aside(path, err)) from err
    return result, {
        "code": doc.get("code"),
        "data": doc.get("data", []),
        "seeds_per_model": doc.get("seeds_per_model", 1),
    }


@dataclass(frozen=True)
class SeedBatched:
    """A sweep function's twin that trains several seeds as one batched model (``lib.batched``).

    ``fn(seeds=[...], **config)`` takes a sweep configuration without its ``seed`` and returns,
    in the order of ``seeds``, what the single-run function returns for each (equal within float
    tolerance; ``tests/test_batched.py``). ``model`` names its cost in ``lib.costs`` ("asae" or
    "ddn"), from which ``lib.costs.seeds_per_model`` decides whether batching is faster here.
    ``alone(config)``: true for a configuration the twin would not reproduce (it then runs
    through the single-run function, e.g. the ASAE with dropout, whose masks differ).
    """

    fn: object
    model: str
    alone: object = None


@dataclass
class Experiment:
    """One sweep a chapter declares (``lib.chapters.<chapter>.plan``): ``fn`` over ``configs``,
    stored under ``name``. ``cost(config)`` is its cost model for ``lib.planning``:
    ``("asae", updates)``, ``("ddn", (u1, u2, u3)[, n_params])`` or ``("work", units)``.
    ``batched``: a ``SeedBatched`` twin of ``fn``, which the sweep uses where it is faster.
    ``shares``: the names of other sweeps of ``fn`` whose stored runs this one adopts where the
    configuration is the same (``sweep``'s ``shares``)."""

    name: str
    fn: object
    configs: list
    cost: object = None
    note: str = ""
    batched: SeedBatched | None = None
    shares: tuple = ()

    def run(self, profile, **kwargs):
        """The sweep's results (stored runs reused), as ``sweep(fn, configs, name=..., ...)``."""
        kwargs.setdefault("shares", self.shares)
        return sweep(self.fn, self.configs, name=self.name, profile=profile, batched=self.batched, **kwargs)


class CorruptRun(Exception):
    """A stored run that could not be read (it has been moved aside)."""


def run_codes(fn, batched=None):
    """The code fingerprints a stored run of ``fn`` may carry: ``fn``'s, and its ``SeedBatched``
    twin's when it has one (a run stores the fingerprint of the code that actually made it)."""
    return {function_fingerprint(fn)} | ({function_fingerprint(batched.fn)} if batched else set())


def _stale(provenance, codes):
    """Why a stored run may not be reused (None when it may): its code (not one of ``codes``)
    or its data changed."""
    if provenance["code"] not in codes:
        return "code changed"
    for request, stored in provenance["data"]:
        try:
            if data_identity(request) != stored:
                return "data changed"
        except FileNotFoundError:
            return "data missing"
    return None


def _reads_key(request):
    return "" if request is None else request


def accepts_checkpoint(fn):
    """Whether ``fn`` takes a ``checkpoint`` keyword (per-epoch checkpoints, lib.checkpoints)."""
    try:
        return "checkpoint" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def checkpoint_path(run_path):
    """Where a sweep run's per-epoch checkpoint lives: ``runs/<name>/<config hash>.ckpt``."""
    return Path(run_path).with_suffix(".ckpt")


def compute_run(fn, config, checkpoint=None):
    """Run ``fn(**config)`` with one torch thread; return the result and its provenance.

    ``checkpoint`` (a ``lib.checkpoints.Checkpoint``) is passed on as ``fn(..., checkpoint=...)``
    when ``fn`` accepts that keyword: the run then saves every epoch and resumes inside the run
    after a kill. It is not part of the configuration, so it changes no run's key.

    The provenance is the code fingerprint of ``fn`` and the identity of every MNIST source the
    run read (``lib.data.DATA_READS``), so a stored run is reused only for the same code and data.
    This is the body of a sweep's worker: it writes nothing, the caller stores the result.

    numba is set to one thread as well: with numba's OpenMP layer, ``numba.set_num_threads``
    (lib.mi restores numba's previous count after each KSG estimate) also sets the OpenMP count
    torch reads, so a numba default of all cores would silently give torch that many threads
    after the first MI estimate (measured: 5-8x the CPU time per update on 2 busy cores, and a
    resumed run would train on another thread count than the uninterrupted one).
    """
    numba.set_num_threads(1)
    torch.set_num_threads(1)
    DATA_READS.clear()
    extra = {"checkpoint": checkpoint} if checkpoint is not None and accepts_checkpoint(fn) else {}
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(**config, **extra)
    reads = sorted(DATA_READS, key=_reads_key)
    provenance = {
        "code": function_fingerprint(fn),
        "data": [[r, data_identity(r)] for r in reads],
        "seconds": time.perf_counter() - wall,  # what the run cost, for lib.planning's estimates
        "cpu_seconds": time.process_time() - cpu,
    }
    return result, provenance


SWEEP_LOG = {}  # sweep name -> what it reused and computed, for the chapter's record
STORED_RUN = "stored_run"  # a config value {STORED_RUN: "<name>/<run key>"} names another run


def stored_run(name, key):
    """A configuration value naming another stored run by its sweep name and run key.

    The sweep loads that run's result from this machine's run store and passes it to the run
    function in its place, so the run works on any worker (nothing is read from a path there)
    and its own key does not change when the results folder moves."""
    return {STORED_RUN: f"{name}/{key}"}


def store_input(name, config, result, profile):
    """Store ``result`` (scalars and arrays) as a run of ``name`` keyed by ``config``, unless it
    is stored already; return the ``stored_run`` value naming it (for other runs' configs)."""
    path = results_dir(profile) / "runs" / name / config_key(config)
    try:
        stored = _load_run(path)
    except CorruptRun:
        stored = None
    if stored is None:
        _save_run(path, config, result, {"code": None, "data": []})
    return stored_run(name, path.name)


def _is_stored_run(value):
    return isinstance(value, dict) and set(value) == {STORED_RUN}


def _resolve_inputs(config, run_root):
    """``config`` with every ``stored_run`` value replaced by that run's result (read here)."""
    resolved = {}
    for key, value in config.items():
        if _is_stored_run(value):
            loaded = _load_run(run_root / value[STORED_RUN])
            if loaded is None:
                raise FileNotFoundError(
                    f"{key} names the stored run {value[STORED_RUN]}, which is not in {run_root}"
                )
            value = loaded[0]
        resolved[key] = value
    return resolved


def _run_paths(fn, configs, run_dir):
    return [run_dir / config_key({"fn": f"{fn.__module__}.{fn.__qualname__}", **c}) for c in configs]


def _adopt_twin(path, shares) -> None:
    """Where ``path`` is not stored but one of the sweeps named in ``shares`` (same profile) stored
    the same run (its file name is the run key: same function, same configuration), copy that
    run here, so a run that two figures share is trained once. Whether it may be reused is then
    checked as usual."""
    json_path = path.with_suffix(".json")
    if json_path.exists():
        return
    for name in shares:
        twin = path.parent.parent / name / json_path.name
        if twin.exists() and twin.parent != path.parent:
            path.parent.mkdir(parents=True, exist_ok=True)
            if twin.with_suffix(".npz").exists():
                shutil.copyfile(twin.with_suffix(".npz"), path.with_suffix(".npz"))
            shutil.copyfile(twin, json_path)
            return


def _stored(paths, codes, log, shares=()):
    """The reusable stored runs (None where a run must be computed); notes why in ``log``.
    ``shares``: other sweeps whose identical runs are adopted (``_adopt_twin``)."""
    found = []
    for path in paths:
        _adopt_twin(path, shares)
        try:
            stored = _load_run(path)
        except CorruptRun as err:
            log["warnings"].append(str(err))
            stored = None
        if stored is not None and (why := _stale(stored[1], codes)):
            log["stale"][why] = log["stale"].get(why, 0) + 1
            stored = None
        found.append(stored)
    return found


def seed_groups(configs, todo, k, alone=None):
    """The runs ``todo`` (indices into ``configs``) in groups of at most ``k`` whose configurations
    differ only in their ``seed``, in order; a run without a seed, or one ``alone(config)`` marks,
    is a group of its own."""
    groups = {}
    for i in todo:
        rest = {key: value for key, value in configs[i].items() if key != "seed"}
        single = "seed" not in configs[i] or (alone is not None and alone(configs[i]))
        groups.setdefault(f"#{i}" if single else config_key(rest), []).append(i)
    return [ids[j : j + k] for ids in groups.values() for j in range(0, len(ids), k)]


def _batch_checkpoint_path(run_paths):
    """Where a batch of seeds trained as one model keeps its per-epoch checkpoint."""
    key = hashlib.sha256("\0".join(p.name for p in run_paths).encode()).hexdigest()[:16]
    return run_paths[0].with_name(f"batch-{key}.ckpt")


def _jobs(fn, batched, configs, groups, paths, codes):
    """One joblib job per group: ``_indexed`` for a lone run, ``_indexed_batch`` for several
    seeds; with per-epoch checkpoints when ``paths`` is given (local runs)."""
    jobs = []
    for group in groups:
        if len(group) == 1:
            i, ckpt = group[0], None
            if paths and accepts_checkpoint(fn):
                ckpt = Checkpoint(checkpoint_path(paths[i]), tag=codes[0])
            jobs.append(delayed(_indexed)(i, fn, configs[i], ckpt))
        else:
            ckpt = None
            if paths and accepts_checkpoint(batched.fn):
                ckpt = Checkpoint(_batch_checkpoint_path([paths[i] for i in group]), tag=codes[1])
            jobs.append(delayed(_indexed_batch)(group, batched.fn, [configs[i] for i in group], ckpt))
    return jobs


def sweep(fn, configs, *, name, profile, n_jobs=None, progress=None, scheduler=None, batched=None, shares=()):
    """Run ``fn(**config)`` for every config in parallel processes; resume finished runs.

    Each finished run is stored under ``results/<profile>/runs/<name>/<config hash>`` with the
    fingerprint of its code and the identity of the data it read; a rerun loads it instead of
    recomputing only while both are unchanged, so a killed sweep loses only the runs in flight
    and an edited model or another data folder recomputes. Returns the result dicts in the order
    of ``configs``. ``n_jobs`` defaults to the number of CPU cores.

    A function that takes a ``checkpoint`` keyword (``run_asae``, ``run_autoencoder``,
    ``run_ddn``) gets, for runs computed here, a ``lib.checkpoints.Checkpoint`` at
    ``runs/<name>/<config hash>.ckpt`` tagged with the code fingerprint: it saves every epoch, so
    a killed run resumes inside the run with the same code (never with other code). The keyword is
    not part of the configuration or its hash. Runs sent to a Dask cluster get none.

    ``batched`` (a ``SeedBatched``): where ``lib.costs.seeds_per_model`` says K > 1 seeds per
    model is faster on this machine's device (measured by ``benchmarks/training.py``, or forced
    by ``$BOOK_SEEDS_PER_MODEL``), runs that differ only in their seed are trained K at a time
    as one batched model and stored one by one as usual, each with the twin's fingerprint and
    ``seeds_per_model`` in its provenance; a stored run is reused whichever of the two made it.

    ``shares``: names of other sweeps of the same profile and function; a run they stored with
    the same configuration is adopted instead of trained again (``_adopt_twin``).

    ``scheduler`` (default ``$BOOK_SCHEDULER``, which ``python -m lib.run --scheduler`` sets) is
    the address of a running Dask scheduler: the runs are then computed on its workers
    (``lib.cluster``) and stored here as each finishes, exactly as local ones. A worker whose code
    fingerprint (or data) differs from this process's is named in a warning, and the sweep's
    ``code`` then lists both fingerprints (``Record`` reports it under ``mixed_code``).
    """
    configs = list(configs)
    codes = [function_fingerprint(fn)] + ([function_fingerprint(batched.fn)] if batched else [])
    code = codes[0]
    paths = _run_paths(fn, configs, results_dir(profile) / "runs" / name)
    k = seeds_per_model(batched.model, torch_device()) if batched else 1
    log = {
        "runs": len(configs),
        "reused": 0,
        "computed": 0,
        "stale": {},
        "warnings": [],
        "code": {code},
        "data": set(),
        "seeds_per_model": k,
        "twin_code": codes[1] if batched else None,
    }  # this process's fingerprint (or its batched twin's): any other is mixed
    runs = _stored(paths, set(codes), log, shares)
    todo = [i for i, r in enumerate(runs) if r is None]
    if log["stale"]:
        print(f"{name}: recomputing stored runs whose {', '.join(log['stale'])}", file=sys.stderr, flush=True)

    def store(finished, notes=lambda provenance: ()):  # as each run finishes, wherever it ran
        show = progress_enabled() if progress is None else progress
        for i, result, provenance in tqdm(finished, total=len(todo), desc=name, disable=not show):
            for note in notes(provenance):
                if note not in log["warnings"]:
                    log["warnings"].append(note)
                    print(f"{name}: {note}", file=sys.stderr, flush=True)
            _save_run(paths[i], configs[i], result, provenance)
            checkpoint_path(paths[i]).unlink(missing_ok=True)  # the run deletes it; a leftover too
            runs[i] = _load_run(paths[i])

    if todo:
        groups = seed_groups(configs, todo, k, batched.alone) if k > 1 else [[i] for i in todo]
        run_root = results_dir(profile) / "runs"
        todo_set = set(todo)
        work = [_resolve_inputs(c, run_root) if i in todo_set else c for i, c in enumerate(configs)]
        address = scheduler or os.environ.get(SCHEDULER_ENV)
        if address:  # a running Dask cluster: its workers compute, this process stores
            what = f"{fn.__module__}.{fn.__qualname__}"
            with cluster.connect(address) as client:
                store(
                    cluster.run_on_cluster(client, _jobs(fn, batched, work, groups, None, codes)),
                    lambda provenance: cluster.provenance_warnings(provenance, codes, what),
                )
        else:  # local runs also get a per-epoch checkpoint beside their stored result
            jobs = _jobs(fn, batched, work, groups, paths, codes)
            n_jobs = min(n_jobs or os.cpu_count() or 1, len(jobs))
            finished = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs)
            store(run for batch in finished for run in batch)
    for _, provenance in runs:
        log["code"].add(provenance["code"])
        log["data"].update(ident["source"] for _, ident in provenance["data"])
    log.update(
        reused=len(configs) - len(todo),
        computed=len(todo),
        code=sorted(log["code"]),
        data=sorted(log["data"]),
        batched_runs=sum(provenance.get("seeds_per_model", 1) > 1 for _, provenance in runs),
    )
    SWEEP_LOG[name] = log
    return [result for result, _ in runs]


def _indexed(i, fn, config, checkpoint=None):
    """A sweep job: ``[(i, result, provenance)]`` of one run."""
    return [(i, *compute_run(fn, config, checkpoint))]


def _indexed_batch(indices, fn, configs, checkpoint=None):
    """A sweep job: ``[(i, result, provenance)]`` for runs that differ only in their seed, trained
    as one batched model ``fn(seeds=[...], **rest)``; each run's provenance carries its share of
    the batch's seconds and ``seeds_per_model``."""
    seeds = [c["seed"] for c in configs]
    rest = {key: value for key, value in configs[0].items() if key != "seed"}
    results, provenance = compute_run(fn, {**rest, "seeds": seeds}, checkpoint)
    k = len(seeds)
    share = {
        **provenance,
        "seconds": provenance["seconds"] / k,
        "cpu_seconds": provenance["cpu_seconds"] / k,
        "seeds_per_model": k,
    }
    return [(i, result, share) for i, result in zip(indices, results)]


class Record:
    """A chapter's headline numbers, written to ``results/<profile>/<chapter>.json``.

    ``metric`` values are checked against the committed reference by ``python -m lib.run --check``
    within tolerances measured by ``--calibrate`` (the reference holds them); ``info`` values
    (timings, data source, provenance) are not checked. The record's ``info`` names the code
    fingerprint of the chapter, the data it read and, per sweep, how many stored runs it reused.
    """

    def __init__(self, chapter, profile, data_dir=None, seed=None):
        self.chapter = chapter
        self.profile = resolve_profile(profile)
        self.metrics, self.info_values, self.thesis, self.claims = {}, {}, {}, {}
        self.provenance = provenance(chapter, data_dir)
        self.seed = _callers_seed(sys._getframe(1)) if seed is None else seed
        self.started = time.time()  # the chapter's wall time, for lib.planning (unless it sets one)

    def claim(self, claim_id, **fields):
        """State a thesis claim once, with its computed verdict (``lib.claims.make_claim``).

        Restating an id replaces it (a rerun of the cell). Returns the claim dict for ``glue``.
        """
        self.claims[claim_id] = make_claim(claim_id, chapter=self.chapter, **jsonable(fields))
        return self.claims[claim_id]

    def metric(self, name, value, thesis=None):
        """Record a checked number (or string); ``thesis`` is the thesis's value or statement.

        Returns nothing, so a chapter cell ending in a record call shows no stray output.
        """
        self.metrics[name] = json_safe(value)
        if thesis is not None:
            self.thesis[name] = jsonable(thesis)

    def info(self, name, value):
        """Record an unchecked value such as a timing or the data source (returns nothing)."""
        self.info_values[name] = jsonable(value)

    def as_dict(self):
        runs = {name: dict(log) for name, log in SWEEP_LOG.items()}
        own = lambda log: set(log["code"]) - {log.get("twin_code")}  # the twin's code is not foreign
        mixed = sorted(name for name, log in runs.items() if len(own(log)) > 1)
        warnings = [w for log in runs.values() for w in log["warnings"]]
        info = {
            **self.info_values,
            **self.provenance,
            "runs": runs,
            "mixed_code": mixed,
            "warnings": warnings,
        }
        return {
            "chapter": self.chapter,
            "profile": self.profile,
            "identity": self.identity(),
            "metrics": self.metrics,
            "thesis": self.thesis,
            "claims": list(self.claims.values()),
            "info": info,
        }

    def identity(self):
        """What the record was computed from: profile, seed, code and data fingerprints."""
        return record_identity(
            self.profile, self.seed, self.provenance["code_fingerprint"], self.provenance["data_fingerprint"]
        )

    def save(self):
        """Write the record atomically and return its path."""
        self.info_values.setdefault("wall_seconds", round(time.time() - self.started, 1))
        path = results_dir(self.profile) / f"{self.chapter}.json"
        text = json.dumps(self.as_dict(), indent=1, sort_keys=True)
        atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return path


def _callers_seed(frame):
    """The ``seed`` of the code creating a Record: a chapter's ``parameters`` cell sets it as a
    global of the notebook (papermill injects ``-p seed=``); None when there is none."""
    seed = frame.f_locals.get("seed", frame.f_globals.get("seed"))
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


IDENTITY_FIELDS = ("profile", "data", "seed", "code")  # the order ``identity_differences`` reports


def record_identity(profile, seed, code, data):
    """A chapter record's identity: what must match for a reader to use it."""
    return {"profile": profile, "seed": seed, "code": code, "data": data}


def current_identity(chapter, profile, seed=None, data_dir=None):
    """The identity a record of ``chapter`` made now would have (code and data as they are now)."""
    source = ROOT / "book" / f"{chapter}.md"
    code = chapter_fingerprint(source) if source.exists() else None
    return record_identity(resolve_profile(profile), seed, code, data_fingerprint(data_dir))


def identity_differences(found, expected, ignore=()):
    """``["different data (abc here, def there)", ...]``: the fields in which two identities differ
    (a field ``expected`` leaves None is not compared); ``["no identity"]`` when ``found`` has
    none (a record written before records carried one)."""
    if not isinstance(found, dict):
        return ["no identity"]
    return [
        f"different {field} ({found.get(field)!r}, expected {expected[field]!r})"
        for field in IDENTITY_FIELDS
        if field not in ignore and expected.get(field) is not None and found.get(field) != expected[field]
    ]


def provenance(chapter, data_dir=None):
    """What a chapter page is computed from: its code fingerprint, its data, and when."""
    source = ROOT / "book" / f"{chapter}.md"
    ident = data_identity(data_dir)
    dataset = "mnist-subset" if ident["source"] == "bundled" else identify_idx_files(ident["source"])
    return {
        "code_fingerprint": chapter_fingerprint(source) if source.exists() else None,
        "data_source": ident["source"],
        "data_dataset": dataset,
        "data_fingerprint": data_fingerprint(data_dir),
        "built_utc": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def load_record(chapter, profile):
    """Read a chapter's record from ``results/<profile>``; None if it has not been written."""
    path = results_dir(profile) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else None
