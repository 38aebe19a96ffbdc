"""Mutual-information estimators (thesis sections 5.3 and 6.2).

* ``ksg_mi``: Kraskov, Stögbauer & Grassberger (2004) algorithm 1, eq. (8) -- the estimator the
  thesis uses for the postprocessed-ICA cost (section 6.2, eq. 6.2), in nats.
* ``meannn_mi``: the MeanNN estimator (Faivishevsky & Tishby 2009), differentiable in torch.
* ``binned_mi``: the equal-width histogram plug-in estimate the thesis mentions in section 6.2.

KSG in two reusable steps (for the PPICA annealer, whose cost re-evaluates the MI between
changing groups of the same columns):

    z = standardize(s, random_state=0)        # once: standardise every column (+ tiny noise)
    eps = ksg_joint_radii(z, k=3)             # once: max-norm k-th neighbour distances
    cost = ksg_from_radii(z[:, m], z[:, ~m], eps, k=3)   # per grouping m (boolean mask)

The joint max-norm distance between two rows of [x, y] is the largest absolute difference over
all columns, whichever group each column belongs to, so the radii depend only on z, never on how
its columns are split; each grouping costs only the two marginal counts.

CPU: a numba "sweep" over points sorted by their first coordinate (|dz_0| bounds the max-norm
distance, so a chunk of points stops scanning outwards once that gap exceeds all its radii) with
distances to blocks of points computed column-wise in SIMD: few pairs in low dimension, a
vectorised brute force in high dimension. CUDA: chunked brute force with ``torch.cdist(p=inf)``.
NPEET's ``mi`` (sklearn trees) gives the same value; see benchmarks/mi.py for timings.
"""

import numba
import numpy as np
import torch
from scipy.special import digamma, gammaln

from lib import nets

NOISE = 1e-10  # tie-breaking noise, in units of each standardised column's std (= 1)
CLAMP = 1e-12  # MeanNN's smallest distance: duplicate rows give log(CLAMP), not log 0
MAX_ABS = np.finfo(np.float64).max / 2  # larger values overflow differences (distances)


def ksg_mi(x, y, k=3, noise=True, random_state=0, device=None):
    """KSG estimate of I(x; y) in nats (Kraskov et al. 2004, algorithm 1, eq. 8; thesis 6.2).

    I = psi(k) + psi(n) - < psi(n_x + 1) + psi(n_y + 1) >, where eps_i is the max-norm distance
    from point i to its k-th neighbour in the joint space (the max over the x and y parts, each
    itself a max-norm) and n_x(i) counts the other points strictly closer than eps_i in the x
    marginal. Each column is first standardised to zero mean and unit std; with ``noise`` a seeded
    N(0, 1e-10^2) jitter (1e-10 of each column's spread) breaks ties between repeated values, as
    the thesis does (section 6.2); with ``noise=False`` repeated points give zero radii and a
    meaningless estimate. x, y: (n,) or (n, d) arrays; returns a float (can be < 0). ``device``:
    None uses CUDA when available, else the CPU kernels; "cpu" forces the CPU kernels.
    """
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    _check_pair(x, y)
    _check_k(k, len(x))
    rng = np.random.default_rng(random_state)
    x = standardize(x, noise, rng, "x")
    y = standardize(y, noise, rng, "y")
    eps = ksg_joint_radii(np.hstack([x, y]), k, device)
    return ksg_from_radii(x, y, eps, k, device)


def ksg_joint_radii(z, k=3, device=None):
    """Max-norm distance from each row of z to its k-th nearest other row (over ALL columns).

    z: (n, d) standardised data (see ``standardize``). Returns a float64 array of length n; it
    is the eps_i of Kraskov et al. (2004) eq. (8) for any split of z's columns into x and y.
    Values so large that differences overflow raise ValueError (standardise first).
    """
    z = _check_scale(_as_2d(z, "z"), "z")
    _check_k(k, len(z))
    if _use_torch(device):
        return _radii_torch(z, k, _device(device))
    order = np.argsort(z[:, 0], kind="stable")
    eps = np.empty(len(z))
    eps[order] = _on_threads(_sweep_radii, np.ascontiguousarray(z[order].T), k)
    return eps


def ksg_from_radii(x, y, eps, k=3, device=None):
    """KSG MI (nats, Kraskov et al. 2004 eq. 8) of standardised x, y given joint radii eps.

    eps must come from ``ksg_joint_radii`` on the columns of x and y (in any order/grouping):
    one finite radius >= 0 per row.
    """
    x, y = _check_scale(_as_2d(x, "x"), "x"), _check_scale(_as_2d(y, "y"), "y")
    _check_pair(x, y)
    _check_k(k, len(x))
    eps = _check_radii(eps, len(x))
    n_x = count_strictly_within(x, eps, device)
    n_y = count_strictly_within(y, eps, device)
    return float(digamma(k) + digamma(len(x)) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))


