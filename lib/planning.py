"""What a profile will cost before it starts: each chapter's runs, how many are stored, and the
estimated CPU-hours (and GPU-hours where a GPU has been measured).

A chapter module (``lib.chapters.<chapter>``) declares its sweeps with ``plan(profile, seed,
data_dir, check_data)``: name -> ``lib.experiments.Experiment``, the very objects its notebook
runs. Each experiment has a cost model, ``cost(config)``, one of

* ``("asae", updates)`` or ``("ddn", (stage 1, stage 2, stage 3 updates)[, n_params])``: the
  minibatch updates of a torch run;
* ``("work", units)``: a size the run's cost grows with (say composites x epochs).

CPU seconds of a run come from the committed cost model of its run function,
``results/calibration/runs.json`` (``python -m lib.planning --calibrate`` fits it once from
timed stored runs of every size), and for the torch models it lacks from the training
calibration (``lib.costs``, written by ``benchmarks/training.py``), which is also the only basis
for GPU-hours. Only a run function that neither knows is priced from its own stored runs.

A chapter's wall time is its inline work (everything but its sweeps: data, estimators, figures,
the kernel's start) plus its sweeps spread over the workers. The inline seconds are measured by
``benchmarks/book.py``, which runs each chapter twice, from scratch and again with every run
stored, and commits both in ``results/calibration/chapters.json``; the from-scratch seconds are
what ``chapter_seconds`` is checked against. Nothing here runs an experiment; a plan of every
chapter takes seconds.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import importlib.util
import json
import os
import statistics
import sys
from pathlib import Path

import numpy as np

from lib import costs
from lib.evidence import EXPERIMENTS as EVIDENCE
from lib.evidence import SIZES as EVIDENCE_SIZES
from lib.evidence import load_evidence
from lib.experiments import Experiment, _run_paths, _stale, results_dir, run_codes
from lib.profiles import ROOT, toc_chapters

RUN_CALIBRATION = ROOT / "results" / "calibration" / "runs.json"
CHAPTER_CALIBRATION = ROOT / "results" / "calibration" / "chapters.json"


def chapter_plan(chapter: str, profile: str, seed: int = 0, data_dir=None) -> dict | None:
    """The sweeps of ``chapter`` at ``profile`` (None: the chapter runs no sweeps), at the
    profile's nominal sizes (the data are not asked whether they can supply them)."""
    name = f"lib.chapters.{chapter}"
    module = importlib.import_module(name) if importlib.util.find_spec(name) else None
    plan = getattr(module, "plan", None)
    if plan is None:
        return None
    return plan(profile, seed=seed, data_dir=data_dir, check_data=False)


def plans(profile: str, chapters=None, seed: int = 0, data_dir=None) -> dict:
    """chapter -> its experiments (None for a chapter without sweeps)."""
    return {c: chapter_plan(c, profile, seed, data_dir) for c in chapters or toc_chapters()}


def stored_runs(exp: Experiment, profile: str) -> int:
    """How many of ``exp``'s runs are stored for ``profile`` and reusable (same code and data)."""
    codes = run_codes(exp.fn, exp.batched)
    found = 0
    for path in _run_paths(exp.fn, exp.configs, results_dir(profile) / "runs" / exp.name):
        doc_path = path.with_suffix(".json")
        if not doc_path.exists():
            continue
        try:
            doc = json.loads(doc_path.read_text())
        except (OSError, ValueError):
            continue
        if _stale({"code": doc.get("code"), "data": doc.get("data", [])}, codes) is None:
            found += 1
    return found


def units(model) -> float:
    """The size a cost model scales with: updates (the DDN's summed over its stages and weighted
    by its millions of weights, when the model gives them) or work units."""
    kind, size = model[0], model[1]
    if kind == "ddn":
        return float(sum(size)) * (model[2] / 1e6 if len(model) > 2 else 1.0)
    return float(size)


