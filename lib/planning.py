"""What a profile will cost before it starts: each chapter's runs, how many are stored, and the
estimated CPU-hours (and GPU-hours where a GPU has been measured).

A chapter module (``lib.chapters.<chapter>``) declares its sweeps with ``plan(profile, seed,
data_dir)``: a list of ``Experiment``, the same function and configurations its notebook passes
to ``lib.experiments.sweep``. Each experiment has a cost model, one of

* ``("asae", updates)`` or ``("ddn", (stage 1, stage 2, stage 3 updates), n_params)``: the
  minibatch updates of a run, priced by the training calibration (``lib.costs``, written by
  ``benchmarks/training.py``) on the CPU and, when it has been measured there, on CUDA;
* ``("work", units)``: a size (say composites x epochs) priced by the CPU seconds per unit that
  stored runs of the same sweep measured (every run stores its seconds), the largest-work runs
  first, or by the committed ``results/calibration/runs.json`` that ``python -m lib.planning
  --calibrate`` writes from them. Cost is taken as proportional to the units: an estimate.

Nothing here runs an experiment; a plan of every chapter takes seconds.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import statistics
import sys
from pathlib import Path

from lib import costs
from lib.experiments import ROOT, Experiment, _run_paths, _stale, results_dir, toc_chapters
from lib.identity import function_fingerprint

RUN_CALIBRATION = ROOT / "results" / "calibration" / "runs.json"


def chapter_plan(chapter: str, profile: str, seed: int = 0, data_dir=None) -> list[Experiment] | None:
    """The sweeps of ``chapter`` at ``profile`` (None: the chapter runs no sweeps)."""
    name = f"lib.chapters.{chapter}"
    module = importlib.import_module(name) if importlib.util.find_spec(name) else None
    plan = getattr(module, "plan", None)
    return None if plan is None else plan(profile, seed=seed, data_dir=data_dir)


def plans(profile: str, chapters=None, seed: int = 0, data_dir=None) -> dict:
    """chapter -> its experiments (None for a chapter without sweeps)."""
    return {c: chapter_plan(c, profile, seed, data_dir) for c in chapters or toc_chapters()}


def stored_runs(exp: Experiment, profile: str) -> int:
    """How many of ``exp``'s runs are stored for ``profile`` and reusable (same code and data)."""
    code = function_fingerprint(exp.fn)
    found = 0
    for path in _run_paths(exp.fn, exp.configs, results_dir(profile) / "runs" / exp.name):
        doc_path = path.with_suffix(".json")
        if not doc_path.exists():
            continue
        try:
            doc = json.loads(doc_path.read_text())
        except (OSError, ValueError):
            continue
        if _stale({"code": doc.get("code"), "data": doc.get("data", [])}, code) is None:
            found += 1
    return found


def measured_rates(name: str, work) -> list[tuple[float, float]]:
    """(work units, CPU seconds) of every stored run of sweep ``name`` that recorded its cost."""
    rates = []
    for doc_path in sorted((ROOT / "results").glob(f"*/runs/{name}/*.json")):
        try:
            doc = json.loads(doc_path.read_text())
        except (OSError, ValueError):
            continue
        if doc.get("cpu_seconds") and (units := work(doc["config"])):
            rates.append((float(units), float(doc["cpu_seconds"])))
    return rates


def seconds_per_unit(name: str, work) -> tuple[float | None, str]:
    """CPU seconds per work unit of sweep ``name``, and where the number comes from."""
    rates = sorted(measured_rates(name, work))
    if rates:
        top = rates[-max(1, len(rates) // 3) :]  # the largest runs: fixed costs weigh least
        return statistics.median(s / u for u, s in top), f"{len(rates)} stored runs"
    table = json.loads(RUN_CALIBRATION.read_text()) if RUN_CALIBRATION.exists() else {}
    if name in table:
        return table[name]["seconds_per_unit"], "calibration"
    return None, "not measured"


def run_seconds(exp: Experiment, config: dict, device: str, calibration) -> float | None:
    """Estimated seconds of one run of ``exp`` on ``device`` (CPU-seconds on "cpu")."""
    model = exp.cost(config)
    try:
        if model[0] == "asae":
            return costs.estimate_seconds("asae", model[1], device, calibration=calibration)
        if model[0] == "ddn":
            n_params = model[2] if len(model) > 2 else None
            return costs.estimate_seconds("ddn", model[1], device, n_params=n_params, calibration=calibration)
    except (KeyError, FileNotFoundError):
        return None
    if model[0] == "work" and device == "cpu":
        rate, _ = seconds_per_unit(exp.name, lambda c: exp.cost(c)[1])
        return None if rate is None else rate * model[1]
    if model[0] == "work":
        return None
    raise ValueError(f"{exp.name}: unknown cost model {model[0]!r}")


def plan_rows(experiments: list[Experiment], profile: str, calibration=None) -> list[dict]:
    """One row per experiment: runs, stored, and the hours the missing runs would take."""
    rows = []
    for exp in experiments:
        stored = stored_runs(exp, profile)
        todo = exp.configs[stored:] if stored < len(exp.configs) else []
        row = {"experiment": exp.name, "runs": len(exp.configs), "stored": stored}
        for device in ("cpu", "cuda"):
            secs = [run_seconds(exp, c, device, calibration) for c in todo] if exp.cost else [None]
            row[f"{device}_hours"] = (
                sum(secs) / 3600 if secs and None not in secs else (0.0 if not todo else None)
            )
        row["basis"] = _basis(exp)
        rows.append(row)
    return rows


def _basis(exp: Experiment) -> str:
    if exp.cost is None or not exp.configs:
        return exp.note or "no cost model"
    kind = exp.cost(exp.configs[0])[0]
    if kind == "work":
        return seconds_per_unit(exp.name, lambda c: exp.cost(c)[1])[1]
    return "training calibration"


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
    """Write the CPU seconds per work unit of every chapter sweep with stored, timed runs."""
    table = {}
    for chapter, experiments in plans("smoke").items():
        for exp in experiments or []:
            if exp.cost and exp.configs and exp.cost(exp.configs[0])[0] == "work":
                rates = measured_rates(exp.name, lambda c, e=exp: e.cost(c)[1])
                if rates:
                    rate, _ = seconds_per_unit(exp.name, lambda c, e=exp: e.cost(c)[1])
                    table[exp.name] = {"chapter": chapter, "seconds_per_unit": rate, "runs": len(rates)}
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
