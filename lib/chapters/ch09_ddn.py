"""Chapter 9 (the Discriminative Disentangling Network): sizes per profile, the chapter's plan of
sweeps, the rulers, summaries and the chapter's claims. The runs the sweeps call (``run_ddn``...)
and the benchmarks' facts are ``lib.ddn_runs``; the model and its trainer ``lib.ddn``, the
rejected losses ``lib.ddn_alternatives``, the figures ``lib.plots``."""

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.claims import at_least, at_most, criteria_sentence, guarded, holds
from lib.controls import (
    ceiling_row,
    control_rows,
    joint_ruler,
    make_ruler,
    rulers_table,
)
from lib.data import require_composites
from lib.ddn_runs import (
    BATCHED,
    BENCHMARKS,
    CEILING_KINDS,
    COSTS,
    load_benchmark,
    run_chase,
    run_ddn,
    run_ddn_ceiling,
    run_gmmn_on_codes,
    run_penalty,
    untrained_codes,
)
from lib.experiments import Experiment, sweep
from lib.toy_study import CONTROLS, READINGS, toy_study
from lib.training import progress_enabled

MI_THRESHOLD = 0.1  # final KSG MI below this: disentangled by the thesis's criterion (ch. 8)
TRUTH_THRESHOLD = 0.5  # final probe score at least this: disentangled by the old probe score

# The chapter's sizes per profile. n_comp / n_mnist: images per composite benchmark / plain MNIST
# (None: all the data allow; thesis: exactly the thesis's); epochs: stages (1, 2, 3) per benchmark.
SIZES = {
    "smoke": dict(
        n_comp=300,
        n_mnist=300,
        hidden=48,
        n_runs=2,
        n_runs_variant=1,
        n_runs_mnist=1,
        n_runs_study=1,
        epochs={k: (3, 1, 2) for k in BENCHMARKS},
        penalty_epochs=3,
        chase_epochs=2,
        chase_snapshots=(1, 2),
        depth_epochs=3,
        depths=(1, 2),
        gmmn=dict(ae_epochs=1, gmmn_steps=60, hidden=64, n=1000),
        ceiling_epochs=2,
    ),
    "book": dict(
        n_comp=None,
        n_mnist=None,
        hidden=1000,
        n_runs=3,
        n_runs_variant=2,
        n_runs_mnist=1,
        n_runs_study=1,
        epochs={
            "simple": (35, 5, 5),
            "additive": (40, 5, 10),
            "occlusive": (40, 5, 10),
            "mnist": (15, 5, 20),
        },
        penalty_epochs=25,
        chase_epochs=24,
        chase_snapshots=(20, 22, 24),
        depth_epochs=35,
        depths=(1, 2, 4),
        gmmn=dict(ae_epochs=10, gmmn_steps=1500, hidden=256, n=5000),
        ceiling_epochs=40,
    ),
    "thesis": dict(
        n_comp=25000,
        n_mnist=50000,
        hidden=1000,
        n_runs=30,
        n_runs_variant=10,
        n_runs_mnist=5,
        n_runs_study=5,
        epochs={k: v["epochs"] for k, v in BENCHMARKS.items()},
        penalty_epochs=35,
        chase_epochs=24,
        chase_snapshots=(20, 22, 24),
        depth_epochs=60,
        depths=(1, 2, 4),
        gmmn=dict(ae_epochs=20, gmmn_steps=4000, hidden=1000, n=50000),
        ceiling_epochs=100,
    ),
}


def chapter_sizes(profile: str, data_dir=None, check_data: bool = True) -> dict:
    """Every size chapter 9 uses at `profile` (a copy of ``SIZES[profile]``), with ``n`` the
    images per benchmark: at `thesis` exactly the thesis's (25,000 composites of section 8.2,
    50,000 plain MNIST images); the data in `data_dir` ($MNIST_DIR, else the bundled subset) must
    supply them, or lib.data.require_composites stops with what is missing and how to get it.
    ``check_data`` False takes the nominal sizes without asking the data (for ``plan``)."""
    if profile not in SIZES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {', '.join(SIZES)}")
    s = copy.deepcopy(SIZES[profile])
    n_mnist = s.pop("n_mnist")
    wanted = {k: n_mnist if k == "mnist" else s["n_comp"] for k in BENCHMARKS}
    s["n"] = {k: require_composites(k, n, data_dir) if check_data else n for k, n in wanted.items()}
    s["epochs"] = {k: tuple(v) for k, v in s["epochs"].items()}
    return s


def sizes_table(sizes: dict, data_dir=None) -> pd.DataFrame:
    """One row per benchmark: its data, the epochs of stages 1-3 and the stage-1 updates here and
    in the thesis (batches of 128)."""
    upd = lambda n, e: int(np.ceil(n / 128)) * e
    rows = []
    for kind, spec in BENCHMARKS.items():
        comp = load_benchmark(kind, n=sizes["n"][kind], data_dir=data_dir)
        rows.append(
            {
                "benchmark": kind,
                "data": comp.describe(),
                "epochs here": str(tuple(sizes["epochs"][kind])),
                "epochs, thesis": str(spec["epochs"]),
                "stage-1 updates here": f"{upd(len(comp), sizes['epochs'][kind][0]):,}",
                "stage-1 updates, thesis": f"{upd(spec['thesis_n'], spec['epochs'][0]):,}",
            }
        )
    return pd.DataFrame(rows).set_index("benchmark")


# ----------------------------------------------------------------------------- the ruler
MI_NAME = f"the thesis's MI criterion (final MI < {MI_THRESHOLD})"
GT_NAME = "the ground truth (disentangling score against its controls)"
# The claims judged by the ground truth, and the benchmarks whose ruler they rest on (every
# "9.5-simple-<variant>" claim rests on Simple's).
GT_CLAIMS = {
    "9.1-penalties": ("simple", "additive"),
    "9.5-simple": ("simple",),
    "9.9-additive": ("additive",),
    "9.12-occlusive": ("occlusive",),
    "9.5.2-too-deep": ("simple",),
}


