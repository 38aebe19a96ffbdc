"""Profiles, resumable multi-run sweeps and chapter records.

Three profiles size every experiment (DESIGN.md): ``smoke`` (CI, tiny), ``book`` (the rendered
book, the default) and ``thesis`` (the thesis's own sizes). A sweep runs one function over many
configurations in parallel processes and stores each finished run on disk, keyed by its
configuration, so an interrupted run resumes where it stopped. A chapter's headline numbers go into
a ``Record``, which the headless runner compares with a committed reference.
"""
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Profile:
    """One experiment size: its name, what it is for and its per-chapter budget on 2 cores."""
    name: str
    purpose: str
    chapter_budget_s: float


PROFILES = {
    "smoke": Profile("smoke", "CI: every code path runs at tiny sizes", 90),
    "book": Profile("book", "the rendered book: scaled down, must still show each claim", 15 * 60),
    "thesis": Profile("thesis", "the thesis's own sizes (30 runs, full epochs, full MNIST)", math.inf),
}
DEFAULT_PROFILE = "book"
LONGER_BUDGET = {("ch09_ddn", "book"): 30 * 60}  # DESIGN.md: chapter 9 may take 30 min at book


def chapter_budget(chapter, profile):
    """Seconds a chapter may take on 2 cores at ``profile`` (DESIGN.md, "Profiles")."""
    profile = resolve_profile(profile)
    return LONGER_BUDGET.get((chapter, profile), PROFILES[profile].chapter_budget_s)


def resolve_profile(profile=None):
    """Return a valid profile name: ``profile``, else ``$BOOK_PROFILE``, else ``"book"``."""
    name = profile or os.environ.get("BOOK_PROFILE") or DEFAULT_PROFILE
    if name not in PROFILES:
        raise ValueError(f"unknown profile {name!r}; valid profiles are {sorted(PROFILES)}")
    return name


def pick(profile, **by_profile):
    """Return the value given for ``profile``, e.g. ``pick(p, smoke=2, book=10, thesis=30)``."""
    profile = resolve_profile(profile)
    missing = set(PROFILES) - set(by_profile)
    unknown = set(by_profile) - set(PROFILES)
    if missing or unknown:
        raise ValueError(f"pick() needs exactly the profiles {sorted(PROFILES)}; "
                         f"missing {sorted(missing)}, unknown {sorted(unknown)}")
    return by_profile[profile]


def results_dir(profile):
    """``results/<profile>`` under the repository (or ``$BOOK_RESULTS_DIR``), created on demand."""
    base = Path(os.environ.get("BOOK_RESULTS_DIR", ROOT / "results"))
    path = base / resolve_profile(profile)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _jsonable(value):
    """Convert numpy scalars and arrays to plain JSON types."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


def _atomic_write(path, write):
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
    text = json.dumps(_jsonable(config), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _save_run(path, config, result):
    """Store one finished run: arrays in ``.npz``, everything else (and the config) in ``.json``."""
    if not isinstance(result, dict):
        raise TypeError(f"a sweep function must return a dict, got {type(result).__name__}")
    arrays = {k: v for k, v in result.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in result.items() if k not in arrays}
    if arrays:
        def write_npz(tmp):
            with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a name
                np.savez(f, **arrays)
        _atomic_write(path.with_suffix(".npz"), write_npz)
    doc = {"config": _jsonable(config), "result": _jsonable(scalars), "arrays": sorted(arrays)}
    # The .json is written last: its presence marks the run as complete.
    _atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(doc)))


def _load_run(path):
    """Load a finished run, or return None when it is missing or incomplete."""
    json_path = path.with_suffix(".json")
    if not json_path.exists():
        return None
    doc = json.loads(json_path.read_text())
    result = dict(doc["result"])
    if doc["arrays"]:
        with np.load(path.with_suffix(".npz"), allow_pickle=False) as npz:
            result.update({k: npz[k] for k in doc["arrays"]})
    return result


def _run_one(fn, config, path):
    """Worker body: run one configuration with one torch thread, store it, return the result."""
    import torch
    torch.set_num_threads(1)
    result = fn(**config)
    _save_run(path, config, result)
    return _load_run(path)


def sweep(fn, configs, *, name, profile, n_jobs=None, progress=True):
    """Run ``fn(**config)`` for every config in parallel processes; resume finished runs.

    Each finished run is stored under ``results/<profile>/runs/<name>/<config hash>`` and a rerun
    loads it instead of recomputing, so a killed sweep loses only the runs in flight. Returns the
    result dicts in the order of ``configs``. ``n_jobs`` defaults to the number of CPU cores.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    configs = list(configs)
    run_dir = results_dir(profile) / "runs" / name
    paths = [run_dir / config_key({"fn": f"{fn.__module__}.{fn.__qualname__}", **c})
             for c in configs]
    results = [_load_run(p) for p in paths]
    todo = [i for i, r in enumerate(results) if r is None]
    if todo:
        n_jobs = n_jobs or os.cpu_count() or 1
        jobs = (delayed(_run_one)(fn, configs[i], paths[i]) for i in todo)
        runner = Parallel(n_jobs=min(n_jobs, len(todo)), return_as="generator")
        bar = tqdm(runner(jobs), total=len(todo), desc=name, disable=not progress)
        for i, result in zip(todo, bar):
            results[i] = result
    return results


class Record:
    """A chapter's headline numbers, written to ``results/<profile>/<chapter>.json``.

    ``metric`` values are checked against the committed reference by ``python -m lib.run --check``
    (each with its absolute tolerance); ``info`` values (timings, data source) are not.
    """
    DEFAULT_ABS_TOL = 1e-6
    DEFAULT_REL_TOL = 1e-3

    def __init__(self, chapter, profile):
        self.chapter = chapter
        self.profile = resolve_profile(profile)
        self.metrics, self.info_values, self.thesis, self.tolerances = {}, {}, {}, {}

    def metric(self, name, value, thesis=None, tol=None):
        """Record a checked number (or string); ``thesis`` is the thesis's value or statement."""
        value = _jsonable(value)
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)
        self.metrics[name] = value
        if thesis is not None:
            self.thesis[name] = _jsonable(thesis)
        if tol is not None:
            self.tolerances[name] = float(tol)
        return value

    def info(self, name, value):
        """Record an unchecked value such as a timing or the data source."""
        self.info_values[name] = _jsonable(value)
        return value

    def as_dict(self):
        return {"chapter": self.chapter, "profile": self.profile, "metrics": self.metrics,
                "thesis": self.thesis, "tolerances": self.tolerances, "info": self.info_values}

    def save(self):
        """Write the record atomically and return its path."""
        path = results_dir(self.profile) / f"{self.chapter}.json"
        text = json.dumps(self.as_dict(), indent=1, sort_keys=True)
        _atomic_write(path, lambda tmp: Path(tmp).write_text(text))
        return path


def load_record(chapter, profile):
    """Read a chapter's record from ``results/<profile>``; None if it has not been written."""
    path = results_dir(profile) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else None
