"""Tests for lib/mi.py: KSG (Kraskov et al. 2004 eq. 8), MeanNN and binned MI estimators.

Ground truth: d independent pairs (x_i, y_i) with correlation rho have I = -d/2 log(1 - rho^2).
"""

import npeet_plus.estimators as npeet
import numpy as np
import pytest
import torch

from lib import mi as mi_module
from lib.mi import (
    binned_mi,
    count_strictly_within,
    ksg_from_radii,
    ksg_joint_radii,
    ksg_mi,
    meannn_mi,
    standardize,
)


def gaussian_pairs(n, d, rho, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, d))


def truth(d, rho):
    return -0.5 * d * np.log(1 - rho**2)


# Honest bounds, measured over seeds 0-7 at n = 2000 (k = 3):
#   1 pair,  rho 0.9: 0.789..0.836 (truth 0.830)  -> within 0.05 of truth
#   2 pairs, rho 0.6: 0.415..0.489 (truth 0.446)  -> within 0.05 of truth
#   5 pairs, rho 0.6: 0.73..0.79 of truth (1.116) -> KSG is biased low in high dimension
#  10 pairs, rho 0.6: 0.43..0.46 of truth (2.231) -> strongly biased low (Kraskov et al. sec. IV)
@pytest.mark.parametrize("d, rho, lo, hi", [(1, 0.9, -0.05, 0.05), (2, 0.6, -0.05, 0.05)])
def test_ksg_low_dim_gaussian_close_to_truth(d, rho, lo, hi):
    err = ksg_mi(*gaussian_pairs(2000, d, rho)) - truth(d, rho)
    assert lo < err < hi


@pytest.mark.parametrize("d, min_fraction", [(5, 0.65), (10, 0.38)])
def test_ksg_high_dim_biased_low_but_bounded(d, min_fraction):
    est = ksg_mi(*gaussian_pairs(2000, d, 0.6))
    assert min_fraction * truth(d, 0.6) < est < truth(d, 0.6) + 0.02


@pytest.mark.parametrize("d", [1, 2])
def test_ksg_independent_near_zero(d):
    assert abs(ksg_mi(*gaussian_pairs(2000, d, 0.0))) < 0.02


def test_ksg_invariant_to_per_dimension_scaling():
    x, y = gaussian_pairs(1000, 3, 0.7)
    scaled = x * np.array([1e-3, 1.0, 250.0]) + 7.0
    assert ksg_mi(scaled, y * 40.0, noise=False) == pytest.approx(ksg_mi(x, y, noise=False), abs=1e-12)


def test_ksg_returns_float_and_accepts_1d_and_torch():
    x, y = gaussian_pairs(500, 1, 0.8)
    value = ksg_mi(x[:, 0], torch.as_tensor(y[:, 0]))
    assert type(value) is float
    assert value == ksg_mi(x, y)


def test_ksg_noise_is_seeded_and_tiny():
    x, y = gaussian_pairs(800, 2, 0.5)
    assert ksg_mi(x, y, random_state=3) == ksg_mi(x, y, random_state=3)
    assert ksg_mi(x, y, random_state=3) == pytest.approx(ksg_mi(x, y, noise=False), abs=1e-6)