def rulers(ceiling_cfgs: list, ceilings: list) -> dict:
    """The ruler of each benchmark of ``CEILING_KINDS`` (``lib.controls.make_ruler``): the built
    controls on the runs' scoring rows at the code width, the untrained DDN and the supervised
    ceiling, judged by the runs' rule. Returns {kind: ruler}."""
    out = {}
    for cfg, ceiling in zip(ceiling_cfgs, ceilings):
        kind = cfg["kind"]
        comp, rows, za, zb = untrained_codes(kind, cfg["seed"], cfg["n"], cfg.get("n_score", 1000),
                                             cfg["hidden"], cfg.get("data_seed", 0),
                                             cfg.get("data_dir"))  # fmt: skip
        parts = [p[rows].reshape(len(rows), -1) for p in (comp.part_a, comp.part_b)]
        table = control_rows(*parts, comp.label_a[rows], comp.label_b[rows], za.shape[1],
                             extra={"untrained network": ("negative", (za, zb))})  # fmt: skip
        table.append(ceiling_row([ceiling], table[0]["score"]))
        out[kind] = make_ruler(f"{kind.capitalize()} MNIST, {za.shape[1]} units per cause", table)
    return out


def rulers_display(rulers: dict):
    """The controls table of every benchmark, for the page."""
    table = rulers_table(rulers.values()).set_index(["setting", "control"])
    return table.style.format({c: "{:.2f}" for c in ("score", "MI (nats)")} | {"of oracle": "{:.0%}"},
                              na_rep="–")  # fmt: skip


def rule_claims(rec, rulers: dict) -> str:
    """Judge every ground-truth claim (``GT_CLAIMS``) by its rulers (``lib.claims.guarded``),
    with the thesis's MI criterion beside it (``criteria``) and the controls in the record;
    record each ruler's numbers. Returns, in words, where the ruler passes and where not."""
    for cid, claim in rec.claims.items():
        kinds = GT_CLAIMS.get(cid) or (("simple",) if cid.startswith("9.5-simple-")
                                       and cid != "9.5-simple-stage1" else None)  # fmt: skip
        if not kinds:
            continue
        ruler = joint_ruler(*[rulers[k] for k in kinds])
        gt = guarded(claim["verdict"], ruler)
        both = {MI_NAME: claim.get("verdict_mi") or "not tested", GT_NAME: gt}
        claim.update(verdict=gt, controls=ruler, criteria=criteria_sentence(both, ruler))
    for kind, ruler in rulers.items():
        by = {c["control"]: c for c in ruler["controls"]}
        rec.metric(f"oracle_{kind}_score", float(by["oracle (per-part PCA)"]["score"]))
        rec.metric(f"ruler_{kind}_testable", bool(ruler["testable"]))
        for name, mi in ruler["mi_scale"].items():
            rec.metric(f"mi_scale_{kind}_{name.replace(' ', '_').replace('-', '_')}", float(mi))
        rec.info(f"ceiling_{kind}_epochs", by["supervised ceiling"]["epochs"])
    rec.info("rulers", rulers)
    return "; ".join(f"{r['setting']}: {r['reading']}" for r in rulers.values())


def ceiling_table(cfgs: list, ceilings: list, runs_by_kind: dict) -> pd.DataFrame:
    """Per benchmark: the supervised ceiling's score beside the chosen variant's runs."""
    rows = []
    for cfg, c in zip(cfgs, ceilings):
        runs = runs_by_kind[cfg["kind"]]
        scores = [r["final_disentanglement"] for r in runs]
        rows.append({
            "benchmark": cfg["kind"],
            "supervised ceiling": c["final_disentanglement"],
            "oracle (per-part PCA)": c.get("final_control_score", np.nan),
            "ceiling epochs": int(c.get("epochs_needed", -1)),
            "ceiling disentangled": "yes" if c["final_disentangled"] else "no",
            "DDN runs (mean)": float(np.nanmean(scores)),
            "DDN runs disentangled": f"{sum(r['final_disentangled'] for r in runs)}/{len(runs)}",
        })  # fmt: skip
    return pd.DataFrame(rows).set_index("benchmark").round(3)


def record_ceilings(rec, table: pd.DataFrame) -> None:
    """The ceilings as metrics, one per benchmark."""
    for kind, value in table["supervised ceiling"].items():
        rec.metric(f"ceiling_{kind}_score", float(value))


# ----------------------------------------------------------------------------- summaries
def stage_end(run: dict, stage: int, key: str) -> float:
    """The recorded value of `key` at the last epoch of `stage` (1 or 3) of one run."""
    at = np.flatnonzero(np.asarray(run["stage"]) == stage)
    return float(np.asarray(run[key])[at[-1]]) if len(at) else float("nan")


def summarise(runs: list[dict], mi_key: str = "final_mi", truth_key: str = "final_truth") -> dict:
    """Mean and spread of final MI and truth score over runs, the share of runs disentangled by
    each criterion (MI < MI_THRESHOLD, truth >= TRUTH_THRESHOLD), and the means at the end of stage 1."""
    mi = np.array([float(r[mi_key]) for r in runs])
    truth = np.array([float(r[truth_key]) for r in runs])
    s1_mi = np.array([stage_end(r, 1, "mi") for r in runs])
    s1_truth = np.array([stage_end(r, 1, "truth") for r in runs])
    out = {
        "stage1_mi_mean": float(np.nanmean(s1_mi)),
        "stage1_truth_mean": float(np.mean(s1_truth)),
        "final_mi_mean": float(np.nanmean(mi)),
        "final_mi_sd": float(np.nanstd(mi)),
        "truth_score_mean": float(np.mean(truth)),
        "truth_score_sd": float(np.std(truth)),
        "share_disentangled_mi": float(np.mean(mi < MI_THRESHOLD)),
        "share_disentangled_truth": float(np.mean(truth >= TRUTH_THRESHOLD)),
        "share_low_mi_not_disentangled": float(np.mean((mi < MI_THRESHOLD) & (truth < TRUTH_THRESHOLD))),
    }
    if runs and all("final_disentangled" in r for r in runs):
        # the ground-truth disentangling score of the final codes (lib.metrics.disentanglement):
        # ``share_disentangled`` counts its ``disentangled`` flag (both codes informative and
        # exclusive, above the permutation null); ``share_both`` also needs MI < MI_THRESHOLD
        score = np.array([float(r["final_disentanglement"]) for r in runs])
        good = np.array([bool(r["final_disentangled"]) for r in runs])
        low = np.where(np.isfinite(mi), mi, np.inf) < MI_THRESHOLD
        out.update(
            disentanglement_mean=float(np.nanmean(score)) if np.isfinite(score).any() else float("nan"),
            disentanglement_sd=float(np.nanstd(score)) if np.isfinite(score).any() else float("nan"),
            share_disentangled=float(np.mean(good)),
            share_both=float(np.mean(low & good)),
            share_low_mi_not_disentangled_score=float(np.mean(low & ~good)),
        )
    return out


