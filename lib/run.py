"""Run book chapters headless and check their records against the committed references.

    python -m lib.run --profile smoke                    # every chapter in _toc.yml
    python -m lib.run --profile book ch03_broadnet -p seed=1
    python -m lib.run --profile smoke --check            # compare with results/reference/smoke
    python -m lib.run --profile smoke --update-reference # after a deliberate change

Each chapter (a MyST text notebook) is converted with jupytext in memory, executed with papermill
(parameters injected after its ``parameters`` cell), written to ``_build/executed/<profile>/``;
the chapter writes its own record to ``results/<profile>/<chapter>.json``.
"""
import argparse
import json
import math
import sys
import time
from pathlib import Path

from lib.experiments import (PROFILES, ROOT, Record, _atomic_write, chapter_budget, results_dir,
                             resolve_profile)

BOOK = ROOT / "book"
REFERENCE = ROOT / "results" / "reference"


def toc_chapters():
    """Chapter names (``chNN_...``) in the order ``_toc.yml`` lists them."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [entry["file"] for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}])
             for entry in part["chapters"]]
    return [Path(f).name for f in files if Path(f).name.startswith("ch")]


def chapter_path(name):
    """``book/<name>.md`` for a chapter name, with a clear error for an unknown one."""
    path = BOOK / f"{Path(name).stem}.md"
    if not path.exists():
        known = sorted(p.stem for p in BOOK.glob("ch*.md"))
        raise SystemExit(f"unknown chapter {name!r}; chapters are {known}")
    return path


def execute(name, profile, parameters):
    """Execute one chapter with papermill; return the executed notebook's path."""
    import jupytext
    import papermill

    notebook = jupytext.read(chapter_path(name))
    out_dir = ROOT / "_build" / "executed" / profile
    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{Path(name).stem}.ipynb"
    papermill.execute_notebook(notebook, str(output), parameters={"profile": profile, **parameters},
                               cwd=str(BOOK), kernel_name="python3", progress_bar=False,
                               log_output=False)
    return output


def _drift(name, new, ref, tol):
    """A message when ``new`` differs from ``ref`` beyond ``tol``, else None."""
    if isinstance(ref, list):
        if not isinstance(new, list) or len(new) != len(ref):
            return f"{name}: {new!r} != reference {ref!r}"
        return next((m for i, (a, b) in enumerate(zip(new, ref))
                     if (m := _drift(f"{name}[{i}]", a, b, tol))), None)
    if isinstance(ref, bool) or not isinstance(ref, (int, float)):
        return None if new == ref else f"{name}: {new!r} != reference {ref!r}"
    if isinstance(new, bool) or not isinstance(new, (int, float)):
        return f"{name}: {new!r} is not a number (reference {ref!r})"
    allowed = tol if tol is not None else Record.DEFAULT_ABS_TOL + Record.DEFAULT_REL_TOL * abs(ref)
    if not math.isfinite(new) or abs(new - ref) > allowed:
        return f"{name}: {new:.6g} vs reference {ref:.6g} (allowed +-{allowed:.3g})"
    return None


def _show(path):
    """A path relative to the repository where it lies inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def check(name, profile):
    """Compare a chapter's record with its reference; return the list of problems."""
    chapter = Path(name).stem
    record_path = results_dir(profile) / f"{chapter}.json"
    ref_path = REFERENCE / profile / f"{chapter}.json"
    if not record_path.exists():
        return [f"no record {_show(record_path)} (did the chapter call Record.save()?)"]
    if not ref_path.exists():
        return [f"no reference {_show(ref_path)}: run with --update-reference"]
    new, ref = json.loads(record_path.read_text()), json.loads(ref_path.read_text())
    problems = [f"{k}: missing from the new record" for k in ref["metrics"] if k not in new["metrics"]]
    for key, value in ref["metrics"].items():
        if key in new["metrics"]:
            msg = _drift(key, new["metrics"][key], value, ref.get("tolerances", {}).get(key))
            problems += [msg] if msg else []
    return problems


def update_reference(name, profile):
    """Copy a chapter's record (without its unchecked info) to the committed reference."""
    chapter = Path(name).stem
    record = json.loads((results_dir(profile) / f"{chapter}.json").read_text())
    record.pop("info", None)
    path = REFERENCE / profile / f"{chapter}.json"
    _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1,
                                                                     sort_keys=True) + "\n"))
    return path


def _note_runtime(name, profile, seconds):
    """Add the runner's wall time to the chapter's record (an unchecked info value)."""
    path = results_dir(profile) / f"{Path(name).stem}.json"
    if path.exists():
        record = json.loads(path.read_text())
        record.setdefault("info", {})["runner_seconds"] = round(seconds, 1)
        _atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record, indent=1,
                                                                         sort_keys=True)))


def parse_parameters(pairs):
    """``-p key=value`` pairs; values are parsed as JSON when they can be (numbers, null, ...)."""
    parameters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"parameter {pair!r} is not of the form key=value")
        try:
            parameters[key] = json.loads(value)
        except json.JSONDecodeError:
            parameters[key] = value
    return parameters


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lib.run", description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapter names (default: all in _toc.yml)")
    parser.add_argument("--profile", default=None, help=f"one of {sorted(PROFILES)}")
    parser.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                        help="extra notebook parameter, e.g. -p seed=3 -p data_dir=/data/mnist")
    parser.add_argument("--check", action="store_true", help="compare records with the reference")
    parser.add_argument("--update-reference", action="store_true",
                        help="rewrite the reference from the new records")
    parser.add_argument("--no-execute", action="store_true", help="only check existing records")
    args = parser.parse_args(argv)
    try:
        profile = resolve_profile(args.profile)
    except ValueError as err:
        parser.error(str(err))
    parameters = parse_parameters(args.param)
    chapters = [Path(c).stem for c in args.chapters] or toc_chapters()
    failed = []
    for name in chapters:
        start, status, problems = time.time(), "ok", []
        if not args.no_execute:
            try:
                execute(name, profile, parameters)
            except Exception as err:  # report every chapter, fail at the end
                status, problems = "FAILED", [f"{type(err).__name__}: {str(err)[-2000:]}"]
        seconds = time.time() - start
        if status == "ok" and not args.no_execute:
            _note_runtime(name, profile, seconds)
        if status == "ok" and args.check:
            problems = check(name, profile)
            status = "DRIFTED" if problems else "ok"
        if status == "ok" and args.update_reference:
            update_reference(name, profile)
            status = "ok (reference updated)"
        budget = chapter_budget(name, profile)
        over = "  OVER BUDGET" if seconds > budget and not args.no_execute else ""
        print(f"{name:32s} {status:24s} {seconds:7.1f} s{over}", flush=True)
        for problem in problems:
            print(f"    {problem}", flush=True)
        if problems:
            failed.append(name)
    if failed:
        print(f"{len(failed)} of {len(chapters)} chapters failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