def count_strictly_within(x, eps, device=None):
    """For each row i, the number of other rows j with max_c |x_ic - x_jc| < eps_i (the n_x of
    Kraskov et al. eq. 8; strict, as in NPEET's ``eps - 1e-15``, but exact in floating point).
    x: (n,) or (n, d) finite data; eps: n finite radii >= 0."""
    x = np.ascontiguousarray(_check_scale(_as_2d(x, "x"), "x"))
    eps = _check_radii(eps, len(x))
    if _use_torch(device):
        return _counts_torch(x, eps, _device(device))
    order = np.argsort(x[:, 0], kind="stable")
    counts = np.empty(len(x), dtype=np.int64)
    counts[order] = _on_threads(_sweep_counts, np.ascontiguousarray(x[order].T), eps[order])
    return counts - (eps > 0)


def standardize(x, noise=True, random_state=0, name="x"):
    """Columns of x scaled to zero mean and unit std, plus optional N(0, NOISE^2) tie-breaking noise.

    random_state: int seed or np.random.Generator. Raises ValueError naming a constant column.
    Each column is first divided by a power of two near its largest |value| (exact in floating
    point), so data of any finite scale (1e-300 or 1e300) gives the same result without overflow.
    """
    x = _as_2d(x, name)
    if len(x) < 2:
        raise ValueError(f"{name} needs at least 2 samples to standardise, got {len(x)}")
    x = _pow2_scaled(x)
    std = x.std(0)
    if np.any(std == 0):
        raise ValueError(f"{name} column {int(np.argmin(std))} is constant; its MI is undefined")
    x = (x - x.mean(0)) / std
    if noise:
        x = x + NOISE * np.random.default_rng(random_state).standard_normal(x.shape)
    return x


def meannn_mi(x, y):
    """MeanNN estimate of I(x; y) in nats (Faivishevsky & Tishby 2009), differentiable.

    The MeanNN entropy averages the Kozachenko-Leonenko k-NN estimate over k = 1..n-1:
        H(x) = psi(n) - mean_{k<n} psi(k) + log V_d + d * mean_{i<j} log ||x_i - x_j||_2,
    with V_d = pi^{d/2} / Gamma(d/2 + 1) the volume of the Euclidean unit d-ball; then
    I = H(x) + H(y) - H(x, y) (thesis eq. 5.7). Distances are clamped at 1e-12 so duplicate
    rows do not give log 0 (so data on a scale below about 1e-10 are distorted: rescale them);
    data whose distances overflow raise ValueError. Works on torch tensors (returns a torch
    scalar, gradients flow) or numpy arrays (returns a float). Uses all n(n-1)/2 pairs: O(n^2)
    memory. Averaging over all k makes it smooth but biased (about -0.14 nats for independent
    1-D Gaussians, 0.18 for a true 0.83): use it to compare or optimise, not for absolute values.
    """
    is_torch = isinstance(x, torch.Tensor) or isinstance(y, torch.Tensor)
    x, y = _as_2d_torch(x, "x"), _as_2d_torch(y, "y")
    _check_pair(x, y)
    xy = torch.cat([x, y.to(x)], 1)
    mi = _meannn_entropy(x, "x") + _meannn_entropy(y, "y") - _meannn_entropy(xy, "(x, y)")
    return mi if is_torch else float(mi)


def _meannn_entropy(x, name):
    n, d = x.shape
    const = digamma(n) - digamma(np.arange(1, n)).mean() + d / 2 * np.log(np.pi) - gammaln(d / 2 + 1)
    return const + d * torch.log(_checked_pdist(x, name).clamp_min(CLAMP)).mean()


def _checked_pdist(x, name):
    """Euclidean distances of all pairs of rows; ValueError if they overflow."""
    dist = torch.pdist(x)
    if not torch.isfinite(dist).all():
        raise ValueError(
            f"{name}: pairwise distances overflow (values up to "
            f"{float(x.abs().max()):.3g}); rescale {name} for MeanNN"
        )
    return dist


def binned_mi(x, y, bins=10):
    """Plug-in MI (nats) of equal-width histograms (the binned estimate of thesis section 6.2).

    Each column is cut into ``bins`` equal-width bins over its range; a multi-column x (or y)
    uses the joint cell of its columns. I = sum p(a, b) log(p(a, b) / (p(a) p(b))).
    ``bins``: a positive integer. Any finite scale works (columns are scaled by powers of two).
    """
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    _check_pair(x, y)
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 1:
        raise ValueError(f"bins must be a positive integer, got {bins!r}")
    a, b = _cells(x, bins), _cells(y, bins)
    joint = np.bincount(a * (b.max() + 1) + b) / len(a)
    pa, pb = np.bincount(a) / len(a), np.bincount(b) / len(b)
    ab = np.flatnonzero(joint)
    ia, ib = np.divmod(ab, b.max() + 1)
    return float(np.sum(joint[ab] * np.log(joint[ab] / (pa[ia] * pb[ib]))))