# ----------------------------------------------------------------------------- chapter plan
# The model as written and the changes compared on Simple MNIST (section "faithful vs changed" of
# the chapter): tag -> (description, DDNConfig overrides). The chapter uses the variant with the
# highest mean ground-truth score on Simple for everything after the comparison.
VARIANTS = {
    "faithful": ("as written (eq. 9.11 averaged over pixels)", {"code_norm": "none"}),
    "std": ("standardised codes", {"code_norm": "batch"}),
    "slowenc": ("encoder lr 1e-5", {"code_norm": "none", "lr_enc": 1e-5}),
    "std_slowenc": ("standardised codes, encoder lr 1e-5", {"code_norm": "batch", "lr_enc": 1e-5}),
    "pred5": ("5 predictor steps per encoder step", {"code_norm": "none", "pred_steps": 5}),
    "recon_sum": ("eq. 9.11 summed over pixels", {"code_norm": "none", "recon_reduce": "sum"}),
    "momentum": ("heavy-ball momentum 0.9 on eq. 7.4", {"code_norm": "none", "momentum": 0.9}),
    "torch_rmsprop": (
        "torch RMSprop, eps outside the root (the book's earlier optimiser)",
        {"code_norm": "none", "optimizer": "torch-rmsprop"},
    ),
}


def choose_variant(summaries: dict) -> str:
    """The variant the rest of chapter 9 uses: of the variants that disentangle most of their runs
    by the ground truth (share above one half), the one with the highest mean truth score (ties:
    the earlier, simpler one); the model as written when none does. A change is adopted only for
    a real separation, never for a difference in noise-level scores."""
    works = [t for t in summaries if summaries[t]["share_disentangled_truth"] > 0.5]
    if not works:
        return "faithful"
    return max(works, key=lambda t: (round(summaries[t]["truth_score_mean"], 6), -list(VARIANTS).index(t)))


def choose_by_score(summaries: dict) -> str:
    """``choose_variant`` read with the disentangling score (its share of disentangled runs and
    its mean score) instead of the old probe score: the choice chapter 9 makes."""
    return choose_variant(
        {
            t: {
                "share_disentangled_truth": s["share_disentangled"],
                "truth_score_mean": s["disentanglement_mean"],
            }
            for t, s in summaries.items()
        }
    )


def chapter_plan(
    profile: str, seed: int = 0, data_dir=None, use: str | None = None, check_data: bool = True
) -> dict:
    """Chapter 9's experiments: sweep name -> (function, list of configs). Without `use`, the
    sweeps that do not depend on the chosen variant; with `use` (a VARIANTS tag) also those that
    do. The notebook and any prefill process build the same configs and share cached runs."""
    s = chapter_sizes(profile, data_dir, check_data)
    common = {"n": s["n_comp"], "hidden": s["hidden"], "data_dir": data_dir}
    ddn = lambda kind, k, runs, **kw: [
        dict(
            kind=kind,
            seed=seed + i,
            epochs=list(s["epochs"][kind]),
            **{**common, "n": s["n"][kind]},
            **k,
            **kw,
        )
        for i in range(runs)
    ]
    plan = {
        "gmmn": (run_gmmn_on_codes, [dict(seed=seed, data_dir=data_dir, **s["gmmn"])]),
        "penalties": (
            run_penalty,
            [
                dict(
                    kind=k,
                    penalty=p,
                    lam=10.0,
                    seed=seed + i,
                    epochs=s["penalty_epochs"],
                    enc_layers=BENCHMARKS[k]["layers"][0],
                    dec_layers=BENCHMARKS[k]["layers"][2],
                    **common,
                )
                for k in ("simple", "additive")
                for p in ("xcov", "meannn")
                for i in range(s["n_runs_study"])
            ],
        ),
        "chase": (
            run_chase,
            [
                dict(
                    seed=seed,
                    epochs=s["chase_epochs"],
                    snapshots=list(s["chase_snapshots"]),
                    lr_pred=lp,
                    **common,
                )
                for lp in (0.01, 0.1)
            ],
        ),
    }
    ceiling = dict(seed=seed, epochs=s["ceiling_epochs"], hidden=s["hidden"], data_dir=data_dir)
    plan["ceiling"] = (run_ddn_ceiling, [dict(ceiling, kind=k, n=s["n"][k]) for k in CEILING_KINDS])
    for tag, (_, k) in VARIANTS.items():
        plan[f"simple_{tag}"] = (run_ddn, ddn("simple", k, s["n_runs_variant"]))
    if use is None:
        return plan
    k = VARIANTS[use][1]
    plan[f"simple_{use}_more"] = (run_ddn, ddn("simple", k, s["n_runs"])[s["n_runs_variant"] :])
    for kind in ("additive", "occlusive", "mnist"):
        runs = s["n_runs_mnist"] if kind == "mnist" else s["n_runs"]
        plan[f"{kind}_{use}"] = (run_ddn, ddn(kind, k, runs))
    e1 = s["epochs"]["simple"][0]
    plan[f"shared_encoder_{use}"] = (
        run_ddn,
        [
            dict(kind="simple", seed=seed + i, epochs=[e1, 0, 0], shared_encoder=sh, **common, **k)
            for sh in (False, True)
            for i in range(s["n_runs_study"])
        ],
    )
    plan[f"depth_{use}"] = (
        run_ddn,
        [
            dict(
                kind="additive",
                seed=seed + i,
                epochs=[s["depth_epochs"], 0, 0],
                layers=[d, max(d, 2), 1],
                **common,
                **k,
            )
            for d in s["depths"]
            for i in range(s["n_runs_study"])
        ],
    )
    return plan


def run_plan(profile: str, names=None, seed: int = 0, data_dir=None, use=None, n_jobs=None) -> dict:
    """Run (or load from the cache) the sweeps `names` of chapter_plan; returns name -> results.
    The sweeps' progress bars follow ``lib.training.progress_enabled`` (off in a book build)."""
    plan = chapter_plan(profile, seed, data_dir, use)
    names = list(plan) if names is None else names
    quiet = dict(profile=profile, n_jobs=n_jobs, progress=progress_enabled())
    return {n: sweep(*plan[n], name=n, batched=BATCHED.get(plan[n][0]), **quiet) for n in names}


