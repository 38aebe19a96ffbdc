"""Chapter 5 (background on ICA): sizes per profile, the numeric checks of sections 5.2-5.5 and
their claims. The measures (eq. 5.2, 5.3) are here, the estimators ``lib.mi``,
FastICA ``lib.ppica``; the figures ``lib.ica_demos``."""

import numpy as np
from threadpoolctl import threadpool_limits

from lib.claims import at_least, at_most, holds
from lib.data import make_composite
from lib.metrics import upright_share
from lib.mi import binned_mi, ksg_mi
from lib.ppica import PostprocessedICA

# Fig 5.1 decomposes the composites chapter 6 post-processes (thesis section 6.4): upright 0/1/2
# plus a rotated 3/4/5.
KIND = "upright012_rot345"

# ---- non-Gaussianity (section 5.2) ----------------------------------------------------------
GAUSS_ENTROPY = 0.5 * np.log(2 * np.pi * np.e)  # differential entropy of N(0, 1), nats


# Unit-variance distributions with closed-form entropies (nats), for negentropy eq. 5.3.
UNIT_VARIANCE = {
    "gaussian": (lambda rng, n: rng.standard_normal(n), GAUSS_ENTROPY),
    "laplace": (lambda rng, n: rng.laplace(scale=1 / np.sqrt(2), size=n), 1 + np.log(2 / np.sqrt(2))),
    "uniform": (lambda rng, n: rng.uniform(-np.sqrt(3), np.sqrt(3), n), np.log(2 * np.sqrt(3))),
}


def kurtosis(x):
    """Eq. 5.2: kurt(x) = E{x^4} - 3 (E{x^2})^2 of the centred sample (0 for a Gaussian)."""
    x = np.asarray(x, dtype=np.float64)
    x = x - x.mean(axis=0)
    return np.mean(x**4, axis=0) - 3 * np.mean(x**2, axis=0) ** 2


def negentropy_exact(name):
    """Eq. 5.3: J = H(gaussian) - H(x) for a unit-variance distribution in ``UNIT_VARIANCE``."""
    if name not in UNIT_VARIANCE:
        raise ValueError(f"unknown distribution {name!r}; choose from {sorted(UNIT_VARIANCE)}")
    return GAUSS_ENTROPY - UNIT_VARIANCE[name][1]


def negentropy_logcosh(x, n_ref=200_000, random_state=0):
    """The 'non-polynomial moment' approximation J ~ (E G(y) - E G(nu))^2, G = log cosh, of the
    standardised sample y (section 5.2.2; Hyvarinen's approximation, up to a constant factor)."""
    x = np.asarray(x, dtype=np.float64)
    y = (x - x.mean()) / x.std()
    nu = np.random.default_rng(random_state).standard_normal(n_ref)
    return float((np.mean(np.log(np.cosh(y))) - np.mean(np.log(np.cosh(nu)))) ** 2)


def correlated_gaussians(n, rho, dims=1, random_state=0):
    """x, y of ``dims`` columns each, pair (x_i, y_i) with correlation rho, pairs independent.
    Returns x, y and the true MI -dims/2 log(1 - rho^2) in nats (eq. 5.6 in closed form)."""
    if not -1 < rho < 1:
        raise ValueError(f"rho must lie strictly between -1 and 1, got {rho}")
    rng = np.random.default_rng(random_state)
    x = rng.standard_normal((n, dims))
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal((n, dims))
    return x, y, -dims / 2 * np.log(1 - rho**2)