def test_noise_breaks_ties_in_discrete_data():
    """x uniform on 4 values, y = x + fair coin: I = H(y) - log 2 = 0.866 nats. Without noise,
    repeated points give zero radii and a meaningless estimate (about 8.5 nats here)."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, (600, 1)).astype(float)
    y = x + rng.integers(0, 2, (600, 1))
    exact = 1.5 * np.log(2) + 0.25 * np.log(8) - np.log(2)
    assert ksg_mi(x, y) == pytest.approx(exact, abs=0.1)
    assert ksg_mi(x, y, noise=False) > exact + 1


@pytest.mark.parametrize("d", [1, 3, 12])  # 12 + 12 = 24 joint dims: NPEET switches to a BallTree
def test_ksg_matches_npeet_without_noise(monkeypatch, d):
    monkeypatch.setattr(npeet, "add_noise", lambda x, intens=0: x)
    x, y = gaussian_pairs(700, d, 0.6, seed=d)
    xs, ys = standardize(x, noise=False), standardize(y, noise=False)
    assert ksg_mi(x, y, noise=False) == pytest.approx(npeet.mi(xs, ys, k=3, base=np.e), abs=1e-3)


def brute_force(x, y, k):
    """Reference KSG algorithm 1 from full distance matrices (Kraskov et al. eq. 8)."""
    from scipy.special import digamma

    dx = np.abs(x[:, None] - x[None]).max(-1)
    dy = np.abs(y[:, None] - y[None]).max(-1)
    eps = np.sort(np.maximum(dx, dy), axis=1)[:, k]  # column 0 is the point itself
    n_x = (dx < eps[:, None]).sum(1) - (eps > 0)
    n_y = (dy < eps[:, None]).sum(1) - (eps > 0)
    return eps, n_x, digamma(k) + digamma(len(x)) - np.mean(digamma(n_x + 1) + digamma(n_y + 1))


@pytest.mark.parametrize("decimals", [None, 1])  # 1 decimal: many exact ties, noise off
def test_sweep_and_torch_backends_match_brute_force(decimals):
    x, y = gaussian_pairs(900, 3, 0.5, seed=4)
    x, y = standardize(x, noise=False), standardize(y, noise=False)
    if decimals is not None:
        x, y = x.round(decimals), y.round(decimals)
    eps, n_x, value = brute_force(x, y, k=4)
    z = np.hstack([x, y])
    np.testing.assert_array_equal(ksg_joint_radii(z, k=4, device="cpu"), eps)
    np.testing.assert_array_equal(count_strictly_within(x, eps, device="cpu"), n_x)
    np.testing.assert_array_equal(mi_module._radii_torch(z, 4, "cpu"), eps)
    np.testing.assert_array_equal(mi_module._counts_torch(x, eps, "cpu"), n_x)
    assert ksg_from_radii(x, y, eps, k=4, device="cpu") == pytest.approx(value, abs=1e-12)


def test_joint_radii_reused_for_any_grouping():
    z = standardize(np.hstack(gaussian_pairs(600, 3, 0.6)), random_state=1)
    eps = ksg_joint_radii(z, k=3)
    for mask in ([True, False, True, False, True, False], [True, True, False, False, False, True]):
        m = np.array(mask)
        direct = ksg_mi(z[:, m], z[:, ~m], noise=False)
        assert ksg_from_radii(z[:, m], z[:, ~m], eps, k=3) == pytest.approx(direct, abs=1e-9)


@pytest.mark.parametrize(
    "x, y, k, message",
    [
        (np.array([[0.0], [np.nan], [1.0], [2.0], [3.0]]), np.arange(5.0), 2, "x contains NaN"),
        (np.arange(5.0), np.array([0, 1, np.inf, 3, 4.0]), 2, "y contains NaN or inf"),
        (np.arange(5.0), np.arange(6.0), 2, "same number of samples"),
        (np.arange(5.0), np.arange(5.0) ** 2, 5, "1 <= k < n"),
        (np.arange(5.0), np.arange(5.0) ** 2, 0, "1 <= k < n"),
        (np.zeros((5, 2, 2)), np.arange(5.0), 2, "1-D or 2-D"),
        (np.c_[np.arange(5.0), np.ones(5)], np.arange(5.0), 2, "x column 1 is constant"),
    ],
)
def test_ksg_clear_errors(x, y, k, message):
    with pytest.raises(ValueError, match=message):
        ksg_mi(x, y, k=k)


def test_meannn_increases_with_correlation():
    values = [meannn_mi(*gaussian_pairs(600, 2, rho)) for rho in (0.0, 0.3, 0.6, 0.9)]
    assert all(type(v) is float for v in values)
    assert np.all(np.diff(values) > 0)


def test_meannn_is_differentiable():
    x, y = (torch.tensor(a, requires_grad=True) for a in gaussian_pairs(300, 2, 0.5))
    mi = meannn_mi(x, y)
    mi.backward()
    assert isinstance(mi, torch.Tensor) and mi.ndim == 0
    for grad in (x.grad, y.grad):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    # one gradient step on y increases the estimate
    with torch.no_grad():
        stepped = meannn_mi(x, y + 0.5 * y.grad / y.grad.norm())
    assert stepped > mi


def test_binned_close_to_truth_and_depends_on_bins():
    x, y = gaussian_pairs(20000, 1, 0.6)
    assert binned_mi(x, y, bins=20) == pytest.approx(truth(1, 0.6), abs=0.02)
    assert binned_mi(x, y, bins=5) < binned_mi(x, y, bins=20) - 0.05  # coarse bins lose information
    assert binned_mi(x, y, bins=80) > binned_mi(x, y, bins=20) + 0.05  # fine bins overestimate
    x, y = gaussian_pairs(20000, 1, 0.0)
    assert abs(binned_mi(x, y, bins=10)) < 0.01


def test_binned_multidimensional_uses_joint_cells():
    x, y = gaussian_pairs(20000, 2, 0.9)
    one = binned_mi(x[:, 0], y[:, 0], bins=8)
    assert binned_mi(x, y, bins=8) > 1.5 * one


# ---- bad arguments: clear ValueErrors naming the argument -----------------------------------

XY = gaussian_pairs(50, 2, 0.5, seed=9)
Z = standardize(np.hstack(XY), noise=False)
EPS = ksg_joint_radii(Z, k=3, device="cpu")


@pytest.mark.parametrize(
    "k, message",
    [
        (True, "got k = True of type bool"),
        (np.bool_(True), "type bool"),
        (3.0, "got k = 3.0 of type float"),
        ("3", "type str"),
        (None, "type NoneType"),
        (0, "1 <= k < n"),
        (-2, "1 <= k < n"),
        (50, "1 <= k < n"),
    ],
)
def test_bad_k_is_named_by_every_ksg_function(k, message):
    x, y = XY
    for call in (
        lambda: ksg_mi(x, y, k=k),
        lambda: ksg_joint_radii(Z, k=k, device="cpu"),
        lambda: ksg_from_radii(Z[:, :2], Z[:, 2:], EPS, k=k, device="cpu"),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_numpy_integer_k_is_accepted():
    assert ksg_mi(*XY, k=np.int64(3)) == ksg_mi(*XY, k=3)


@pytest.mark.parametrize("bins", [0, -1, 2.5, 10.0, True, "10", None])
def test_bad_bins_is_an_error(bins):
    with pytest.raises(ValueError, match="bins must be a positive integer"):
        binned_mi(*XY, bins=bins)


def test_one_bin_gives_zero_and_numpy_bins_work():
    assert binned_mi(*XY, bins=1) == 0.0
    assert binned_mi(*XY, bins=np.int32(4)) == binned_mi(*XY, bins=4)


@pytest.mark.parametrize(
    "bad, message", [(np.nan, "NaN or inf"), (np.inf, "NaN or inf"), (-0.5, "negative radius")]
)
def test_bad_radii_are_named(bad, message):
    eps = EPS.copy()
    eps[7] = bad
    with pytest.raises(ValueError, match=f"eps contains .*{message}"):
        ksg_from_radii(Z[:, :2], Z[:, 2:], eps, k=3, device="cpu")
    with pytest.raises(ValueError, match=f"eps contains .*{message}"):
        count_strictly_within(Z[:, :2], eps, device="cpu")


@pytest.mark.parametrize("eps", [EPS[:-1], EPS[:, None], np.float64(1.0)])
def test_radii_of_the_wrong_shape_are_named(eps):
    with pytest.raises(ValueError, match="eps must hold one radius per sample"):
        count_strictly_within(Z[:, :2], eps, device="cpu")
    with pytest.raises(ValueError, match="eps must hold one radius per sample"):
        ksg_from_radii(Z[:, :2], Z[:, 2:], eps, k=3, device="cpu")


def test_zero_radii_are_allowed():
    assert (count_strictly_within(Z[:, :2], np.zeros(50), device="cpu") == 0).all()


@pytest.mark.parametrize("scale", [1e300, 1e-300, 2.0**1000, 1e-310])
def test_any_finite_scale_gives_the_unscaled_estimate(scale):
    x, y = gaussian_pairs(400, 2, 0.7, seed=2)
    assert ksg_mi(x * scale, y) == pytest.approx(ksg_mi(x, y), abs=1e-9)
    other = y / scale if scale > 1 else y
    assert ksg_mi(x * scale, other) == pytest.approx(ksg_mi(x, y), abs=1e-9)
    assert binned_mi(x * scale, y, bins=6) == pytest.approx(binned_mi(x, y, bins=6), abs=1e-12)
    z = standardize(x * scale, noise=False)
    assert np.isfinite(z).all()
    np.testing.assert_allclose(z, standardize(x, noise=False), atol=1e-9)


def test_power_of_two_scale_is_exact():
    x, y = gaussian_pairs(300, 1, 0.5, seed=3)
    np.testing.assert_array_equal(standardize(x * 2.0**900, noise=False), standardize(x, noise=False))
    assert ksg_mi(x * 2.0**-900, y) == ksg_mi(x, y)


def test_opposite_huge_values_do_not_overflow():
    x = np.array([-1.7e308, 1.7e308, 0.0, 1e308, -1e308, 5e307])
    y = np.array([0.0, 1.0, 2.0, 4.0, 3.0, 5.0])
    z = standardize(x, noise=False)
    assert np.isfinite(z).all() and z.std() == pytest.approx(1.0)
    assert np.isfinite(ksg_mi(x, y, k=2)) and np.isfinite(binned_mi(x, y, bins=3))


def test_unstandardised_huge_values_are_an_error_where_distances_are_taken():
    z = Z / np.abs(Z).max() * 1.5e308  # finite, but differences overflow
    with pytest.raises(ValueError, match="z values reach .* overflow .* standardise z"):
        ksg_joint_radii(z, k=3, device="cpu")
    with pytest.raises(ValueError, match="x values reach .* overflow"):
        count_strictly_within(z[:, :2], EPS, device="cpu")
    with pytest.raises(ValueError, match="y values reach .* overflow"):
        ksg_from_radii(Z[:, :2], z[:, 2:], EPS, k=3, device="cpu")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_are_named_by_every_function(bad):
    x, y = (a.copy() for a in XY)
    x[3, 1] = bad
    z = Z.copy()
    z[5, 0] = bad
    for call, name in [
        (lambda: ksg_mi(x, y), "x"),
        (lambda: ksg_mi(y, x), "y"),
        (lambda: standardize(x), "x"),
        (lambda: standardize(x, name="src"), "src"),
        (lambda: ksg_joint_radii(z), "z"),
        (lambda: ksg_from_radii(z[:, :2], Z[:, 2:], EPS), "x"),
        (lambda: count_strictly_within(z[:, :2], EPS, device="cpu"), "x"),
        (lambda: meannn_mi(x, y), "x"),
        (lambda: meannn_mi(torch.tensor(y), x), "y"),
        (lambda: binned_mi(x, y), "x"),
        (lambda: binned_mi(y, x), "y"),
    ]:
        with pytest.raises(ValueError, match=f"^{name} contains NaN or inf"):
            call()


def test_too_few_samples_and_length_mismatch():
    one = np.array([[1.0]])
    for call in (lambda: meannn_mi(one, one), lambda: binned_mi(one, one), lambda: ksg_mi(one, one, k=1)):
        with pytest.raises(ValueError, match="at least 2 samples"):
            call()
    for rows in (np.empty((0, 2)), np.ones((1, 2))):
        with pytest.raises(ValueError, match="src needs at least 2 samples to standardise"):
            standardize(rows, name="src")
    with pytest.raises(ValueError, match="same number of samples"):
        ksg_from_radii(Z[:, :2], Z[:-1, 2:], EPS, k=3)
    with pytest.raises(ValueError, match="same number of samples"):
        meannn_mi(*gaussian_pairs(10, 1, 0.5)[:1], np.arange(9.0))


def test_meannn_distance_overflow_is_an_error():
    x, y = gaussian_pairs(100, 2, 0.5)
    with pytest.raises(ValueError, match="^x: pairwise distances overflow .* rescale x"):
        meannn_mi(x * 1e300, y)
    with pytest.raises(ValueError, match="^y: pairwise distances overflow"):
        meannn_mi(x, torch.tensor(y * 1e300, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"^\(x, y\): pairwise distances overflow"):
        big = x[:, :1] / np.ptp(x[:, :1]) * 1.1e154  # alone it fits; two such columns overflow
        meannn_mi(big, big.copy())


def test_meannn_float32_overflow_and_duplicates():
    x, y = gaussian_pairs(100, 1, 0.5)
    with pytest.raises(ValueError, match="overflow"):
        meannn_mi(torch.tensor(x * 1e37, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))
    x[1] = x[0]  # an exact duplicate row is the documented clamp case, not an error
    assert np.isfinite(meannn_mi(x, y))


def test_ksg_leaves_torch_thread_count_alone():
    """numba and torch share OpenMP's thread setting; an MI estimate must not change torch's."""
    import torch

    from lib.mi import ksg_mi

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        rng = np.random.default_rng(0)
        ksg_mi(rng.standard_normal((3000, 2)), rng.standard_normal((3000, 2)))
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