def plan(profile, seed=0, data_dir=None, check_data=True, use="faithful"):
    """Chapter 9's sweeps at ``profile``: name -> ``lib.experiments.Experiment`` with its cost
    model (for ``lib.planning``). The sweeps after the variant comparison depend on the variant
    the notebook chooses from its runs; the plan prices them for ``use`` (default the model as
    written; every variant costs about the same)."""
    sweeps = chapter_plan(profile, seed, data_dir, use=use, check_data=check_data)
    return {
        name: Experiment(name, fn, configs, COSTS[fn], batched=BATCHED.get(fn))
        for name, (fn, configs) in sweeps.items()
    }


@dataclass(frozen=True)
class Sweeps:
    """Chapter 9's sweeps at one profile, seed and data folder. ``use`` names the variant chosen
    after the comparison on Simple MNIST; the sweeps that depend on it need it passed."""

    profile: str
    seed: int = 0
    data_dir: object = None

    def results(self, name: str, use: str | None = None) -> list:
        """The runs of sweep `name` (computed, or loaded from the cache)."""
        return run_plan(self.profile, [name], self.seed, self.data_dir, use=use)[name]

    def configs(self, name: str, use: str | None = None) -> list:
        """The configurations of sweep `name`, in the order of its runs."""
        return chapter_plan(self.profile, self.seed, self.data_dir, use=use)[name][1]


# ----------------------------------------------------------------------------- positive controls
# Toys with known independent causes (lib.toys, lib.toy_study): every DDN reading on the halves
# toy, the DDN as written on the others, beside the ASAE and the adversarial autoencoder.
TOY_SIZES = {
    "smoke": dict(n=400, hidden=32, ddn_epochs=(3, 1, 1), ae_epochs=2, readings=("default", "recon_sum")),
    "book": dict(n=2000, hidden=128, ddn_epochs=(100, 10, 5), ae_epochs=30, readings=tuple(READINGS)),
    "thesis": dict(n=2000, hidden=128, ddn_epochs=(100, 10, 5), ae_epochs=30, readings=tuple(READINGS)),
}


def toy_rows(profile: str, seed: int = 0) -> list:
    """The toy study at ``profile``'s sizes (``TOY_SIZES``): a list of dicts, one per toy, model,
    reading, stage and seed (``lib.toy_study.toy_study``)."""
    s = TOY_SIZES[profile]
    common = dict(seeds=(seed,), n=s["n"], hidden=s["hidden"], ddn_epochs=s["ddn_epochs"],
                  ae_epochs=s["ae_epochs"])  # fmt: skip
    rows = toy_study(kinds=("halves",), readings=s["readings"], **common)
    return rows + toy_study(kinds=("interleaved", "additive"), readings=("default",), **common)


def toy_table(rows: list):
    """The toy study for the page: own / other R^2 of each code (as a fraction of the oracle's for
    own), the MI before and after, and the verdict."""
    table = pd.DataFrame(rows)
    table["stage"] = table["stage"].map(lambda v: "" if v is None or v != v else f"stage {int(v)}")
    table["own R² (a, b)"] = [f"{a:.2f}, {b:.2f}" for a, b in zip(table["own_a"], table["own_b"])]
    table["other R² (a, b)"] = [f"{a:.2f}, {b:.2f}" for a, b in zip(table["other_a"], table["other_b"])]
    table["MI before → after"] = [f"{a:.2f} → {b:.2f}" for a, b in zip(table["mi_before"], table["mi_after"])]
    cols = ["toy", "model", "reading", "stage", "own R² (a, b)", "other R² (a, b)", "MI before → after",
            "verdict"]  # fmt: skip
    return table[cols].style.hide(axis="index")


NO_SOLVER = (
    "no model that should solve the toys separates any of them, so the toys cannot tell a failed "
    "method from a toy that independence cannot identify"
)


def toy_claim(rec, rows: list) -> dict:
    """The positive-control claim: the DDN separates causes that are independent by construction.

    Rule: "not tested" when a control is misjudged by the separation rule, or when no model that
    should solve the toys (the ASAE, the adversarial autoencoder) separates any of them (then the
    toys cannot tell a failed method from an unidentifiable toy); otherwise "agrees" when the DDN
    as written (stage 3) separates every toy a solver separates, "partly" when some, else "does not
    agree"."""
    controls = [r for r in rows if r["model"] == "control"]
    controls_ok = all((r["verdict"] == "separated") == CONTROLS[r["reading"]] for r in controls)
    solved = {r["toy"] for r in rows if r["model"] in ("asae", "adversarial") and r["verdict"] == "separated"}
    ddn = {r["toy"] for r in rows if r["model"] == "ddn" and r["reading"] == "default"
           and r["stage"] == 3 and r["verdict"] == "separated"}  # fmt: skip
    any_ddn = sorted(
        {f"{r['toy']}/{r['reading']}" for r in rows if r["model"] == "ddn" and r["verdict"] == "separated"}
    )
    if not controls_ok:
        verdict, why = "not tested", "the separation rule misjudges a control"
    elif not solved:
        verdict, why = "not tested", NO_SOLVER
    else:
        verdict = holds(solved <= ddn, partly=bool(solved & ddn))
        why = f"solved by a positive-control model: {', '.join(sorted(solved))}"
    n_ddn = sum(r["model"] == "ddn" for r in rows)
    return rec.claim(
        "9.2-toy-positive-control",
        method="DDN",
        figure="section 9.2 (ours: positive-control toys)",
        thesis="making each code unpredictable from the other separates independent causes",
        ours=f"controls judged as built: {'yes' if controls_ok else 'no'}; DDN rows separated: "
        f"{len(any_ddn)} of {n_ddn} ({', '.join(any_ddn) or 'none'}); toys a positive-control model "
        f"separates: {', '.join(sorted(solved)) or 'none'}; {why}",
        verdict=verdict,
        value=float(len(any_ddn) / max(n_ddn, 1)),
        rule="not tested when a control is misjudged or no positive-control model (ASAE, adversarial "
        "autoencoder) separates any toy; otherwise agrees when the DDN as written separates every toy "
        "such a model separates, partly when some, else does not agree",
    )


