"""Eq. 7.4's RMSprop (eps inside the square root) against the book's earlier torch RMSprop.

    python benchmarks/optimiser_compare.py [--quick] [--out FILE.json]

- DDN on Simple MNIST (lib.ddn_runs.run_ddn, the model as written: layers (1, 1, 1), lr 1e-4 / 1e-3,
  gamma 0.9), seeds 0-2, three optimisers: ``torch-rmsprop`` (old: torch.optim.RMSprop, eps 1e-6
  outside the root), ``rmsprop`` (eq. 7.4, Lasagne form, eps 1e-6 inside), and eq. 7.4 plus
  heavy-ball momentum 0.9 (section 9.3's "momentum 0.9" read literally). Reports KSG MI at the end
  of stage 1, final MI and the ground-truth (label-probe) score as run_ddn records them.
- ASAE on Simple MNIST with 2-unit codes (lib.asae_runs.run_asae), seeds 0-2: old (torch RMSprop,
  eps 1e-7 outside, loss averaged over pixels, as chapter 8 had it) against eq. 7.4 with both
  readings of eq. 7.1's loss (averaged over pixels; summed, the squared 2-norm the thesis writes):
  final MI, lowest MI over the epochs, probe score and reconstruction error.
  ``--models ASAE`` runs only this part.

Sizes are shortened from the book profile (DDN: 1000 composites, 500 hidden units instead of
1000, stages 25/5/5 epochs instead of 35/5/5; ASAE: 1000 composites, 10 epochs) to run in about
8 minutes on one free core (torch.set_num_threads(1); a shared, busy machine takes longer); --quick
is a ~1-minute smoke run. The numbers are a comparison of optimisers at equal sizes, not the
chapters' results.
"""

import argparse
import json
import time

import numpy as np
import torch

from lib.asae_runs import run_asae
from lib.chapters.ch09_ddn import stage_end
from lib.ddn_runs import run_ddn

DDN_OPTIMISERS = {
    "torch RMSprop (old)": dict(optimizer="torch-rmsprop"),
    "eq. 7.4 RMSprop": dict(optimizer="rmsprop"),
    "eq. 7.4 + heavy-ball 0.9": dict(optimizer="rmsprop", momentum=0.9),
}
ASAE_OPTIMISERS = {  # and the two readings of eq. 7.1's loss: summed or averaged over pixels
    "torch RMSprop eps 1e-7, pixel mean (old)": dict(
        optimiser="torch-rmsprop", optimiser_eps=1e-7, loss_reduce="mean"
    ),
    "eq. 7.4 RMSprop, pixel mean": dict(optimiser="rmsprop", loss_reduce="mean"),
    "eq. 7.4 RMSprop, pixel sum (eq. 7.1)": dict(optimiser="rmsprop", loss_reduce="sum"),
}


def mean_sd(values):
    v = np.asarray(values, float)
    return f"{np.nanmean(v):6.3f} +- {np.nanstd(v):5.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test of the script)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", help="also write every run's numbers to this JSON file")
    parser.add_argument("--models", default="DDN,ASAE", help="which comparisons to run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = range(args.seeds)
    if args.quick:
        ddn_size = dict(n=400, hidden=128, epochs=(6, 2, 2), n_score=400)
        asae_size = dict(n=400, epochs=3, n_eval=300)
    else:
        ddn_size = dict(n=1000, hidden=500, epochs=(25, 5, 5), n_score=1000)
        asae_size = dict(n=1000, epochs=10, n_eval=500)
    t_all = time.perf_counter()
    rows = []
    ddn_table = DDN_OPTIMISERS if "DDN" in args.models else {}
    asae_table = ASAE_OPTIMISERS if "ASAE" in args.models else {}
    print(f"DDN, Simple MNIST, {ddn_size}, seeds {list(seeds)}")
    for name, kw in ddn_table.items():
        for seed in seeds:
            t = time.perf_counter()
            r = run_ddn("simple", seed=seed, score_every=10**6, **ddn_size, **kw)
            rows.append(
                dict(
                    model="DDN",
                    optimiser=name,
                    seed=seed,
                    stage1_mi=stage_end(r, 1, "mi"),
                    stage1_truth=stage_end(r, 1, "truth"),
                    final_mi=float(r["final_mi"]),
                    final_truth=float(r["final_truth"]),
                    code_std=float((r["code_std_a"] + r["code_std_b"]) / 2),
                    seconds=time.perf_counter() - t,
                )
            )
            print(
                "  ",
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                flush=True,
            )
    print(f"ASAE, Simple MNIST, 2-unit codes, {asae_size}, seeds {list(seeds)}")
    for name, kw in asae_table.items():
        for seed in seeds:
            t = time.perf_counter()
            r = run_asae("simple", code_size=2, seed=seed, **asae_size, **kw)
            rows.append(
                dict(
                    model="ASAE",
                    optimiser=name,
                    seed=seed,
                    stage1_mi=float("nan"),
                    stage1_truth=float("nan"),
                    final_mi=float(r["mi"][-1]),
                    final_truth=float(r["probe"][-1]),
                    min_mi=float(np.nanmin(r["mi"][1:])),
                    final_mse=float(r["final_mse"]),
                    seconds=time.perf_counter() - t,
                )
            )
            print(
                "  ",
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in rows[-1].items()},
                flush=True,
            )

    print(f"\n{'model':5} {'optimiser':40} {'stage-1 MI':>16} {'final MI':>16} {'final truth':>16}")
    for model, table in (("DDN", ddn_table), ("ASAE", asae_table)):
        for name in table:
            rs = [r for r in rows if r["model"] == model and r["optimiser"] == name]
            s1 = mean_sd([r["stage1_mi"] for r in rs]) if model == "DDN" else f"{'-':>16}"
            print(
                f"{model:5} {name:40} {s1:>16} {mean_sd([r['final_mi'] for r in rs]):>16} "
                f"{mean_sd([r['final_truth'] for r in rs]):>16}"
            )
    print(
        f"(mean +- sd over {len(seeds)} seeds; MI in nats (KSG); truth = lib.metrics probe score, "
        f"0 = not disentangled, 1 = perfect; {time.perf_counter() - t_all:.0f} s in all)"
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(dict(ddn_size=ddn_size, asae_size=asae_size, runs=rows), f, indent=1)


if __name__ == "__main__":
    main()
