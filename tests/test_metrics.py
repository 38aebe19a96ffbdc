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