# ----------------------------------------------------------------------------- tables and claims
def gmmn_claim(rec, g: dict) -> dict:
    """Fig 9.1's numbers and claim: MMD^2 to the codes of the GMMN output against the input's."""
    ratio = g["mmd2_output"] / g["mmd2_noise"]
    rec.metric("gmmn_mmd2_output", g["mmd2_output"], thesis="close match (low MMD) from uninformative input")
    rec.metric("gmmn_mmd2_input", g["mmd2_noise"])
    rec.metric("gmmn_mmd2_target_halves", g["mmd2_target_halves"])
    return rec.claim(
        "9.1-gmmn",
        method="GMMN",
        figure="Fig 9.1",
        thesis="a GMMN maps uninformative spherical Gaussian input close to an "
        "autoencoder's code distribution, so MMD cannot measure entanglement",
        ours=f"MMD^2 to the target: GMMN output {g['mmd2_output']:.4f}, Gaussian input "
        f"{g['mmd2_noise']:.4f}, a second sample of the target {g['mmd2_target_halves']:.4f} "
        f"(the GMMN removes {1 - ratio:.0%} of the input's MMD)",
        verdict=at_least(1 - ratio, agrees=0.5),
        value=float(ratio),
        rule="agrees when the GMMN output's MMD^2 to the target is below half the Gaussian input's",
    )


def gmmn_table(g: dict) -> pd.DataFrame:
    """MMD^2 to the target codes (standardised) of the Gaussian input, the GMMN output and a
    second sample of the target (the floor)."""
    rows = {
        "Gaussian input": g["mmd2_noise"],
        "GMMN output": g["mmd2_output"],
        "second sample of the target": g["mmd2_target_halves"],
    }
    return pd.DataFrame({"MMD² to the target": rows}).round(4)


def penalty_table(cfgs: list, runs: list) -> pd.DataFrame:
    """One row per penalty run: MI and probe score before and after training, and the
    disentangling score of the final codes."""
    return pd.DataFrame(
        [
            {
                "penalty": c["penalty"],
                "data": c["kind"],
                "MI start": r["mi"][0],
                "MI end": r["mi"][-1],
                "probe score start": r["truth"][0],
                "probe score end": r["truth"][-1],
                "disentangling score": r["final_disentanglement"],
                "disentangled": bool(r["final_disentangled"]),
            }
            for c, r in zip(cfgs, runs)
        ]
    ).round(3)


def penalty_claims(rec, cfgs: list, runs: list) -> dict:
    """Section 9.1's penalty numbers and claim, judged by the disentangling score of the final
    codes (``verdict``) and by the old probe score >= 0.5 (``verdict_old_score``)."""
    groups: dict = {}
    for c, r in zip(cfgs, runs):
        groups.setdefault((c["penalty"], c["kind"]), []).append(r)
    for p in ("xcov", "meannn"):
        for k in ("simple", "additive"):
            rs = groups.get((p, k), [])
            rec.info(f"{p}_{k}_final_mi", [float(r["final_mi"]) for r in rs])  # NaN: a collapsed code
            rec.metric(
                f"{p}_{k}_truth_score_mean",
                float(np.mean([r["final_truth"] for r in rs])),
                thesis="does not disentangle beyond the simplest data",
            )
    good = [bool(r["final_disentangled"]) for r in runs]
    words = ", ".join(
        f"{p}/{k} {np.nanmean([r['final_disentanglement'] for r in rs]):.2f} "
        f"(probe {np.mean([r['final_truth'] for r in rs]):.2f})"
        for (p, k), rs in groups.items()
    )
    return rec.claim(
        "9.1-penalties",
        method="XCov/MeanNN penalties",
        figure="section 9.1 (text)",
        thesis="neither an XCov nor a MeanNN mutual-information penalty on split "
        "encoders disentangles beyond the simplest data",
        ours=f"final disentangling scores (old probe scores) {words}; disentangled in "
        f"{np.mean(good):.0%} of the runs",
        verdict=holds(not any(good)),
        verdict_old_score=holds(all(float(r["final_truth"]) < TRUTH_THRESHOLD for r in runs)),
        value=float(np.mean(good)),
        rule="agrees when no penalty run is disentangled by the disentangling score of its final codes",
    )


def chase_table(cfgs: list, runs: list) -> pd.DataFrame:
    """Fig 9.4 in numbers: the predictor's R^2 on z_a at each snapshot (1 = caught, <= 0 =
    evaded) and how far z_a moved between snapshots, in units of its spread."""
    return pd.DataFrame(
        [
            {
                "predictor lr": c["lr_pred"],
                "predictor R² at the snapshots": ", ".join(f"{v:.2f}" for v in r["pred_r2"]),
                "z_a moves (× spread)": ", ".join(f"{v:.2f}" for v in r["moves"]),
            }
            for c, r in zip(cfgs, runs)
        ]
    ).set_index("predictor lr")


def chase_claim(rec, chase: list) -> dict:
    """Fig 9.4's numbers and claim: equal learning rates (chase[0]) against a 10x faster
    predictor (chase[1])."""
    r2_eq, r2_fast = float(np.mean(chase[0]["pred_r2"])), float(np.mean(chase[1]["pred_r2"]))
    moves = [float(np.mean(r["moves"])) for r in chase]
    runaway = bool(r2_fast > r2_eq + 0.2 and moves[0] > moves[1])
    claim = rec.claim(
        "9.4-equal-lr",
        method="DDN",
        figure="Fig 9.4",
        thesis="with equal learning rates the encoder runs away from the predictor; "
        "a faster predictor fixes it",
        ours=f"mean predictor R^2 on z_a: {r2_eq:.2f} at equal rates, {r2_fast:.2f} with a "
        f"10x faster predictor; z_a moves {moves[0]:.2f} and {moves[1]:.2f} x its spread between snapshots",
        verdict=holds(runaway),
        value=r2_fast - r2_eq,
        rule="agrees when the faster predictor's R^2 is more than 0.2 higher and the codes move less with it",
    )
    rec.metric("equal_lr_pred_r2", r2_eq, thesis="the encoder runs away from the predictor")
    rec.metric("fast_pred_pred_r2", r2_fast, thesis="fixed by a faster predictor")
    rec.metric("equal_lr_code_moves", moves[0])
    rec.metric("fast_pred_code_moves", moves[1])
    return claim