# The chapter's sizes per profile: samples for the non-Gaussianity checks (n_demo), points per MI
# estimate (n_mi), FastICA components and composites for Fig 5.1, BLAS threads for FastICA.
SIZES = {
    "smoke": dict(n_demo=5_000, n_mi=300, n_comp=20, n_images=400, threads=1),
    "book": dict(n_demo=100_000, n_mi=2000, n_comp=50, n_images=1500, threads=2),
    "thesis": dict(n_demo=100_000, n_mi=5000, n_comp=50, n_images=1500, threads=None),
}
N_SMALL = 1000  # the outlier test: one sample of 10 among 1,000
N_MIX = [1, 2, 4, 8, 16, 32]  # Laplace sources summed (central limit, section 5.2)
RHOS = np.array([0.0, 0.3, 0.6, 0.8, 0.9, 0.95])  # correlation per pair (section 5.3)
BIN_COUNTS = [4, 16, 64]
TABLE_COLUMNS = [
    "kurtosis",
    f"kurtosis ({N_SMALL:,})",
    "+ outlier",
    "J exact",
    f"J log-cosh ({N_SMALL:,})",
    "+ outlier",
]


def sizes(profile):
    """The chapter's sizes for ``profile`` (a copy of its row of ``SIZES``)."""
    return dict(SIZES[profile])


def nongaussianity(rng, n_demo, n_small=N_SMALL):
    """Eq. 5.2 and 5.3 on each unit-variance distribution: {name: (kurtosis of n_demo samples,
    kurtosis of the first n_small, the same with one value replaced by 10, exact negentropy,
    log-cosh negentropy of the n_small, the same with the outlier)}."""
    table = {}
    for name, (draw, _) in UNIT_VARIANCE.items():
        x = draw(rng, n_demo)
        small = x[:n_small]
        outlier = np.append(small[:-1], 10.0)  # one point 10 standard deviations out
        table[name] = (
            kurtosis(x), kurtosis(small), kurtosis(outlier), negentropy_exact(name),
            negentropy_logcosh(small), negentropy_logcosh(outlier),
        )  # fmt: skip
    return table


def record_nongaussianity(rec, table, n_demo, n_small=N_SMALL):
    """The metrics and claims 5.2-kurtosis-sign, 5.2-negentropy-robust, 5.2-logcosh-gaussian-lowest."""
    gauss, lap, uni = table["gaussian"], table["laplace"], table["uniform"]
    rec.metric("kurtosis_laplace", lap[0], thesis="> 0 (heavy tails)")
    rec.metric("kurtosis_uniform", uni[0], thesis="< 0 (light tails)")
    rec.metric("negentropy_laplace_exact", lap[3])
    rec.metric("negentropy_uniform_exact", uni[3])
    kurt_jump = abs(gauss[2] - gauss[1])
    neg_jump = abs(gauss[5] - gauss[4]) / max(lap[4], 1e-12)
    rec.metric("gaussian_kurtosis_jump_from_one_outlier", kurt_jump)
    order_ok = gauss[4] < min(lap[4], uni[4])
    kurt_rel = kurt_jump / abs(lap[1])
    rec.metric("outlier_kurtosis_shift_rel_laplace", kurt_rel)
    rec.metric("outlier_logcosh_shift_rel_laplace", neg_jump)
    rec.claim(
        "5.2-kurtosis-sign", method="kurtosis", figure="eq. 5.2",
        thesis="kurtosis is 0 for a Gaussian, positive for heavy tails, negative for light tails",
        ours=f"kurtosis (n = {n_demo:,}): Laplace {lap[0]:.2f}, uniform {uni[0]:.2f}, "
        f"Gaussian {gauss[0]:.3f}",
        verdict=holds(lap[0] > 0 > uni[0]), value=lap[0],
        rule="agrees when the Laplace sample's kurtosis is > 0 and the uniform's < 0",
    )  # fmt: skip
    rec.claim(
        "5.2-negentropy-robust", method="log-cosh negentropy", figure="eq. 5.3",
        thesis="kurtosis is easily dominated by outliers; the negentropy approximation is more robust",
        ours=f"one outlier among {n_small:,} Gaussian samples moves their kurtosis by "
        f"{kurt_jump:.2f} ({kurt_rel:.0%} of the Laplace sample's kurtosis) but their "
        f"log-cosh negentropy by only {neg_jump:.0%} of the Laplace sample's value",
        verdict=holds(neg_jump < kurt_rel / 3), value=neg_jump / kurt_rel,
        rule="agrees when the log-cosh shift is under a third of the kurtosis shift "
        "(both relative to the Laplace sample)",
    )  # fmt: skip
    rec.claim(
        "5.2-logcosh-gaussian-lowest", method="log-cosh negentropy", figure="eq. 5.3",
        thesis="negentropy is 0 for a Gaussian and positive otherwise",
        ours=f"the log-cosh approximation gives the Gaussian {gauss[4]:.5f}, the "
        f"Laplace {lap[4]:.5f} and the uniform {uni[4]:.5f}; "
        f"exact negentropies: Laplace {lap[3]:.3f}, uniform {uni[3]:.3f} nats",
        verdict=holds(order_ok), value=float(gauss[4]),
        rule="agrees when the Gaussian has the lowest log-cosh value",
    )  # fmt: skip


