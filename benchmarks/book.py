"""Seconds per chapter of a whole profile, from scratch, beside the committed previous table.

    python benchmarks/book.py                       # the book profile, every chapter
    python benchmarks/book.py --profile smoke --write
    python benchmarks/book.py --profile book ch08_split_autoencoders

Each chapter runs twice through ``python -m lib.run`` in one temporary results folder (so
chapter 10 reads the records just made, and nothing stored in this checkout is reused):

1. **from scratch**: every sweep run is computed;
2. **inline**: again, with every run now stored; what is left is the chapter's own work (data,
   estimators, figures, the kernel's start), the part ``lib.planning.chapter_seconds`` takes as
   measured.

It prints, per chapter, the previous committed from-scratch seconds, today's, their ratio, the
inline seconds, and ``--plan``'s estimate from the committed cost model with its ratio to
today's measurement (the issue's bar: within 1.5x). ``--write`` records today's seconds in
``results/calibration/chapters.json`` after every chapter, so an interrupted run keeps what it
finished. Time it on a quiet machine: the ratios are only meaningful side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lib import planning  # noqa: E402
from lib.profiles import PROFILES, toc_chapters  # noqa: E402


def timed_run(chapter: str, profile: str, results: Path) -> float:
    """Wall seconds of ``python -m lib.run --profile profile chapter`` with results in ``results``."""
    env = dict(os.environ, BOOK_RESULTS_DIR=str(results))
    start = time.perf_counter()
    code = subprocess.run(
        [sys.executable, "-m", "lib.run", "--profile", profile, chapter], cwd=ROOT, env=env
    ).returncode
    if code != 0:
        raise SystemExit(f"{chapter} failed at {profile} (exit {code}); nothing more is timed")
    return time.perf_counter() - start


def _commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def _write(profile: str, chapter: str, entry: dict, path: Path = planning.CHAPTER_CALIBRATION) -> None:
    doc = json.loads(path.read_text()) if path.exists() else {}
    doc["note"] = (
        "wall seconds per chapter, measured by benchmarks/book.py: scratch = every run computed, "
        "inline = again with every run stored (the chapter's own work)"
    )
    doc.setdefault("profiles", {}).setdefault(profile, {})[chapter] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


def _ratio(a, b) -> str:
    return f"{a / b:.2f}" if a and b else "-"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("chapters", nargs="*", help="chapters (default: all in _toc.yml)")
    parser.add_argument("--profile", default="book", choices=sorted(PROFILES))
    parser.add_argument("--write", action="store_true", help=f"record in {planning.CHAPTER_CALIBRATION}")
    parser.add_argument(
        "--results", metavar="DIR", help="keep the runs and records in DIR (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    if args.results and Path(args.results).exists() and any(Path(args.results).iterdir()):
        parser.error(f"--results {args.results} is not empty: its stored runs would be reused")
    chapters = args.chapters or toc_chapters()
    previous = planning.measured_chapters()
    jobs = os.cpu_count() or 1
    print(f"{args.profile} profile, {jobs} cores, commit {_commit()}; load {os.getloadavg()[0]:.2f}")
    header = f"{'chapter':28s} {'before s':>9s} {'now s':>8s} {'now/before':>10s} {'inline s':>9s}"
    print(header + f" {'plan s':>8s} {'plan/now':>8s}", flush=True)
    totals = [0.0, 0.0]
    with tempfile.TemporaryDirectory(prefix="bench-book-") as tmp:
        tmp = args.results or tmp
        for chapter in chapters:
            before = previous.get(args.profile, {}).get(chapter, {}).get("scratch_seconds")
            plan, _ = planning.chapter_seconds(chapter, args.profile, jobs, measured=previous)
            scratch = timed_run(chapter, args.profile, Path(tmp))
            inline = timed_run(chapter, args.profile, Path(tmp))
            totals[0] += scratch
            totals[1] += before or 0.0
            print(
                f"{chapter:28s} {before or 0:9.0f} {scratch:8.0f} {_ratio(scratch, before):>10s} "
                f"{inline:9.0f} {plan or 0:8.0f} {_ratio(plan, scratch):>8s}",
                flush=True,
            )
            if args.write:
                machine = f"{platform.processor() or platform.machine()}, {jobs} cores"
                entry = {
                    "scratch_seconds": round(scratch, 1),
                    "inline_seconds": round(inline, 1),
                    "jobs": jobs,
                    "commit": _commit(),
                    "date": time.strftime("%Y-%m-%d"),
                    "machine": machine,
                }
                _write(args.profile, chapter, entry)
    print(f"{'total':28s} {totals[1]:9.0f} {totals[0]:8.0f} {_ratio(totals[0], totals[1]):>10s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