EVERY_RUN_RULE = (
    "agrees when every run ends with KSG MI below 0.1 and is disentangled by the "
    "disentangling score; partly when every run meets one of the two or at least half "
    "meet both"
)


def every_run(runs: list, score: str = "new") -> str:
    """Verdict on "every run disentangles" (EVERY_RUN_RULE) by the disentangling score ("new"),
    by the old probe score >= 0.5 ("old"), or by the thesis's MI criterion alone ("mi": every run
    below 0.1 agrees, half of them partly)."""
    mi = np.array([float(r["final_mi"]) for r in runs])
    low = np.where(np.isfinite(mi), mi, np.inf) < MI_THRESHOLD
    if score == "mi":  # the thesis's own criterion alone
        return holds(bool(np.all(low)), partly=bool(np.mean(low) >= 0.5))
    good = np.array(
        [bool(r["final_disentangled"]) if score == "new" else float(r["final_truth"]) >= 0.5 for r in runs]
    )
    return holds(
        bool(np.all(low & good)), partly=bool(np.all(low) or np.all(good) or np.mean(low & good) >= 0.5)
    )


def variants_table(cmp_runs: dict, cmp_sum: dict) -> pd.DataFrame:
    """One row per variant: MI and probe score at the end of stage 1 and at the end, the shares
    disentangled by MI, by the disentangling score and by the old probe score, the code spread."""
    rows = []
    for tag, runs in cmp_runs.items():
        s = cmp_sum[tag]
        rows.append(
            {
                "variant": VARIANTS[tag][0],
                "MI: stage 1 → final (runs < 0.1)": f"{s['stage1_mi_mean']:.3f} → {s['final_mi_mean']:.3f} "
                f"({s['share_disentangled_mi']:.0%})",
                "score (runs disentangled)": f"{s['disentanglement_mean']:.3f} "
                f"({s['share_disentangled']:.0%})",
                "probe score (runs ≥ 0.5)": f"{s['truth_score_mean']:.3f} "
                f"({s['share_disentangled_truth']:.0%})",
                "code spread a / b": f"{np.mean([r['code_std_a'] for r in runs]):.3g} / "
                f"{np.mean([r['code_std_b'] for r in runs]):.3g}",
            }
        )
    return pd.DataFrame(rows).set_index("variant")


def record_variants(rec, cmp_runs: dict, cmp_sum: dict, use: str, use_old: str) -> str:
    """The comparison's numbers and one claim per variant; returns a sentence naming the variant
    the rest of the chapter uses (`use`, chosen by the disentangling score) and why."""
    for tag, runs in cmp_runs.items():
        s = cmp_sum[tag]
        rec.metric(f"simple_{tag}_final_mi_mean", s["final_mi_mean"], thesis="near 0 on every run")
        rec.metric(f"simple_{tag}_truth_score_mean", s["truth_score_mean"])
        rec.metric(f"simple_{tag}_stage1_mi_mean", s["stage1_mi_mean"], thesis="near 0")
        rec.metric(f"simple_{tag}_stage1_truth_mean", s["stage1_truth_mean"])
        rec.metric(f"simple_{tag}_share_disentangled_truth", s["share_disentangled_truth"], thesis=1.0)
        rec.metric(
            f"simple_{tag}_code_spread", float(np.mean([r["code_std_a"] + r["code_std_b"] for r in runs]) / 2)
        )
        rec.metric(f"simple_{tag}_share_disentangled", s["share_disentangled"])
        rec.metric(f"simple_{tag}_disentanglement_mean", s["disentanglement_mean"])
        rec.claim(
            f"9.5-simple-{tag}",
            method="DDN",
            figure="Fig 9.5 (variant comparison)",
            thesis="every run on Simple MNIST disentangles, with final MI near 0",
            ours=f"{VARIANTS[tag][0]}, {len(runs)} run(s): final MI {s['final_mi_mean']:.3f}; "
            f"MI < 0.1 in {s['share_disentangled_mi']:.0%}, disentangled by the disentangling "
            f"score in {s['share_disentangled']:.0%} (mean score {s['disentanglement_mean']:.2f}; "
            f"old probe score >= 0.5 in {s['share_disentangled_truth']:.0%})",
            verdict=every_run(runs),
            verdict_old_score=every_run(runs, "old"),
            verdict_mi=every_run(runs, "mi"),
            value=s["share_both"],
            rule=EVERY_RUN_RULE,
        )
    rec.info("variant_used", VARIANTS[use][0])
    rec.info("variant_old_probe_score_would_use", VARIANTS[use_old][0])
    gain = cmp_sum[use]["disentanglement_mean"] - cmp_sum["faithful"]["disentanglement_mean"]
    why = (
        f"it disentangles most runs by the disentangling score; {gain:+.2f} against the model as written"
        if use != "faithful"
        else "no change disentangles most of its runs by the disentangling score at this profile"
    )
    old = "" if use_old == use else f"; the old probe score would have chosen: {VARIANTS[use_old][0]}"
    return f"{VARIANTS[use][0]} ({why}{old})"


