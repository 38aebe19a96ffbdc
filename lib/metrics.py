"""Ground-truth disentangling scores (our addition: the thesis had only MI and by-eye judgement).

Composite datasets carry both true parts and both labels, so a model's two causes can be scored
against the truth (DESIGN.md, "Records, regression and truth"):

* ``probe_score``: a logistic-regression probe on held-out data predicts each part's label from
  each cause's code. With ``n[i][j]`` the accuracy of cause i on part j, rescaled so that chance
  (the majority class) is 0 and perfect is 1, the score is the gap between the matched and the
  crossed assignment, ``|(n[0][0] + n[1][1]) - (n[0][1] + n[1][0])| / 2``: 1 when each code carries
  exactly one part's label, 0 when both carry the same information (or none).
* ``reconstruction_score``: each cause's reconstruction against its best-matching true part.
* ``code_scores``: KSG MI between the codes plus the probe, the per-epoch record of chapters 8-9.
"""
import warnings

import numpy as np


def _as_2d(name, a):
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        a = a.reshape(len(a), -1)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def _check_lengths(**arrays):
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"inputs have different numbers of rows: {lengths}")


def _probe_accuracy(code, label, train, test, random_state):
    """Held-out accuracy of a standardised logistic-regression probe, and the chance level."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes, counts = np.unique(label[test], return_counts=True)
    chance = counts.max() / counts.sum()
    if len(np.unique(label[train])) < 2:
        return chance, chance
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500,
                                                               random_state=random_state))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on near-constant codes
        probe.fit(code[train], label[train])
    return float(probe.score(code[test], label[test])), float(chance)


def probe_score(code_a, code_b, label_a, label_b, test_size=0.3, random_state=0):
    """Label-probe disentangling score of two causes' codes against two parts' labels.

    Returns ``score`` in [0, 1], ``acc`` (acc[i][j]: held-out accuracy predicting part j's label
    from cause i's code), ``normalised`` (chance -> 0, perfect -> 1, clipped at 0), ``chance`` per
    part and ``swapped`` (True when cause a matches part b better than part a).
    """
    codes = [_as_2d("code_a", code_a), _as_2d("code_b", code_b)]
    labels = [np.asarray(label_a).ravel(), np.asarray(label_b).ravel()]
    _check_lengths(code_a=codes[0], code_b=codes[1], label_a=labels[0], label_b=labels[1])
    n = len(labels[0])
    if n < 10:
        raise ValueError(f"probe_score needs at least 10 rows, got {n}")
    order = np.random.default_rng(random_state).permutation(n)
    n_test = max(2, int(round(test_size * n)))
    test, train = order[:n_test], order[n_test:]
    acc = np.zeros((2, 2))
    chance = np.zeros(2)
    for i in range(2):
        for j in range(2):
            acc[i, j], chance[j] = _probe_accuracy(codes[i], labels[j], train, test, random_state)
    norm = np.clip((acc - chance[None, :]) / np.maximum(1 - chance[None, :], 1e-12), 0, 1)
    matched, crossed = norm[0, 0] + norm[1, 1], norm[0, 1] + norm[1, 0]
    return {"score": float(abs(matched - crossed) / 2), "acc": acc.tolist(),
            "normalised": norm.tolist(), "chance": chance.tolist(),
            "swapped": bool(crossed > matched)}


def reconstruction_score(recon_a, recon_b, part_a, part_b):
    """Each cause's reconstruction against its best-matching true part (mean squared error).

    ``mse`` is [cause a, cause b] under the better assignment, ``mse_crossed`` under the other,
    ``swapped`` says whether cause a matched part b. ``score`` = (crossed - matched) /
    (crossed + matched), in [0, 1] under the better assignment: 0 when the assignment does not
    matter (nothing separated), 1 when each cause reproduces its part exactly.
    """
    ra, rb, pa, pb = (_as_2d(k, v) for k, v in
                      [("recon_a", recon_a), ("recon_b", recon_b),
                       ("part_a", part_a), ("part_b", part_b)])
    _check_lengths(recon_a=ra, recon_b=rb, part_a=pa, part_b=pb)
    if not (ra.shape == rb.shape == pa.shape == pb.shape):
        raise ValueError(f"shapes differ: recon_a {ra.shape}, recon_b {rb.shape}, "
                         f"part_a {pa.shape}, part_b {pb.shape}")
    mse = lambda u, v: float(np.mean((u - v) ** 2))
    straight = [mse(ra, pa), mse(rb, pb)]
    crossed = [mse(ra, pb), mse(rb, pa)]
    swapped = sum(crossed) < sum(straight)
    best, other = (crossed, straight) if swapped else (straight, crossed)
    total = sum(best) + sum(other)
    score = (sum(other) - sum(best)) / total if total > 0 else 0.0
    return {"score": float(score), "mse": best, "mse_crossed": other, "swapped": bool(swapped)}


def code_scores(code_a, code_b, label_a, label_b, n_mi=1000, random_state=0):
    """KSG MI between two codes on a fixed subsample of ``n_mi`` rows, plus the label probe."""
    a, b = _as_2d("code_a", code_a), _as_2d("code_b", code_b)
    _check_lengths(code_a=a, code_b=b)
    rows = np.random.default_rng(random_state).permutation(len(a))[:n_mi]
    scores = probe_score(a, b, label_a, label_b, random_state=random_state)
    scores["mi"] = _safe_mi(a[rows], b[rows], random_state)
    return scores


def _safe_mi(a, b, random_state):
    """KSG MI, or NaN when a code has collapsed to a constant (MI is then undefined)."""
    from lib.mi import ksg_mi

    if np.any(a.std(0) == 0) or np.any(b.std(0) == 0):
        return float("nan")
    return float(ksg_mi(a, b, random_state=random_state))
