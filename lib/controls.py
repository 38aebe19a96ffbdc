"""Controls for the ground-truth verdicts: codes known to be disentangled, and codes known not.

A verdict of "does not agree" on the ground truth needs a ruler that passes its controls at the
same rows and code width (book/design.md, "Records, claims and controls"):

* **positive** (must be called disentangled): :func:`oracle_codes`, each part's own PCA at the
  code width (the control the decision is calibrated on, ``lib.metrics.disentanglement``'s
  ``control=``); :func:`projection_codes`, random projections of each part (disentangled by
  construction, weaker); a refit of the oracle on other rows; and, in the chapters, the supervised
  ceiling (the model trained with the true parts as targets).
* **negative** (must not be): :func:`mixed_codes` (each code an equal mix of both parts' oracle
  codes), :func:`collapsed_codes` (one code constant), :func:`both_in_one_codes` (one code holds
  both parts, the other is noise), and, in the chapters, the untrained network's codes.

:func:`control_rows` scores them all with one rule and reports each one's KSG MI beside its score,
so that a reader sees the MI scale at the same n and k: what built-separate codes, built-mixed
codes and an untrained network read. :func:`error_rates` repeats the controls over seeds and
counts how often the rule gets them wrong.
"""

import hashlib

import numpy as np

from lib.metrics import CONTROL_SHARE, disentanglement_where_scorable, safe_mi

MI_ROWS = 1000  # rows of the KSG MI beside each control (the chapters' n_eval at book profile)


def _flat(part, name):
    part = np.asarray(part, dtype=np.float64)
    part = part.reshape(len(part), -1)
    if not np.all(np.isfinite(part)):
        raise ValueError(f"{name} contains NaN or inf")
    return part


_PCA_CACHE = {}  # a sweep worker scores many runs on the same rows: each part's PCA is fitted once


def _digest(array) -> str:
    array = np.ascontiguousarray(array)
    return hashlib.sha1(array.tobytes()).hexdigest() + str(array.shape) + str(array.dtype)


def _pca(part, width, fit_rows=None):
    """``part``'s first ``width`` principal-component scores (fitted on ``fit_rows``), remembered
    by content for the few latest parts (the same numbers either way)."""
    from sklearn.decomposition import PCA

    key = (_digest(part), width, None if fit_rows is None else _digest(np.asarray(fit_rows)))
    if key not in _PCA_CACHE:
        fit = part if fit_rows is None else part[fit_rows]
        width = int(min(width, fit.shape[1], len(fit)))
        if len(_PCA_CACHE) >= 8:
            _PCA_CACHE.clear()
        _PCA_CACHE[key] = PCA(width, svd_solver="full").fit(fit).transform(part)
    return _PCA_CACHE[key].copy()


def oracle_codes(part_a, part_b, width, fit_rows=None):
    """Positive control: each part's own first ``width`` principal components (per-part PCA).

    Each code is a function of its own part only, so it is disentangled by construction, and PCA
    keeps as much of the part as a linear code of that width can. ``fit_rows`` fits the PCA on a
    subset (a refit on other rows is a second, independent positive control).
    """
    if not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    a, b = _flat(part_a, "part_a"), _flat(part_b, "part_b")
    if len(a) != len(b):
        raise ValueError(f"part_a has {len(a)} rows and part_b {len(b)}")
    return _pca(a, width, fit_rows), _pca(b, width, fit_rows)


def projection_codes(part_a, part_b, width, random_state=0):
    """Positive control, weaker: a random Gaussian projection of each part to ``width`` dims."""
    rng = np.random.default_rng(random_state)
    a, b = _flat(part_a, "part_a"), _flat(part_b, "part_b")
    return a @ rng.normal(size=(a.shape[1], width)), b @ rng.normal(size=(b.shape[1], width))


def mixed_codes(code_a, code_b):
    """Negative control: each code an equal mix of both, (a + b) / sqrt 2 and (a - b) / sqrt 2."""
    a, b = np.asarray(code_a, float), np.asarray(code_b, float)
    return (a + b) / np.sqrt(2), (a - b) / np.sqrt(2)


def collapsed_codes(code_a, code_b):
    """Negative control: code a kept, code b constant (one network has stopped carrying a cause)."""
    return np.asarray(code_a, float), np.zeros_like(np.asarray(code_b, float))