def record_benchmark(rec, kind, runs, thesis_mi, thesis_share, claim_id, figure, thesis_text) -> dict:
    """Record one benchmark's numbers and its two claims; returns its ``summarise``. "truth"
    metrics are the disentangling score's, the old probe score's are kept under ``probe_``."""
    s = summarise(runs)
    for key in ["final_mi_mean", "final_mi_sd", "share_disentangled_mi"]:
        thesis = {"final_mi_mean": thesis_mi, "share_disentangled_mi": thesis_share}.get(key)
        rec.metric(f"{kind}_{key}", s[key], thesis=thesis)
    rec.metric(f"{kind}_truth_score_mean", s["disentanglement_mean"])
    rec.metric(f"{kind}_share_disentangled_truth", s["share_disentangled"])
    rec.metric(f"{kind}_probe_score_mean", s["truth_score_mean"])
    rec.metric(f"{kind}_share_probe_at_least_0.5", s["share_disentangled_truth"])
    rec.metric(f"{kind}_recon_mse", float(np.mean([r["recon_mse"] for r in runs])))
    rec.metric(f"{kind}_stage1_mi_mean", s["stage1_mi_mean"])
    rec.metric(f"{kind}_stage1_truth_mean", s["stage1_truth_mean"])
    rec.claim(
        claim_id,
        method="DDN",
        figure=figure,
        thesis=thesis_text,
        ours=f"{len(runs)} runs: final MI {s['final_mi_mean']:.3f} ± {s['final_mi_sd']:.3f} "
        f"(end of stage 1 {s['stage1_mi_mean']:.3f}); MI < 0.1 in "
        f"{s['share_disentangled_mi']:.0%}, disentangled by the disentangling score in "
        f"{s['share_disentangled']:.0%} (mean score {s['disentanglement_mean']:.2f}), "
        f"both in {s['share_both']:.0%}; old probe score >= 0.5 in "
        f"{s['share_disentangled_truth']:.0%}",
        verdict=every_run(runs),
        verdict_old_score=every_run(runs, "old"),
        verdict_mi=every_run(runs, "mi"),
        value=s["share_both"],
        rule=EVERY_RUN_RULE,
    )
    rec.claim(
        f"{claim_id}-stage1",
        method="DDN",
        figure=figure.split("-")[0],
        thesis=f"the MI between the codes falls near 0 during stage 1 ({kind} MNIST)",
        ours=f"mean MI at the end of stage 1 {s['stage1_mi_mean']:.3f} nats (probe score "
        f"{s['stage1_truth_mean']:.2f})",
        verdict=at_most(s["stage1_mi_mean"], agrees=MI_THRESHOLD, partly=2 * MI_THRESHOLD),
        value=s["stage1_mi_mean"],
        rule="agrees when the mean MI at the end of stage 1 is below 0.1 nats, partly when below 0.2",
    )
    return s


def no_stage3_claim(rec, runs: list) -> dict:
    """Fig 9.8's claim: reconstructions before and after end-to-end fine-tuning (stage 3)."""
    mse_with = np.mean([r["recon_mse"] for r in runs])
    mse_without = np.mean([r["mse_no_stage3"] for r in runs])
    rec.metric(
        "simple_recon_mse_no_stage3", mse_without, thesis="slightly worse reconstructions without stage 3"
    )
    return rec.claim(
        "9.8-no-stage3",
        method="DDN",
        figure="Fig 9.8",
        thesis="without the end-to-end stage the disentangling is the same and the "
        "reconstructions slightly worse",
        ours=f"reconstruction MSE of y_ab over {len(runs)} runs: {mse_without:.4f} without "
        f"end-to-end fine-tuning, {mse_with:.4f} with it",
        verdict=holds(bool(mse_with < mse_without)),
        value=float(mse_without - mse_with),
        rule="agrees when the mean reconstruction error is lower after stage 3",
    )


def occlusive_above_claim(rec, occlusive_sum: dict, additive_sum: dict) -> dict:
    """Fig 9.12's comparison: Occlusive's final MI a little above Additive's, still near 0."""
    occ, add = occlusive_sum["final_mi_mean"], additive_sum["final_mi_mean"]
    above = bool(occ > add)
    return rec.claim(
        "9.12-occlusive-above-additive",
        method="DDN",
        figure="Fig 9.12",
        thesis="the final MI on Occlusive is a little above Additive's, still near 0",
        ours=f"mean final MI: Occlusive {occ:.3f}, Additive {add:.3f}",
        verdict=holds(above and occ < MI_THRESHOLD, partly=above),
        value=occ - add,
        rule="agrees when Occlusive's mean final MI is above Additive's and below 0.1; "
        "partly when only above",
    )


def mnist_numbers(mnist: list) -> dict:
    """Fig 9.15's numbers per run: final MI, the digit label's normalised probe accuracy from each
    code, ink R^2 from each code, the disentangling score, and the other code's ink R^2."""
    lab = np.array([np.asarray(r["final_normalised"])[:, 0] for r in mnist])  # label from z_a, z_b
    ink_r2 = np.array([np.asarray(r["ink_r2"]) for r in mnist])
    holder = (lab[:, 1] > lab[:, 0]).astype(int)  # the code that reads the digit better
    return {
        "mi": np.array([r["final_mi"] for r in mnist]),
        "lab": lab,
        "ink_r2": ink_r2,
        "score": np.array([float(r["final_disentanglement"]) for r in mnist]),
        "good": np.array([bool(r["final_disentangled"]) for r in mnist]),
        "ink_other": float(np.mean(ink_r2[np.arange(len(mnist)), 1 - holder])),
    }


def mnist_table(m: dict) -> pd.DataFrame:
    """What each code carries on plain MNIST (means over runs)."""
    return pd.DataFrame(
        {
            "digit label (normalised probe accuracy)": m["lab"].mean(0),
            "ink R²": m["ink_r2"].mean(0),
        },
        index=["z_a", "z_b"],
    ).round(2)


def mnist_claims(rec, m: dict) -> None:
    """Fig 9.15's numbers and its two claims (digit vs stroke thickness; final MI about -0.01)."""
    lab, ink_r2, n = m["lab"], m["ink_r2"], len(m["mi"])
    rec.metric("mnist_final_mi_mean", float(m["mi"].mean()), thesis=-0.01)
    rec.metric("mnist_label_from_za", float(lab[:, 0].mean()), thesis="one cause ~ digit identity")
    rec.metric("mnist_label_from_zb", float(lab[:, 1].mean()))
    rec.metric("mnist_ink_r2_za", float(ink_r2[:, 0].mean()), thesis="the other cause ~ stroke thickness")
    rec.metric("mnist_ink_r2_zb", float(ink_r2[:, 1].mean()))
    rec.metric("mnist_disentanglement_mean", float(np.nanmean(m["score"])))
    rec.metric("mnist_share_digit_disentangled", float(m["good"].mean()))
    old_ok = max(abs(lab[:, 0].mean() - lab[:, 1].mean()), 0) > 0.3 and max(ink_r2.mean(0)) > 0.3
    rec.claim(
        "9.15-mnist",
        method="DDN",
        figure="Fig 9.15",
        thesis="on plain MNIST one cause captures digit identity, the other stroke thickness",
        ours=f"{n} run(s): the digit label is held by one code alone (disentangling score "
        f"{np.nanmean(m['score']):.2f}) in {m['good'].mean():.0%}; ink R^2 of the other code "
        f"{m['ink_other']:.2f}; label probe {lab[:, 0].mean():.2f} / {lab[:, 1].mean():.2f}, ink R^2 "
        f"{ink_r2[:, 0].mean():.2f} / {ink_r2[:, 1].mean():.2f} (z_a / z_b)",
        verdict=holds(
            bool(m["good"].all() and m["ink_other"] > 0.3),
            partly=bool(m["good"].any() or m["ink_other"] > 0.3),
        ),
        verdict_old_score=holds(bool(old_ok)),
        value=float(m["good"].mean()),
        rule="agrees when in every run the digit is held by one code alone (disentangling score) "
        "and the other code predicts ink with R^2 > 0.3; partly when one of the two holds",
    )
    mi = float(m["mi"].mean())
    rec.claim(
        "9.15-mnist-mi",
        method="DDN",
        figure="Fig 9.15",
        thesis="final MI about -0.01 on plain MNIST",
        ours=f"mean final MI {mi:.3f} over {n} run(s)",
        verdict=at_least(-abs(mi + 0.01), agrees=-0.05),
        value=mi,
        rule="agrees when the mean final MI is within 0.05 of -0.01",
    )