def _qualname(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


@functools.lru_cache(maxsize=1)
def _chapter_sweeps() -> dict:
    """Run function (qualified name) -> the chapters' sweeps (``Experiment``) that run it."""
    found = {}
    for experiments in plans("smoke").values():
        for exp in (experiments or {}).values():
            found.setdefault(_qualname(exp.fn), []).append(exp)
    return found


@functools.lru_cache(maxsize=1)
def _sweeps_by_function() -> dict:
    """Run function -> the names of every sweep that runs it (the chapters' and the evidence's),
    so a cost measured in one sweep prices the others."""
    found = {fn: {exp.name for exp in exps} for fn, exps in _chapter_sweeps().items()}
    for name, exp in EVIDENCE.items():
        found.setdefault(_qualname(exp.fn), set()).add(f"evidence-{name}")
    return found


def _run_cpu_seconds(doc):
    """CPU seconds a stored run took: its provenance's, or the run's own ``cpu_s`` result."""
    return doc.get("cpu_seconds") or (doc.get("result") or {}).get("cpu_s")


def measured_rates(exp: Experiment, profile: str | None = None) -> list[tuple[float, float]]:
    """(units, CPU seconds) of every stored run of ``exp``'s function, in any sweep that runs it
    and at ``profile`` (default any), that recorded what it cost (``results/*/runs/<sweep>/``)."""
    rates = []
    base = Path(os.environ.get("BOOK_RESULTS_DIR", ROOT / "results"))
    names = {exp.name} | _sweeps_by_function().get(_qualname(exp.fn), set())
    paths = [p for name in sorted(names) for p in sorted(base.glob(f"{profile or '*'}/runs/{name}/*.json"))]
    cost = exp.cost
    for doc_path in paths:
        try:
            doc = json.loads(doc_path.read_text())
            size = units(cost(doc["config"]))
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if (secs := _run_cpu_seconds(doc)) and size:
            rates.append((size, float(secs)))
    return rates


def cost_line(rates) -> tuple[float, float, str]:
    """(fixed seconds, seconds per unit, how) from (units, seconds) pairs. Runs of sizes at least
    4x apart give a least-squares line (fixed + rate x units, both >= 0); otherwise the median
    of seconds / units over the largest third, with no fixed part: from small runs, whose fixed
    costs then count as proportional, an overestimate."""
    rates = sorted(rates)
    units_seen = [u for u, _ in rates]
    if max(units_seen) >= 4 * min(units_seen) and len(rates) >= 3:
        u, s = np.array(rates).T
        slope, fixed = np.polyfit(u, s, 1)
        if slope > 0:
            return max(fixed, 0.0), float(slope), "fixed + proportional"
    top = rates[-max(1, len(rates) // 3) :]
    return 0.0, statistics.median(s / u for u, s in top), "proportional"


def _run_calibration() -> dict:
    return json.loads(RUN_CALIBRATION.read_text()) if RUN_CALIBRATION.exists() else {}


def seconds_per_unit(exp: Experiment, profile: str | None = None) -> tuple[tuple | None, str]:
    """(fixed seconds, CPU seconds per unit) of ``exp``'s runs and where they come from: the
    committed run calibration (``results/calibration/runs.json``: one cost line per run function,
    the line fitted on ``profile``'s own runs where it has one: a run's scoring and set-up cost
    follow the profile's sizes, not only its units), else, for a run function it does not know,
    the stored runs of that function (``cost_line``)."""
    entry = _run_calibration().get(_qualname(exp.fn))
    if entry:
        entry = entry.get("profiles", {}).get(profile) or entry
        return (entry.get("fixed_seconds", 0.0), entry["seconds_per_unit"]), "runs.json"
    rates = measured_rates(exp)
    if rates:
        fixed, rate, how = cost_line(rates)
        return (fixed, rate), f"{len(rates)} stored runs, {how}"
    return None, "not measured"


def run_seconds(
    exp: Experiment, config: dict, device: str, calibration, measured=None
) -> tuple[float | None, str]:
    """Estimated seconds of one run of ``exp`` on ``device`` (CPU-seconds on "cpu"), and the basis.

    On the CPU the measured runs of its function come first (``measured``: ``seconds_per_unit(exp)``
    when already computed); the training calibration prices the torch models where none has been
    measured, and is the only basis on CUDA.
    """
    model = exp.cost(config)
    if device == "cpu":
        line, basis = measured or seconds_per_unit(exp)
        if line is not None:
            return line[0] + line[1] * units(model), basis
    if model[0] not in ("asae", "ddn"):
        return None, "not measured"
    try:
        if model[0] == "asae":
            return costs.estimate_seconds(
                "asae", model[1], device, calibration=calibration
            ), "training calibration"
        n_params = model[2] if len(model) > 2 else None
        secs = costs.estimate_seconds("ddn", model[1], device, n_params=n_params, calibration=calibration)
        return secs, "training calibration"
    except (KeyError, FileNotFoundError):
        return None, "not measured"


def plan_rows(experiments: dict, profile: str, calibration=None) -> list[dict]:
    """One row per experiment (``{key: Experiment}``): runs, stored, and the hours the missing
    runs would take."""
    rows = []
    for key, exp in experiments.items():
        stored = stored_runs(exp, profile)
        todo = exp.configs[stored:] if stored < len(exp.configs) else []
        row = {"experiment": key, "runs": len(exp.configs), "stored": stored, "basis": "nothing to run"}
        measured = seconds_per_unit(exp, profile) if exp.cost and todo else None
        for device in ("cpu", "cuda"):
            estimates = [run_seconds(exp, c, device, calibration, measured) for c in todo] if exp.cost else []
            secs = [e[0] for e in estimates]
            row[f"{device}_hours"] = None if None in secs or (todo and not exp.cost) else sum(secs) / 3600
            if device == "cpu" and estimates:
                row["basis"] = estimates[0][1]
        rows.append(row)
    return rows


def sweep_wall_seconds(run_seconds_list, jobs: int) -> float:
    """Wall seconds of a sweep whose runs take ``run_seconds_list`` CPU-seconds each, on ``jobs``
    worker processes of one thread: the work shared out, but never less than its longest run."""
    if not run_seconds_list:
        return 0.0
    workers = max(1, min(jobs, len(run_seconds_list)))
    return max(sum(run_seconds_list) / workers, max(run_seconds_list))


def measured_chapters(path: Path = CHAPTER_CALIBRATION) -> dict:
    """``{profile: {chapter: {"scratch_seconds", "inline_seconds", "jobs", ...}}}`` measured by
    ``benchmarks/book.py`` (empty when it has not been run)."""
    return json.loads(path.read_text()).get("profiles", {}) if path.exists() else {}


def chapter_seconds(
    chapter: str, profile: str, jobs: int, from_scratch: bool = True, measured=None, experiments=None
):
    """Estimated wall seconds of one chapter at ``profile`` on ``jobs`` cores, and the basis.

    Inline work (measured once per profile, ``measured_chapters``) plus each sweep's runs
    (``run_seconds`` from the run cost model) over the workers (``sweep_wall_seconds``);
    ``from_scratch=False`` prices only the runs not yet stored. None where either part has not
    been measured. ``experiments``: the chapter's plan when the caller has built it already.
    """
    entry = (measured if measured is not None else measured_chapters()).get(profile, {}).get(chapter)
    if entry is None:
        return None, f"inline work not measured at {profile}"
    total = entry["inline_seconds"]
    experiments = chapter_plan(chapter, profile) if experiments is None else experiments
    for exp in (experiments or {}).values():
        todo = exp.configs if from_scratch else exp.configs[stored_runs(exp, profile) :]
        if not todo:
            continue
        if exp.cost is None:
            return None, f"{exp.name} has no cost model"
        line = seconds_per_unit(exp, profile)
        secs = [run_seconds(exp, c, "cpu", None, line)[0] for c in todo]
        if None in secs:
            return None, f"{exp.name} not measured"
        total += sweep_wall_seconds(secs, jobs)
    return total, "inline measured + runs.json"


def _line(rates) -> dict:
    fixed, rate, how = cost_line(rates)
    return {"fixed_seconds": fixed, "seconds_per_unit": rate, "fit": how, "runs": len(rates)}


def calibrate(path: Path = RUN_CALIBRATION, profiles=("smoke", "book", "thesis")) -> dict:
    """Write the CPU seconds per unit of every chapter sweep's run function with stored, timed
    runs: one line over all its runs, and one per profile with runs (``seconds_per_unit``). The
    committed overall line stays where it was fitted on more runs than are stored now (say, on
    book-profile runs this results folder lacks), and so does a profile's line without runs."""
    table = _run_calibration()
    for experiments in plans("smoke").values():
        for exp in (experiments or {}).values():
            rates = measured_rates(exp) if exp.cost else []
            if not rates:
                continue
            old = table.get(_qualname(exp.fn), {})
            entry = dict(old) if old.get("runs", 0) > len(rates) else _line(rates)
            by_profile = {p: measured_rates(exp, p) for p in profiles}
            fitted = {p: _line(r) for p, r in by_profile.items() if r}
            entry["profiles"] = {**old.get("profiles", {}), **fitted}
            table[_qualname(exp.fn)] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return table


def _chapter_cost(fn):
    """The cost model a chapter sweep gives run function ``fn`` (the evidence reuses it)."""
    return next((exp.cost for exp in _chapter_sweeps().get(_qualname(fn), []) if exp.cost), None)


def evidence_seconds(name: str) -> tuple[float | None, str]:
    """Estimated CPU seconds of every run of evidence experiment ``name`` at its thesis sizes
    (``lib.evidence.SIZES``), from the same cost model as the chapters' sweeps, and the basis."""
    spec = EVIDENCE[name]
    cost = _chapter_cost(spec.fn)
    if cost is None:
        return None, "no chapter sweep prices its run function"
    sizes = EVIDENCE_SIZES[name]
    exp = Experiment(f"evidence-{name}", spec.fn, spec.configs(sizes, None, 0, sizes["runs"]), cost)
    line = seconds_per_unit(exp)
    priced = [run_seconds(exp, c, "cpu", None, line) for c in exp.configs]
    secs = [s for s, _ in priced]
    return (None if None in secs else float(sum(secs))), priced[0][1]


def print_evidence_plan(records) -> None:
    """Per evidence record: the planned CPU-hours of its runs against the CPU-hours they took."""
    print(f"{'evidence record':28s} {'runs':>5s} {'plan CPU-h':>11s} {'measured':>9s} {'ratio':>6s}  basis")
    for record_name, record in sorted(records.items()):
        plan, basis = evidence_seconds(record["name"])
        took = record["info"]["seconds"]["cpu_runs"]
        ratio = f"{plan / took:.2f}" if plan and took else "-"
        shown = "?" if plan is None else f"{plan / 3600:.2f}"
        runs = record["info"]["runs"]
        print(f"{record_name:28s} {runs:5d} {shown:>11s} {took / 3600:9.2f} {ratio:>6s}  {basis}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.planning", description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", action="store_true", help=f"write {RUN_CALIBRATION}")
    parser.add_argument(
        "--evidence",
        action="store_true",
        help="plan of each committed evidence record against its measured time",
    )
    args = parser.parse_args(argv)
    if args.calibrate:
        table = calibrate()
        print(f"{len(table)} sweeps measured -> {RUN_CALIBRATION}")
    if args.evidence:
        print_evidence_plan(load_evidence())
    return 0


if __name__ == "__main__":
    sys.exit(main())