def both_in_one_codes(code_a, code_b, random_state=0):
    """Negative control: code a holds both parts (side by side), code b is pure noise."""
    a, b = np.asarray(code_a, float), np.asarray(code_b, float)
    noise = np.random.default_rng(random_state).normal(size=b.shape)
    return np.hstack([a, b]), noise


def built_controls(part_a, part_b, width, random_state=0):
    """name -> (kind, (code_a, code_b)) for every control that needs only the true parts."""
    oa, ob = oracle_codes(part_a, part_b, width)
    half = np.random.default_rng(random_state).permutation(len(oa))[: max(width + 1, len(oa) // 2)]
    return {
        "oracle (per-part PCA)": ("positive", (oa, ob)),
        "oracle refit on half the rows": ("positive", oracle_codes(part_a, part_b, width, half)),
        "random projection of each part": (
            "positive",
            projection_codes(part_a, part_b, width, random_state + 1),
        ),
        "built-mixed (each code half of each part)": ("negative", mixed_codes(oa, ob)),
        "one code collapsed": ("negative", collapsed_codes(oa, ob)),
        "one code carries both": ("negative", both_in_one_codes(oa, ob, random_state)),
    }


def judge(code_a, code_b, label_a, label_b, control, random_state=0, n_permutations=200):
    """The book's ground-truth decision on one pair of codes, or None where nothing is scorable.

    ``lib.metrics.disentanglement_where_scorable`` with ``control`` (the oracle codes of the same
    rows), without DCI. A constant code makes the MI undefined but is scored as any other code.
    """
    return disentanglement_where_scorable(
        code_a, code_b, label_a, label_b, random_state=random_state, control=control,
        n_permutations=n_permutations, with_dci=False,
    )  # fmt: skip


def control_rows(part_a, part_b, label_a, label_b, width, extra=None, random_state=0):
    """Every control scored by the rule, with its KSG MI: a list of dicts (one per control).

    ``extra``: name -> (kind, (code_a, code_b)) for controls the caller builds (the untrained
    network's codes, the supervised ceiling's). Each row holds ``control``, ``kind``, ``score``,
    ``share of oracle`` (score / the oracle's score), ``disentangled``, ``correct`` (the rule
    says what the control is known to be), ``mi`` (nats, on the first MI_ROWS rows, k = 3; NaN
    for a constant code) and the own/other readout ``matrix``.
    """
    controls = built_controls(part_a, part_b, width, random_state)
    oracle = controls["oracle (per-part PCA)"][1]
    controls.update(extra or {})
    rows = []
    for name, (kind, (ca, cb)) in controls.items():
        d = judge(ca, cb, label_a, label_b, oracle, random_state)
        if d is None:
            continue
        m = slice(0, MI_ROWS)
        rows.append({
            "control": name,
            "kind": kind,
            "score": d["score_unclipped"],
            "share of oracle": d["score_unclipped"] / d["control_score"],
            "disentangled": d["disentangled"],
            "correct": d["disentangled"] == (kind == "positive"),
            "mi": safe_mi(np.asarray(ca)[m], np.asarray(cb)[m], random_state),
            "matrix": d["matrix"],
            "testable": d["testable"],
        })  # fmt: skip
    return rows


def controls_pass(rows):
    """True when every control of ``rows`` is judged as it is known to be (the ruler is usable)."""
    return bool(rows) and all(r["correct"] for r in rows)


def ruler_reading(rows):
    """One sentence on the ruler at this size: which control failed and by how much, or none."""
    failed = [r for r in rows if not r["correct"]]
    if not failed:
        return (
            f"every control is judged as it is built to be ({len(rows)} controls; the bar is "
            f"{CONTROL_SHARE:.0%} of the oracle's score)"
        )
    what = "; ".join(
        f"{r['control']} ({r['kind']}) scored {r['score']:.2f}, "
        f"{r['share of oracle']:.0%} of the oracle, judged "
        f"{'disentangled' if r['disentangled'] else 'not disentangled'}"
        for r in failed
    )
    return f"the ruler fails {len(failed)} of {len(rows)} controls: {what}"


def error_rates(part_a, part_b, label_a, label_b, width, seeds=(0, 1, 2)):
    """False-negative rate on the positive controls and false-positive rate on the negative ones,
    across ``seeds`` (each seed redraws the folds, the projection, the refit rows and the noise)."""
    rows = [r for s in seeds for r in control_rows(part_a, part_b, label_a, label_b, width, random_state=s)]
    pos = [r for r in rows if r["kind"] == "positive"]
    neg = [r for r in rows if r["kind"] == "negative"]
    return {
        "false_negative_rate": float(np.mean([not r["disentangled"] for r in pos])),
        "false_positive_rate": float(np.mean([r["disentangled"] for r in neg])),
        "n_positive": len(pos),
        "n_negative": len(neg),
        "rows": rows,
    }


def truth_decision(d):
    """What a run keeps of its ground-truth decision ``d`` (``judge``'s result; None when nothing
    could be scored): score, decision, the oracle's score, the bar, testability and the 2x2
    own/other readout matrix (rows: code a, code b; columns: part a, part b)."""
    nan = float("nan")
    if d is None:
        return {
            "final_disentanglement": nan,
            "final_disentangled": False,
            "final_control_score": nan,
            "final_threshold": nan,
            "final_testable": False,
            "final_matrix": np.full((2, 2), nan),
        }
    return {
        "final_disentanglement": float(d["score"]),
        "final_disentangled": bool(d["disentangled"]),
        "final_control_score": float(d["control_score"]),
        "final_threshold": float(d["threshold"]),
        "final_testable": bool(d["testable"]),
        "final_matrix": np.asarray(d["matrix"], float),
    }


def ceiling_row(runs, oracle_score=None):
    """The supervised ceiling as a positive control row, from its runs' recorded decisions."""
    score = float(np.nanmean([r["final_disentanglement"] for r in runs]))
    oracle = float(np.nanmean([r.get("final_control_score", np.nan) for r in runs]))
    oracle = oracle if oracle_score is None else oracle_score
    passed = bool(runs) and all(bool(r["final_disentangled"]) for r in runs)
    return {
        "control": "supervised ceiling",
        "kind": "positive",
        "score": score,
        "share of oracle": score / oracle if oracle else float("nan"),
        "disentangled": passed,
        "correct": passed,
        "mi": float("nan"),
        "matrix": None,
        "testable": True,
        "epochs": [int(r.get("epochs_needed", -1)) for r in runs],
    }


def make_ruler(setting, rows):
    """The ruler at one setting (benchmark, code width, rows): what a claim carries as
    ``controls``. ``testable`` is True only when every control is judged as it is built to be;
    ``mi_scale`` is the KSG MI of built-separate (the oracle), built-mixed and untrained codes."""
    by_name = {r["control"]: r for r in rows}
    scale = {
        "built-separate": by_name.get("oracle (per-part PCA)", {}).get("mi", float("nan")),
        "built-mixed": by_name.get("built-mixed (each code half of each part)", {}).get("mi", float("nan")),
        "untrained network": by_name.get("untrained network", {}).get("mi", float("nan")),
    }
    brief = [
        {k: r[k] for k in ("control", "kind", "score", "share of oracle", "disentangled", "mi")}
        | ({"epochs": r["epochs"]} if "epochs" in r else {})
        for r in rows
    ]
    return {
        "setting": setting,
        "testable": controls_pass(rows),
        "reading": ruler_reading(rows),
        "share": CONTROL_SHARE,
        "mi_scale": scale,
        "controls": brief,
    }


def rulers_table(rulers):
    """One row per (setting, control): the controls table a chapter shows."""
    import pandas as pd

    rows = [
        {
            "setting": ruler["setting"],
            "control": c["control"],
            "built to be": "disentangled" if c["kind"] == "positive" else "not disentangled",
            "score": c["score"],
            "of oracle": c["share of oracle"],
            "judged": "disentangled" if c["disentangled"] else "not disentangled",
            "MI (nats)": c["mi"],
        }
        for ruler in rulers
        for c in ruler["controls"]
    ]
    return pd.DataFrame(rows)


def joint_ruler(*rulers):
    """One ruler for a claim that compares settings: testable only when each of them is."""
    if len(rulers) == 1:
        return rulers[0]
    failed = [r for r in rulers if not r["testable"]]
    return {
        "setting": " and ".join(r["setting"] for r in rulers),
        "testable": not failed,
        "reading": "; ".join(f"{r['setting']}: {r['reading']}" for r in (failed or rulers)),
        "share": rulers[0]["share"],
        "mi_scale": {r["setting"]: r["mi_scale"] for r in rulers},
        "controls": [dict(c, setting=r["setting"]) for r in rulers for c in r["controls"]],
    }
