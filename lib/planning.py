"""What a profile will cost before it starts: each chapter's runs, how many are stored, and the
estimated CPU-hours (and GPU-hours where a GPU has been measured).

A chapter module (``lib.chapters.<chapter>``) declares its sweeps with ``plan(profile, seed,
data_dir, check_data)``: name -> ``lib.experiments.Experiment``, the very objects its notebook
runs. Each experiment has a cost model, ``cost(config)``, one of

* ``("asae", updates)`` or ``("ddn", (stage 1, stage 2, stage 3 updates)[, n_params])``: the
  minibatch updates of a torch run;
* ``("work", units)``: a size the run's cost grows with (say composites x epochs).

CPU seconds come, in this order, from the sweep's own stored runs (every stored run records
its CPU seconds; the largest third of them, scaled by units: cost is taken as proportional to
its units), from the committed ``results/calibration/runs.json`` (``python -m lib.planning
--calibrate`` writes it from stored runs), and for the torch models from the training
calibration (``lib.costs``, written by ``benchmarks/training.py``), which is also the only
basis for GPU-hours. Nothing here runs an experiment; a plan of every chapter takes seconds.
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
from lib.experiments import Experiment, _run_paths, _stale, results_dir, run_codes
from lib.profiles import ROOT, toc_chapters

RUN_CALIBRATION = ROOT / "results" / "calibration" / "runs.json"


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
def _sweeps_by_function() -> dict:
    """Run function -> the names of every sweep that runs it (the chapters' and the evidence's),
    so a cost measured in one sweep prices the others."""
    found = {}
    for experiments in plans("smoke").values():
        for exp in (experiments or {}).values():
            found.setdefault(_qualname(exp.fn), set()).add(exp.name)
    for name, exp in EVIDENCE.items():
        found.setdefault(_qualname(exp.fn), set()).add(f"evidence-{name}")
    return found


def _run_cpu_seconds(doc):
    """CPU seconds a stored run took: its provenance's, or the run's own ``cpu_s`` result."""
    return doc.get("cpu_seconds") or (doc.get("result") or {}).get("cpu_s")


def measured_rates(exp: Experiment) -> list[tuple[float, float]]:
    """(units, CPU seconds) of every stored run of ``exp``'s function, in any sweep that runs it
    and at any profile, that recorded what it cost (``results/*/runs/<sweep>/``)."""
    rates = []
    base = Path(os.environ.get("BOOK_RESULTS_DIR", ROOT / "results"))
    names = {exp.name} | _sweeps_by_function().get(_qualname(exp.fn), set())
    paths = [p for name in sorted(names) for p in sorted(base.glob(f"*/runs/{name}/*.json"))]
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


def seconds_per_unit(exp: Experiment) -> tuple[tuple | None, str]:
    """(fixed seconds, CPU seconds per unit) of ``exp``'s runs and where they come from: the
    stored runs of its function (``cost_line``), else the committed run calibration."""
    rates = measured_rates(exp)
    if rates:
        fixed, rate, how = cost_line(rates)
        return (fixed, rate), f"{len(rates)} stored runs, {how}"
    table = json.loads(RUN_CALIBRATION.read_text()) if RUN_CALIBRATION.exists() else {}
    entry = table.get(_qualname(exp.fn))
    if entry:
        return (entry.get("fixed_seconds", 0.0), entry["seconds_per_unit"]), "runs.json"
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
        measured = seconds_per_unit(exp) if exp.cost and todo else None
        for device in ("cpu", "cuda"):
            estimates = [run_seconds(exp, c, device, calibration, measured) for c in todo] if exp.cost else []
            secs = [e[0] for e in estimates]
            row[f"{device}_hours"] = None if None in secs or (todo and not exp.cost) else sum(secs) / 3600
            if device == "cpu" and estimates:
                row["basis"] = estimates[0][1]
        rows.append(row)
    return rows


def inline_note(chapter: str, profile: str) -> str:
    """What a chapter without sweeps cost when its record was last made (its inline work)."""
    for prof in dict.fromkeys([profile, "book", "smoke"]):
        path = results_dir(prof) / f"{chapter}.json"
        if path.exists():
            secs = json.loads(path.read_text()).get("info", {}).get("wall_seconds")
            if secs is not None:
                return f"no sweeps; the whole chapter took {secs:.0f} s at {prof}"
    return "no sweeps; not measured"


def calibrate(path: Path = RUN_CALIBRATION) -> dict:
    """Write the CPU seconds per unit of every chapter sweep with stored, timed runs."""
    table = {}
    for experiments in plans("smoke").values():
        for exp in (experiments or {}).values():
            rates = measured_rates(exp) if exp.cost else []
            if rates and _qualname(exp.fn) not in table:
                fixed, rate, how = cost_line(rates)
                table[_qualname(exp.fn)] = {"fixed_seconds": fixed, "seconds_per_unit": rate,
                                            "fit": how, "runs": len(rates)}  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return table


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lib.planning", description=__doc__.split("\n")[0])
    parser.add_argument("--calibrate", action="store_true", help=f"write {RUN_CALIBRATION}")
    args = parser.parse_args(argv)
    if args.calibrate:
        table = calibrate()
        print(f"{len(table)} sweeps measured -> {RUN_CALIBRATION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