def _cells(x, bins):
    x = _pow2_scaled(x)
    lo, span = x.min(0), np.ptp(x, 0)
    idx = np.floor((x - lo) / np.where(span > 0, span, 1) * bins).clip(0, bins - 1).astype(np.int64)
    return np.unique(idx, axis=0, return_inverse=True)[1].ravel()


# ---- validation ----------------------------------------------------------------------------


def _as_2d(x, name):
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float64)
    return _check_array(x[:, None] if x.ndim == 1 else x, name)


def _as_2d_torch(x, name):
    x = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float64))
    x = x if x.is_floating_point() else x.to(torch.float64)
    return _check_array(x[:, None] if x.ndim == 1 else x, name)


def _check_array(x, name):
    if x.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (samples x dims), got shape {tuple(x.shape)}")
    finite = torch.isfinite(x).all() if isinstance(x, torch.Tensor) else np.isfinite(x).all()
    if not finite:
        raise ValueError(f"{name} contains NaN or inf")
    return x


def _check_pair(x, y):
    if len(x) != len(y):
        raise ValueError(f"x and y need the same number of samples, got {len(x)} and {len(y)}")
    if len(x) < 2:
        raise ValueError(f"x and y need at least 2 samples, got {len(x)}")


def _check_k(k, n):
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(
            f"k must be an integer with 1 <= k < n (n = {n} samples), got "
            f"k = {k!r} of type {type(k).__name__}"
        )
    if not 1 <= k < n:
        raise ValueError(f"k must be an integer with 1 <= k < n (n = {n} samples), got k = {k}")


def _check_radii(eps, n):
    """eps as float64, checked: n finite radii >= 0."""
    eps = np.asarray(eps, dtype=np.float64)
    if eps.shape != (n,):
        raise ValueError(f"eps must hold one radius per sample, shape ({n},), got {eps.shape}")
    if not np.isfinite(eps).all():
        raise ValueError("eps contains NaN or inf: radii must be finite")
    if (eps < 0).any():
        raise ValueError(f"eps contains a negative radius ({eps.min():.3g}): radii are >= 0")
    return eps


def _check_scale(x, name):
    """x, unless its values are so large that differences (distances) overflow float64."""
    top = np.abs(x).max() if x.size else 0.0
    if top > MAX_ABS:
        raise ValueError(
            f"{name} values reach {top:.3g}: distances overflow float64; "
            f"standardise {name} first (lib.mi.standardize)"
        )
    return x


def _pow2_scaled(x):
    """Each column of x divided by the power of two at or just above its largest |value|.

    Exact in floating point (barring subnormals), so estimators that are invariant to column
    scaling give the same result, while sums, squares and differences cannot overflow.
    """
    top = np.abs(x).max(0)
    exponent = np.frexp(np.where(top > 0, top, 1.0))[1]
    return np.ldexp(x, -exponent)


# ---- CUDA / torch backend --------------------------------------------------------------------


def _device(device):
    return torch.device(device if device is not None else nets.device())


def _use_torch(device):
    """The torch path runs on an accelerator (``device``, else lib.nets.device()); CPU uses numba."""
    return _device(device).type != "cpu"


