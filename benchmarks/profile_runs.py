"""Where one representative run of chapters 6-9 spends its time at the book profile (cProfile).

    python benchmarks/profile_runs.py                       # every chapter below, one run each
    python benchmarks/profile_runs.py ch08 --epochs 5       # fewer epochs (a quicker look)

Each chapter's run is the first config of one sweep its ``plan("book")`` declares, called
directly (not through ``sweep``), after the process has loaded the data once, so that the data
load, the imports and the first JIT compile are timed apart from the run. Prints those three
and the top functions by cumulative and by own time; ``--out DIR`` keeps the .prof files.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RUNS = {  # chapter -> (module, sweep)
    "ch06": ("ch06_ppica", "ch06_ppica"),
    "ch07": ("ch07_neural_networks", "ch07_optimisers"),
    "ch08": ("ch08_split_autoencoders", "ch08_simple_2"),
    "ch09": ("ch09_ddn", "simple_faithful"),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chapters", nargs="*", help=f"of {', '.join(RUNS)} (default: all four)")
    ap.add_argument("--epochs", type=int, default=None, help="override a torch run's epochs")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--out", default=None, help="folder for the .prof files")
    args = ap.parse_args(argv)
    args.chapters = args.chapters or list(RUNS)
    if unknown := [c for c in args.chapters if c not in RUNS]:
        ap.error(f"unknown chapter(s) {unknown}; choose from {list(RUNS)}")

    t0 = time.perf_counter()
    import lib.data
    import lib.planning

    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    lib.data.load_mnist()
    t_data = time.perf_counter() - t0
    print(f"imports (lib.planning and what it pulls in): {t_import:.2f} s")
    print(f"first load_mnist() in this process: {t_data:.2f} s")
    for ch in args.chapters:
        module, sweep = RUNS[ch]
        exp = lib.planning.chapter_plan(module, "book")[sweep]
        config = dict(exp.configs[0])
        if args.epochs is not None and "epochs" in config:
            e = config["epochs"]
            config["epochs"] = [args.epochs] * len(e) if isinstance(e, list | tuple) else args.epochs
        print(f"\n=== {ch}: {exp.fn.__module__}.{exp.fn.__name__}({config})")
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        exp.fn(**config)
        prof.disable()
        print(f"wall {time.perf_counter() - t0:.1f} s")
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(Path(args.out) / f"{ch}.prof"))
        stats = pstats.Stats(prof)
        stats.sort_stats("cumulative").print_stats(args.top)
        stats.sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