def shared_encoder_claim(rec, cfgs: list, runs: list) -> dict:
    """Section 9.5.1's claim: the MI's epoch-to-epoch jitter over the second half of stage 1 with
    one shared encoder against split encoders."""
    jitter = lambda r: float(np.std(np.diff(r["mi"][len(r["mi"]) // 2 :])))
    split_j = np.mean([jitter(r) for c, r in zip(cfgs, runs) if not c["shared_encoder"]])
    shared_j = np.mean([jitter(r) for c, r in zip(cfgs, runs) if c["shared_encoder"]])
    rec.metric("shared_encoder_mi_jitter", shared_j, thesis="training is unstable")
    rec.metric("split_encoder_mi_jitter", split_j)
    n_steps = len(runs[0]["mi"]) - len(runs[0]["mi"]) // 2 - 1  # differences the jitter is taken over
    return rec.claim(
        "9.5.1-shared-encoder",
        method="DDN",
        figure="section 9.5.1 (text)",
        thesis="one shared encoder instead of two makes training unstable",
        ours=f"epoch-to-epoch jitter of the MI over the second half of stage 1: shared "
        f"{shared_j:.3f}, split {split_j:.3f}",
        verdict=("not tested" if n_steps < 3 else holds(bool(shared_j > 1.5 * split_j))),
        value=float(shared_j / max(split_j, 1e-12)),
        rule="agrees when the shared encoder's MI jitter is more than 1.5 times the split "
        "encoders'; not tested with fewer than 3 epoch-to-epoch steps in the second half of stage 1",
    )


def depth_summary(depths, cfgs: list, runs: list) -> pd.DataFrame:
    """Per encoder depth L_e: mean final MI, probe score and disentangling score, and the share
    of runs disentangled by the disentangling score."""
    rows = []
    for d in depths:
        rs = [r for c, r in zip(cfgs, runs) if c["layers"][0] == d]
        rows.append(
            {
                "L_e": d,
                "final MI": float(np.mean([r["final_mi"] for r in rs])),
                "probe score": float(np.mean([r["final_truth"] for r in rs])),
                "disentangling score": float(np.nanmean([r["final_disentanglement"] for r in rs])),
                "share disentangled": float(np.mean([bool(r["final_disentangled"]) for r in rs])),
            }
        )
    return pd.DataFrame(rows).set_index("L_e")


def depth_claims(rec, table: pd.DataFrame) -> dict:
    """Section 9.5.2's numbers and claim from ``depth_summary``: too deep an encoder reaches MI
    near 0 without disentangling while a shallower one disentangles."""
    depths = list(table.index)
    deep, shallow = max(depths), [d for d in depths if d < max(depths)]
    for d in depths:
        rec.metric(f"depth_{d}_share_disentangled", float(table.loc[d, "share disentangled"]))
        rec.metric(
            f"depth_{d}_final_mi_mean",
            float(table.loc[d, "final MI"]),
            thesis="too deep: MI near 0 but no visible disentangling" if d == deep else None,
        )
        rec.metric(f"depth_{d}_truth_score_mean", float(table.loc[d, "probe score"]))
    mi = table["final MI"]
    verdicts = {}
    for score, dis in (
        ("new", table["share disentangled"] > 0.5),
        ("old", table["probe score"] >= 0.5),
    ):
        first = bool(mi[deep] < MI_THRESHOLD and not dis[deep])
        verdicts[score] = holds(first and any(dis[d] for d in shallow), partly=first)
    share = table["share disentangled"]
    return rec.claim(
        "9.5.2-too-deep",
        method="DDN",
        figure="section 9.5.2 (text)",
        thesis="encoders have a Goldilocks zone: too deep an encoder reaches MI near 0 "
        "without visible disentangling",
        ours=f"L_e = {deep}: final MI {mi[deep]:.3f}, disentangled in {share[deep]:.0%} of runs; shallower: "
        + ", ".join(f"L_e = {d}: MI {mi[d]:.3f}, disentangled {share[d]:.0%}" for d in shallow)
        + ("" if (share > 0.5).any() else "; no depth disentangles, so no Goldilocks zone is visible"),
        verdict=verdicts["new"],
        verdict_old_score=verdicts["old"],
        value=float(mi[deep]),
        rule="agrees when the deepest encoder ends below 0.1 nats without disentangling "
        "(most runs) while a shallower one disentangles; partly when only the first half holds",
    )


def summary_table(rows: list, mnist_mi: float) -> pd.DataFrame:
    """The chapter's summary: one row per (name, ``summarise`` dict, thesis statement), and
    plain MNIST's final MI. Each number carries its share of runs in brackets, so the table keeps
    to the column."""
    out = [
        {
            "benchmark": name,
            "final MI (runs < 0.1)": f"{s['final_mi_mean']:.3f} ± {s['final_mi_sd']:.3f} "
            f"({s['share_disentangled_mi']:.0%})",
            "score (runs disentangled)": f"{s['disentanglement_mean']:.2f} ({s['share_disentangled']:.0%})",
            "probe score": f"{s['truth_score_mean']:.2f}",
            "thesis": thesis,
        }
        for name, s, thesis in rows
    ]
    out.append({"benchmark": "MNIST", "final MI (runs < 0.1)": f"{mnist_mi:.3f}", "thesis": "final MI -0.01"})
    return pd.DataFrame(out).set_index("benchmark").fillna("")
