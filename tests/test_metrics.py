"""The ground-truth disentangling scores of lib.metrics."""

import numpy as np
import pytest

from lib.metrics import probe_score, reconstruction_score

rng = np.random.default_rng(0)
N = 600
LABEL_A, LABEL_B = rng.integers(0, 3, N), rng.integers(0, 3, N)


def code_for(label, noise=0.1):
    """A 2-D code that carries ``label`` linearly, plus noise."""
    centres = np.array([[0, 0], [3, 0], [0, 3]], float)
    return centres[label] + noise * rng.standard_normal((len(label), 2))


def test_perfect_separation_scores_one():
    out = probe_score(code_for(LABEL_A), code_for(LABEL_B), LABEL_A, LABEL_B)
    assert out["score"] > 0.95 and not out["swapped"]


def test_swapped_causes_are_detected():
    out = probe_score(code_for(LABEL_B), code_for(LABEL_A), LABEL_A, LABEL_B)
    assert out["score"] > 0.95 and out["swapped"]


def test_entangled_codes_score_near_zero():
    both = np.hstack([code_for(LABEL_A), code_for(LABEL_B)])
    assert probe_score(both, both, LABEL_A, LABEL_B)["score"] < 0.05


def test_uninformative_codes_score_near_zero():
    noise = rng.standard_normal((N, 2))
    assert probe_score(noise, rng.standard_normal((N, 2)), LABEL_A, LABEL_B)["score"] < 0.1


def test_probe_rejects_bad_input():
    with pytest.raises(ValueError, match="NaN"):
        probe_score(np.full((N, 2), np.nan), code_for(LABEL_B), LABEL_A, LABEL_B)
    with pytest.raises(ValueError, match="different numbers of rows"):
        probe_score(code_for(LABEL_A)[:-1], code_for(LABEL_B), LABEL_A, LABEL_B)


def test_reconstruction_score():
    pa, pb = rng.random((50, 10)), rng.random((50, 10))
    exact = reconstruction_score(pa, pb, pa, pb)
    assert exact["score"] == 1.0 and exact["mse"] == [0.0, 0.0]
    swapped = reconstruction_score(pb, pa, pa, pb)
    assert swapped["swapped"] and swapped["score"] == 1.0
    half = (pa + pb) / 2
    assert reconstruction_score(half, half, pa, pb)["score"] == pytest.approx(0.0)
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_score(pa, pb[:, :5], pa, pb)


# --- the cross-validated disentangling score -------------------------------------------------
from lib.metrics import dci, disentanglement, reconstruction_separation  # noqa: E402

N2 = 1500
LA10, LB10 = rng.integers(0, 10, N2), rng.integers(0, 10, N2)
NO_LABEL = np.full(N2, -1)


def embed(label, d=4, noise=0.3, seed=1):
    """A d-dim code: a fixed random centre per class (10 classes) plus noise."""
    centres = np.random.default_rng(seed).standard_normal((10, d)) * 1.5
    return centres[label] + noise * rng.standard_normal((len(label), d))


def ring(label, noise=0.1):
    """A 2-d code writing ``label`` as the radius of a ring, at a random angle (not linear)."""
    theta = rng.uniform(0, 2 * np.pi, len(label))
    return (1 + label)[:, None] * np.c_[np.cos(theta), np.sin(theta)] + noise * rng.standard_normal(
        (len(label), 2)
    )


def score(code_a, code_b, label_a=LA10, label_b=LB10, **kw):
    kw.setdefault("with_dci", False)
    return disentanglement(code_a, code_b, label_a, label_b, **kw)


def test_clean_codes_are_disentangled():
    out = score(embed(LA10), embed(LB10, d=6, seed=2), with_dci=True)
    assert out["disentangled"] and out["score"] > 0.9 and out["assignment"] == "a->a,b->b"
    assert min(out["informativeness"]) > 0.9 and min(out["exclusivity"]) > 0.9
    assert out["threshold"] == max(0.5, out["null"]["value"]) and out["null"]["p_value"] < 0.01
    assert len(out["fold_scores"]) == 5 and 0 <= out["score_sd"] < 0.05
    assert out["linear"]["score"] > 0.9 and out["nonlinear"]["score"] > 0.9
    assert out["dci_code_disentanglement"] > 0.9 and out["dci_code_completeness"] > 0.9


def test_swapped_codes_use_the_swapped_assignment():
    out = score(embed(LB10), embed(LA10, d=6, seed=2))
    assert out["disentangled"] and out["score"] > 0.9 and out["assignment"] == "a->b,b->a"
    assert out["swapped"]


def test_ring_codes_need_the_nonlinear_readout():
    out = score(ring(LA10), ring(LB10))
    assert out["linear"]["score"] < 0.1 and out["nonlinear"]["score"] > 0.8
    assert out["disentangled"] and out["score"] > 0.8
    assert out["readout_used"][0][0] == out["readout_used"][1][1] == "nonlinear"
    assert not score(ring(LA10), ring(LB10), readout="linear")["disentangled"]


@pytest.mark.parametrize("collapsed", ["constant", "tiny noise"])
def test_a_collapsed_code_scores_zero(collapsed):
    code_b = np.zeros((N2, 3)) if collapsed == "constant" else 1e-3 * rng.standard_normal((N2, 3))
    out = score(embed(LA10), code_b)
    assert out["score"] < 0.05 and not out["disentangled"]
    assert out["informativeness"][0] > 0.9 and abs(out["informativeness"][1]) < 0.05