def central_limit(rng, n_demo, n_mix=N_MIX):
    """Kurtosis of the normalised sum of m Laplace sources for each m, then one fresh sample of
    each unit-variance distribution (drawn in that order from ``rng``, for the histograms)."""
    laplace = UNIT_VARIANCE["laplace"][0]
    kurt_of_sum = [kurtosis(laplace(rng, (n_demo, m)).sum(1) / np.sqrt(m)) for m in n_mix]
    samples = {name: draw(rng, n_demo) for name, (draw, _) in UNIT_VARIANCE.items()}
    return kurt_of_sum, samples


def record_central_limit(rec, kurt_of_sum, n_mix=N_MIX):
    """Claim 5.2-central-limit: a sum of independent sources is more Gaussian than each."""
    rec.metric("kurtosis_sum_of_32_laplace", kurt_of_sum[-1], thesis="-> 0 (central limit)")
    return rec.claim(
        "5.2-central-limit", method="kurtosis", figure="section 5.2",
        thesis="a sum of independent sources is more Gaussian than each source",
        ours=f"the kurtosis of a normalised sum of m Laplace sources falls from "
        f"{kurt_of_sum[0]:.2f} (m = 1) to {kurt_of_sum[-1]:.3f} (m = {n_mix[-1]}; theory "
        f"{3 / n_mix[-1]:.3f})",
        verdict=at_most(abs(kurt_of_sum[-1]), agrees=0.3), value=kurt_of_sum[-1],
        rule="agrees when |kurtosis| of the 32-source sum is at most 0.3 (a tenth of one source's 3)",
    )  # fmt: skip


def mi_estimates(n, seed, rhos=RHOS, bin_counts=BIN_COUNTS):
    """KSG (k = 3) and binned MI against the closed form (eq. 5.6) on correlated Gaussians:
    {dims: {"truth": [...], "KSG": [...], "binned b": [...]}} for 1-D and 2-D x and y."""
    est = {dims: {"truth": [], "KSG": [], **{f"binned {b}": [] for b in bin_counts}} for dims in (1, 2)}
    for dims in (1, 2):
        for i, rho in enumerate(rhos):
            x, y, truth = correlated_gaussians(n, rho, dims, random_state=seed + i)
            est[dims]["truth"].append(truth)
            est[dims]["KSG"].append(ksg_mi(x, y, k=3, random_state=seed))
            for b in bin_counts:
                est[dims][f"binned {b}"].append(binned_mi(x, y, bins=b))
    return est