def _chunks(n):
    step = max(1, 2**25 // n)  # ~256 MB of float64 distances per chunk
    return [slice(s, s + step) for s in range(0, n, step)]


def _radii_torch(z, k, device):
    """k-th neighbour max-norm distances by chunked brute force (row itself is the 1st)."""
    z = torch.as_tensor(z, device=device)
    eps = [torch.cdist(z[c], z, p=float("inf")).kthvalue(k + 1, dim=1).values for c in _chunks(len(z))]
    return torch.cat(eps).cpu().numpy()


def _counts_torch(x, eps, device):
    x, e = torch.as_tensor(x, device=device), torch.as_tensor(eps, device=device)
    counts = [(torch.cdist(x[c], x, p=float("inf")) < e[c, None]).sum(1) for c in _chunks(len(x))]
    return torch.cat(counts).cpu().numpy() - (eps > 0)


# ---- CPU sweep kernels ------------------------------------------------------------------------
# Columns of xt (dims x n) are sorted by row 0. A chunk of CHUNK consecutive points scans blocks of
# BLOCK points outwards from itself and stops on each side once the row-0 gap alone exceeds every
# member's radius (|dx_0| <= max-norm distance); a member also skips any block wholly outside its
# own row-0 window. Distances of one member to one block are computed column-wise (SIMD).
# SLACK keeps both tests conservative against rounding in the gap arithmetic.

CHUNK, BLOCK, SLACK = 128, 128, 1e-9
PARALLEL_WORK = 2e8  # n^2 * dims below which one thread is faster (waking threads costs more)


def _on_threads(kernel, xt, arg):
    """Run a numba kernel on as many threads as its size merits, leaving torch's count as it was.

    numba's OpenMP layer and torch share the OpenMP thread setting, so setting numba's count
    changes torch's too: it is restored afterwards (a sweep run keeps its one torch thread).
    """
    d, n = xt.shape
    threads = numba.config.NUMBA_NUM_THREADS if n * n * d >= PARALLEL_WORK else 1
    previous, torch_threads = numba.get_num_threads(), torch.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return kernel(xt, arg)
    finally:
        numba.set_num_threads(previous)
        torch.set_num_threads(torch_threads)


@numba.njit(fastmath=True)
def _block_dist(xt, i, s, e, dist):
    """dist[jj] = max-norm distance between points i and s + jj (vectorised over jj)."""
    row, x0 = xt[0, s:e], xt[0, i]
    for jj in range(e - s):
        dist[jj] = abs(row[jj] - x0)
    for c in range(1, xt.shape[0]):
        row, xc = xt[c, s:e], xt[c, i]
        for jj in range(e - s):
            dist[jj] = max(dist[jj], abs(row[jj] - xc))


@numba.njit
def _reach(x0, radius):
    """Lowest and highest row-0 value within reach of some member of a chunk."""
    lo, hi = np.inf, -np.inf
    for i in range(len(x0)):
        lo, hi = min(lo, x0[i] - radius[i]), max(hi, x0[i] + radius[i])
    return lo, hi


@numba.njit
def _scan(xt, a, b, radius, best, counts):
    """Visit the blocks that may hold points within radius[m] of chunk member i = a + m (the
    radius may shrink during the scan). With best of shape (b - a, k): keep each member's k
    smallest distances in best[m] (ascending; radius is best[:, -1]); else add to counts[m] the
    number of points strictly within radius[m] (the member itself included)."""
    n = xt.shape[1]
    lo, hi = a, a
    while True:
        reach_lo, reach_hi = _reach(xt[0, a:b], radius)
        right = hi < n and (hi < b or xt[0, hi] <= reach_hi + SLACK)
        left = lo > 0 and xt[0, lo - 1] >= reach_lo - SLACK
        if not (left or right):
            return
        if right:
            s, hi = hi, min(hi + BLOCK, n)
            _visit_block(xt, a, b, s, hi, radius, best, counts)
        if left:
            lo, e = max(lo - BLOCK, 0), lo
            _visit_block(xt, a, b, lo, e, radius, best, counts)


@numba.njit
def _visit_block(xt, a, b, s, e, radius, best, counts):
    dist = np.empty(e - s)
    for i in range(a, b):
        r = radius[i - a]
        if xt[0, s] - xt[0, i] > r + SLACK or xt[0, i] - xt[0, e - 1] > r + SLACK:
            continue
        _block_dist(xt, i, s, e, dist)
        if best.shape[0] == 0:
            counts[i - a] += np.sum(dist < r)
        else:
            _keep_k_smallest(best[i - a], dist, s - i)


@numba.njit
def _keep_k_smallest(top, dist, offset):
    """Insert dist (points i + offset + jj, skipping the point i itself) into sorted top."""
    k = len(top)
    if dist.min() >= top[k - 1]:
        return
    for jj in range(len(dist)):
        if dist[jj] < top[k - 1] and offset + jj != 0:
            p = k - 1
            while p > 0 and top[p - 1] > dist[jj]:
                top[p] = top[p - 1]
                p -= 1
            top[p] = dist[jj]


@numba.njit(parallel=True, cache=True)
def _sweep_radii(xt, k):
    n = xt.shape[1]
    eps = np.empty(n)
    for chunk in numba.prange((n + CHUNK - 1) // CHUNK):
        a, b = chunk * CHUNK, min(chunk * CHUNK + CHUNK, n)
        best = np.full((b - a, k), np.inf)
        _scan(xt, a, b, best[:, k - 1], best, np.empty(0, dtype=np.int64))
        eps[a:b] = best[:, k - 1]
    return eps


@numba.njit(parallel=True, cache=True)
def _sweep_counts(xt, eps):
    n = xt.shape[1]
    counts = np.zeros(n, dtype=np.int64)  # includes the point itself when eps > 0
    for chunk in numba.prange((n + CHUNK - 1) // CHUNK):
        a, b = chunk * CHUNK, min(chunk * CHUNK + CHUNK, n)
        _scan(xt, a, b, eps[a:b], np.empty((0, 1)), counts[a:b])
    return counts