def test_shared_codes_are_not_disentangled():
    both = np.hstack([embed(LA10), embed(LB10, seed=2)])
    one_both = score(both, embed(LB10, seed=3))  # a carries both parts, b carries one
    assert one_both["score"] < 0.1 and not one_both["disentangled"]
    assert one_both["leakage"][0] > 0.9
    both_both = score(both, np.hstack([embed(LA10, seed=4), embed(LB10, seed=3)]))
    assert both_both["score"] < 0.05 and not both_both["disentangled"]


def test_noise_codes_score_zero_without_upward_bias():
    out = score(rng.standard_normal((N2, 4)), rng.standard_normal((N2, 6)))
    assert out["score"] < 0.05 and not out["disentangled"]
    assert abs(out["score_unclipped"]) < 0.04  # fold values are not clipped
    assert abs(out["null"]["mean"]) < 0.02 and out["null"]["value"] < 0.05


def test_plain_mnist_scores_only_the_digit():
    out = score(embed(LA10), rng.standard_normal((N2, 3)), LA10, NO_LABEL)
    assert out["mode"] == "one_part" and out["assignment"] == "a->a"
    assert out["disentangled"] and out["score"] > 0.9 and np.isnan(out["informativeness"][1])
    swapped = score(rng.standard_normal((N2, 3)), embed(LA10), LA10, None)
    assert swapped["assignment"] == "b->a" and swapped["disentangled"]
    shared = score(embed(LA10), embed(LA10, seed=5), LA10, NO_LABEL)
    assert shared["score"] < 0.05 and not shared["disentangled"]
    collapsed = score(embed(LA10), np.zeros((N2, 2)), LA10, NO_LABEL)
    assert collapsed["collapsed"] == [False, True] and not collapsed["disentangled"]


def test_disentanglement_rejects_bad_input():
    a, b = embed(LA10), embed(LB10)
    cases = [
        ((a[:-1], b, LA10, LB10), "different numbers of rows"),
        ((a, b, LA10[:-1], LB10), "different numbers of rows"),
        ((np.where(a > 2, np.nan, a), b, LA10, LB10), "NaN"),
        ((a, np.where(b > 2, np.inf, b), LA10, LB10), "inf"),
        ((a, b, np.zeros(N2, int), LB10), "one class"),
        ((a, b, LA10, np.full(N2, 3)), "one class"),
        ((a, b, LA10, np.where(LB10 > 5, -1, LB10)), "-1"),
        ((a, b, NO_LABEL, None), "both labels are missing"),
        ((a[:30], b[:30], LA10[:30], LB10[:30]), "too few rows"),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            disentanglement(*args, with_dci=False, n_permutations=0)
    with pytest.raises(ValueError, match="readout"):
        disentanglement(a, b, LA10, LB10, readout="mlp")


def test_dci_prefers_clean_codes():
    clean = dci(embed(LA10), embed(LB10, seed=2), LA10, LB10)
    mix = np.linalg.qr(np.random.default_rng(3).standard_normal((8, 8)))[0]
    both = np.hstack([embed(LA10), embed(LB10, seed=2)]) @ mix  # every dimension mixes both
    entangled = dci(both[:, :4], both[:, 4:], LA10, LB10)
    assert clean["dci_disentanglement"] > entangled["dci_disentanglement"] + 0.3
    assert clean["dci_code_disentanglement"] > entangled["dci_code_disentanglement"] + 0.5
    linear = dci(embed(LA10), embed(LB10, seed=2), LA10, LB10, importance="linear")
    assert linear["dci_code_disentanglement"] > 0.8
    assert np.isnan(dci(embed(LA10), embed(LB10), LA10, NO_LABEL)["dci_disentanglement"])


def halves(n=400):
    """Composite images: part a in the left half, part b in the right half (10 prototypes each)."""
    protos = rng.random((2, 10, 8, 8))
    la, lb = rng.integers(0, 10, n), rng.integers(0, 10, n)
    zero = np.zeros((n, 8, 8))
    pa = np.concatenate([protos[0][la] + 0.1 * rng.standard_normal((n, 8, 8)), zero], 2)
    pb = np.concatenate([zero, protos[1][lb] + 0.1 * rng.standard_normal((n, 8, 8))], 2)
    return pa.reshape(n, -1), pb.reshape(n, -1)


def test_reconstruction_separation_against_the_mean_image():
    pa, pb = halves()
    exact = reconstruction_separation(pa, pb, pa, pb)
    assert exact["score"] == pytest.approx(1.0) and exact["assignment"] == "a->a,b->b"
    swapped = reconstruction_separation(pb, pa, pa, pb)
    assert swapped["swapped"] and swapped["score"] == pytest.approx(1.0)
    # each network outputs its part's mean image, confined to the right half: no separation,
    # though the old score (no baseline) calls it well separated
    mean_a, mean_b = (np.broadcast_to(p.mean(0), p.shape) for p in (pa, pb))
    out = reconstruction_separation(mean_a, mean_b, pa, pb)
    assert out["score"] == pytest.approx(0.0, abs=1e-9)
    assert reconstruction_score(mean_a, mean_b, pa, pb)["score"] > 0.5
    half = reconstruction_separation(pa, mean_b, pa, pb)  # only one network tracks its part
    assert half["score"] == pytest.approx(0.0, abs=1e-9) and half["matched_skill"][0] == 1.0
    x = pa + pb
    assert reconstruction_separation(x, x, pa, pb)["score"] == 0.0
    plain = reconstruction_separation(np.zeros_like(x), x, x, np.zeros_like(x))  # plain MNIST
    assert plain["mode"] == "one_part" and plain["assignment"] == "b->a"
    assert plain["score"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_separation(pa, pb[:, :5], pa, pb)
    with pytest.raises(ValueError, match="both parts are constant"):
        reconstruction_separation(pa, pb, 0 * pa, 0 * pb)