def record_estimators(rec, est, bin_counts=BIN_COUNTS):
    """Largest error of each estimator against the truth, {dims: {name: error}}, recorded with
    the claims 5.3-ksg-vs-binned and 5.3-binned-bins."""
    errors = {
        dims: {
            name: float(np.max(np.abs(np.array(v) - np.array(est[dims]["truth"]))))
            for name, v in est[dims].items()
            if name != "truth"
        }
        for dims in (1, 2)
    }
    for dims in (1, 2):
        rec.metric(f"ksg_max_abs_error_{dims}d", errors[dims]["KSG"])
        for b in bin_counts:
            rec.metric(f"binned{b}_max_abs_error_{dims}d", errors[dims][f"binned {b}"])
    binned = {d: [errors[d][f"binned {b}"] for b in bin_counts] for d in (1, 2)}
    ksg_best = all(errors[d]["KSG"] < min(binned[d]) for d in (1, 2))
    spread = max(binned[1]) - min(binned[1])
    rec.claim(
        "5.3-ksg-vs-binned", method="KSG estimator", figure="section 5.3 / 6.2",
        thesis="the KSG estimator is preferred to a binned estimate (used in chapter 6)",
        ours=f"largest error against the closed form: KSG {errors[1]['KSG']:.3f} (1-D) and "
        f"{errors[2]['KSG']:.3f} nats (2-D); the best bin count "
        f"{min(binned[1]):.3f} and {min(binned[2]):.3f}",
        verdict=holds(ksg_best), value=errors[2]["KSG"],
        rule="agrees when KSG's largest error is below every bin count's, in 1-D and 2-D",
    )  # fmt: skip
    rec.claim(
        "5.3-binned-bins", method="binned MI estimator", figure="section 5.3 / 6.2",
        thesis="the binned estimate's accuracy depends on a careful setting of the bin count",
        ours=f"the binned estimate's largest error changes by {spread:.3f} nats between "
        f"{bin_counts[0]} and {bin_counts[-1]} bins (1-D)",
        verdict=at_least(spread, agrees=0.05), value=spread,
        rule="agrees when the largest error changes by at least 0.05 nats with the bin count",
    )  # fmt: skip
    return errors


def ica_on_digits(profile, seed, data_dir):
    """Thesis Fig 5.1's experiment: FastICA (tol 1e-4) on the chapter-6 composites. Returns the
    composites, the fitted ``PostprocessedICA`` (ICA step only) and each source's upright share."""
    size = SIZES[profile]
    data = make_composite(KIND, n=size["n_images"], seed=seed, data_dir=data_dir)
    X, pa, pb = (a.reshape(len(a), -1) for a in (data.x, data.part_a, data.part_b))
    with threadpool_limits(size["threads"]):
        ica = PostprocessedICA(size["n_comp"], tol=1e-4, random_state=seed).fit_ica(X)
    return data, ica, upright_share(ica.transform(X), pa, pb)


def record_ica(rec, share):
    """Fig 5.1's metrics and the claims 5.1-single-cause and 5.1-not-grouped."""
    n_comp = len(share)
    purity = np.maximum(share, 1 - share)
    n_up = int((share > 0.5).sum())
    mostly = float(np.mean(purity > 0.75))
    runs = int(1 + np.sum((share[1:] > 0.5) != (share[:-1] > 0.5)))
    exp_runs = 1 + 2 * n_up * (n_comp - n_up) / n_comp
    rec.metric("fig5_1_mean_purity", float(purity.mean()), thesis="components mostly single-cause")
    rec.metric("fig5_1_share_purity_over_0.75", mostly)
    rec.metric("fig5_1_upright_components", n_up)
    rec.claim(
        "5.1-single-cause", method="FastICA", figure="Fig 5.1",
        thesis="each component mainly represents part of one cause",
        ours=f"{n_up} of {n_comp} components are upright by the rule; mean purity "
        f"{purity.mean():.3f}; {mostly:.0%} draw more than 75% of their column from one part",
        verdict=at_least(float(purity.mean()), agrees=0.75, partly=0.6), value=float(purity.mean()),
        rule="agrees when the mean purity is above 0.75, partly when above 0.6",
    )  # fmt: skip
    rec.claim(
        "5.1-not-grouped", method="FastICA", figure="Fig 5.1",
        thesis="the components are not grouped by cause",
        ours=f"in ICA's order the causes form {runs} runs of consecutive same-cause "
        f"components (a random order gives {exp_runs:.1f} on average)",
        verdict=holds(runs >= exp_runs / 2), value=runs / exp_runs,
        rule="agrees when the number of runs is at least half a random order's",
    )  # fmt: skip
