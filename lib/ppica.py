"""Post-processed ICA (PPICA, thesis chapter 6): group FastICA sources into two causes.

FastICA finds sources S (n x d) with X ~ S M^T + mean. PPICA keeps S fixed and anneals binary
memberships m (True = cause A) to minimise the KSG mutual information between the A sources and
the B sources (eq. 6.2), with single-variable Metropolis updates (eq. 5.9 / 6.3) on the schedule
T_t = t0 / (1 + floor(t / d)) (eq. 6.4, t0 = 0.1). States with every source in one cause are
never accepted (the thesis calls them an error state, section 6.3).

Fast cost. KSG (Kraskov et al. 2004, algorithm 1) needs each point's k-th neighbour distance
eps_i in the joint max-norm space -- the same for every membership vector, because the joint
space always holds all d columns -- and, per cause, the number of points within eps_i in that
cause's max-norm. ``IncrementalKSG`` computes eps once per ICA run and keeps, for every ordered
pair (i, l), how many of cause A's (and B's) columns c have |z_ic - z_lc| >= eps_i ("violations").
Point l is within eps_i in cause A's marginal exactly when it has no A violation. Moving column j
from A to B turns A's one-violation pairs that violate on j into neighbours and removes B's
zero-violation pairs that violate on j, so one proposal costs one pass over the n^2 pairs
(instead of n^2 d), with no distance search; see benchmarks/ppica.py for the measured speed-up.
"""

import numba
import numpy as np
from scipy.special import digamma

from lib.mi import ksg_from_radii, ksg_joint_radii, standardize

# ---- incremental KSG cost -------------------------------------------------------------------


@numba.njit(parallel=True, cache=True)
def _violations(zt, eps, in_a, va, vb):
    """va[i, l] (vb) = number of A (B) columns c with |z_ic - z_lc| >= eps_i."""
    d, n = zt.shape
    for i in numba.prange(n):
        e = eps[i]
        for c in range(d):
            zi, row = zt[c, i], zt[c]
            target = va if in_a[c] else vb
            for l in range(n):
                if abs(zi - row[l]) >= e:
                    target[i, l] += 1


@numba.njit(parallel=True, cache=True)
def _flip_deltas(zj, eps, v_lose, v_gain, gained, lost):
    """Count changes when column j leaves cause 'lose' and joins cause 'gain'.

    gained[i]: pairs whose only 'lose' violation is on j (they become neighbours);
    lost[i]: 'gain' neighbours that violate on j (they stop being neighbours).
    """
    n = zj.shape[0]
    for i in numba.prange(n):
        up, down, zi, e = 0, 0, zj[i], eps[i]
        for l in range(n):
            if abs(zi - zj[l]) >= e:
                up += v_lose[i, l] == 1
                down += v_gain[i, l] == 0
        gained[i], lost[i] = up, down


@numba.njit(parallel=True, cache=True)
def _apply_flip(zj, eps, v_lose, v_gain):
    """Move column j's violations from cause 'lose' to cause 'gain'."""
    n = zj.shape[0]
    for i in numba.prange(n):
        zi, e = zj[i], eps[i]
        for l in range(n):
            if abs(zi - zj[l]) >= e:
                v_lose[i, l] -= 1
                v_gain[i, l] += 1


class IncrementalKSG:
    """KSG MI between the A columns and the B columns of z, updated one membership flip at a time.

    z: (n, d) standardised sources (``lib.mi.standardize``); eps: joint radii from
    ``lib.mi.ksg_joint_radii(z, k)``; in_a: boolean membership (True = cause A). The value of
    ``mi`` always equals ``lib.mi.ksg_from_radii(z[:, in_a], z[:, ~in_a], eps, k)`` (eq. 6.2):
    the neighbour counts are the same integers, only computed incrementally.
    Memory: two n x n violation matrices (uint8 for d < 256, else uint16).
    """

    def __init__(self, z, eps, in_a, k=3):
        z = np.asarray(z, dtype=np.float64)
        eps = np.ascontiguousarray(eps, dtype=np.float64)
        in_a = np.asarray(in_a, dtype=bool)
        n, d = z.shape
        if in_a.shape != (d,):
            raise ValueError(f"in_a must have one entry per column ({d}), got shape {in_a.shape}")
        if eps.shape != (n,):
            raise ValueError(f"eps must have one radius per row ({n}), got shape {eps.shape}")
        if in_a.all() or not in_a.any():
            raise ValueError("in_a puts every column in one cause; the MI is then undefined")
        self.zt = np.ascontiguousarray(z.T)
        self.eps = eps
        self.in_a, self.k, self.n = in_a.copy(), k, n
        dtype = np.uint8 if d < 256 else np.uint16
        self.v = {True: np.zeros((n, n), dtype), False: np.zeros((n, n), dtype)}
        _violations(self.zt, self.eps, self.in_a, self.v[True], self.v[False])
        self.counts = {c: (self.v[c] == 0).sum(1) - 1 for c in (True, False)}  # minus self
        self._psi = digamma(np.arange(1, n + 1))  # psi(count + 1) for count = 0 .. n-1
        self._const = digamma(k) + digamma(n)
        self._gained, self._lost = np.empty(n, np.int64), np.empty(n, np.int64)
        self.mi = self._cost(self.counts[True], self.counts[False])

    def _cost(self, n_a, n_b):
        """KSG eq. 8: psi(k) + psi(n) - < psi(n_a + 1) + psi(n_b + 1) >."""
        return float(self._const - np.mean(self._psi[n_a] + self._psi[n_b]))

    def _new_counts(self, j):
        """Counts (A, B) after moving column j to the other cause."""
        src = bool(self.in_a[j])
        _flip_deltas(self.zt[j], self.eps, self.v[src], self.v[not src], self._gained, self._lost)
        new = {src: self.counts[src] + self._gained, not src: self.counts[not src] - self._lost}
        return new[True], new[False]

    def flip_cost(self, j):
        """MI after moving column j to the other cause (the state is not changed)."""
        return self._cost(*self._new_counts(j))

    def flip(self, j):
        """Move column j to the other cause and return the new MI."""
        n_a, n_b = self._new_counts(j)
        src = bool(self.in_a[j])
        _apply_flip(self.zt[j], self.eps, self.v[src], self.v[not src])
        self.in_a[j] = not src
        self.counts = {True: n_a, False: n_b}
        self.mi = self._cost(n_a, n_b)
        return self.mi


def temperature(t, d, t0=0.1):
    """Eq. 6.4 scaled to start at t0: T_t = t0 / (1 + floor(t / d)) for iteration t >= 1."""
    return t0 / (1.0 + np.floor(np.asarray(t) / d))


def anneal(z, eps, in_a, n_iter, k=3, t0=0.1, rng=None, moves="flip"):
    """Simulated annealing over memberships (Algorithm 4; eq. 6.3 Metropolis, eq. 6.4 schedule).

    moves="flip" (the thesis): each iteration picks one membership uniformly at random and flips
    it with probability min(1, exp((cost_now - cost_flipped) / T_t)); a flip that would leave a
    cause empty is rejected. moves="swap" (our variant, section "Balanced causes" of chapter 6):
    each iteration swaps a random A source with a random B source under the same rule, so the
    cause sizes never change. Returns (final membership, MI after each iteration, the indices
    moved per iteration as an (n_iter, 2) array with -1 for none, the IncrementalKSG state).
    """
    if moves not in ("flip", "swap"):
        raise ValueError(f"moves must be 'flip' or 'swap', got {moves!r}")
    rng = np.random.default_rng(rng)
    cost = IncrementalKSG(z, eps, in_a, k)
    d = len(in_a)
    trace, moved = np.empty(n_iter), np.full((n_iter, 2), -1, dtype=np.int64)
    for t in range(1, n_iter + 1):
        u, temp, before = rng.random(), temperature(t, d, t0), cost.mi
        if moves == "flip":
            j = int(rng.integers(d))
            if 0 < cost.in_a.sum() + (-1 if cost.in_a[j] else 1) < d:
                delta = cost.flip_cost(j) - before
                if delta < 0 or u < np.exp(-delta / temp):
                    cost.flip(j)
                    moved[t - 1, 0] = j
        else:
            j = int(rng.choice(np.flatnonzero(cost.in_a)))
            l = int(rng.choice(np.flatnonzero(~cost.in_a)))
            cost.flip(j)
            delta = cost.flip_cost(l) - before
            if delta < 0 or u < np.exp(-delta / temp):
                cost.flip(l)
                moved[t - 1] = j, l
            else:
                cost.flip(j)  # undo: the counts are integers, so this restores them exactly
        trace[t - 1] = cost.mi
    return cost.in_a.copy(), trace, moved, cost


def random_membership(d, rng, balanced=False):
    """A random binary membership with both causes non-empty (Algorithm 4's initialisation);
    ``balanced`` gives exactly d // 2 sources to cause A."""
    if d < 2:
        raise ValueError(f"PPICA needs at least 2 sources to split into two causes, got {d}")
    if balanced:
        return rng.permutation(d) < d // 2
    while True:
        in_a = rng.random(d) < 0.5
        if 0 < in_a.sum() < d:
            return in_a


# ---- the estimator ---------------------------------------------------------------------------


class PostprocessedICA:
    """FastICA followed by annealed grouping of its sources into causes A and B (thesis ch. 6).

    Parameters: n_components (ICA sources d), tol and max_iter (FastICA convergence; the thesis
    found the tolerance matters, section 6.4), k (KSG neighbours), n_sweeps (annealing
    iterations = n_sweeps * d, one temperature step per sweep, eq. 6.4), t0 (starting temperature,
    0.1 in the thesis), moves ("flip": the thesis's single flips; "swap": our size-preserving
    variant, starting from an even split), random_state (ICA initialisation, KSG noise,
    initial membership, annealing).

    After ``fit(X)``: ``sources_`` (n x d), ``mixing_`` (p x d), ``components_`` (d x p unmixing,
    S = (X - mean_) components_^T), ``mean_``, ``membership_`` (bool, True = cause A),
    ``mi_trace_`` (MI after each iteration), ``mi_initial_``, ``mi_`` (final), ``moved_`` (the
    indices moved per iteration, -1 for none), ``ica_n_iter_``.
    """

    def __init__(
        self,
        n_components=50,
        tol=1e-3,
        max_iter=1000,
        k=3,
        n_sweeps=20,
        t0=0.1,
        moves="flip",
        random_state=None,
    ):
        if n_components < 2:
            raise ValueError(f"n_components must be >= 2 to form two causes, got {n_components}")
        if n_sweeps < 1:
            raise ValueError(f"n_sweeps must be >= 1, got {n_sweeps}")
        if moves not in ("flip", "swap"):
            raise ValueError(f"moves must be 'flip' or 'swap', got {moves!r}")
        self.n_components, self.tol, self.max_iter = n_components, tol, max_iter
        self.k, self.n_sweeps, self.t0, self.random_state = k, n_sweeps, t0, random_state
        self.moves = moves

    def fit(self, X):
        """Run FastICA on X (n x p), then anneal the memberships of its sources."""
        return self.fit_sources(self.fit_ica(X).transform(X))

    def fit_ica(self, X):
        """Only the FastICA step: sets components_, mixing_, mean_, ica_n_iter_."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        if not np.isfinite(X).all():
            raise ValueError("X contains NaN or inf")
        if self.n_components > min(X.shape):
            raise ValueError(
                f"n_components={self.n_components} exceeds min(n_samples, n_features)={min(X.shape)}"
            )
        self.components_, self.mixing_, self.mean_, self.ica_n_iter_ = _fit_ica(
            X, self.n_components, self.tol, self.max_iter, self.random_state
        )
        return self

    def transform(self, X):
        """ICA sources of X: S = (X - mean_) components_^T."""
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return (X - self.mean_) @ self.components_.T

    def fit_sources(self, S):
        """Anneal memberships for fixed sources S (n x d); ICA attributes are left untouched."""
        self.sources_ = S = np.asarray(S, dtype=np.float64)
        rng = np.random.default_rng(self.random_state)
        z = standardize(S, noise=True, random_state=rng, name="sources")
        eps = ksg_joint_radii(z, self.k, device="cpu")
        in_a = random_membership(S.shape[1], rng, balanced=self.moves == "swap")
        self.mi_initial_ = ksg_from_radii(z[:, in_a], z[:, ~in_a], eps, self.k, device="cpu")
        n_iter = self.n_sweeps * S.shape[1]
        self.membership_, self.mi_trace_, self.moved_, _ = anneal(
            z, eps, in_a, n_iter, self.k, self.t0, rng, self.moves
        )
        self.initial_membership_ = in_a
        self.mi_ = float(self.mi_trace_[-1])
        return self

    def reconstruct(self, cause="both", S=None):
        """Reconstruction from cause "a", "b" or "both": S_c M_c^T plus mean (half the mean per
        single cause, so the A and B reconstructions add up to the full one)."""
        S = self.sources_ if S is None else S
        mask = {"a": self.membership_, "b": ~self.membership_, "both": np.ones_like(self.membership_)}.get(
            cause
        )
        if mask is None:
            raise ValueError(f"cause must be 'a', 'b' or 'both', got {cause!r}")
        share = 1.0 if cause == "both" else 0.5
        return S[:, mask] @ self.mixing_[:, mask].T + share * self.mean_


def _fit_ica(X, n_components, tol, max_iter, random_state):
    """scikit-learn symmetric FastICA (logcosh negentropy approximation, section 5.2) on the
    non-constant pixels; returns (components d x p, mixing p x d, mean p, iterations) over all p.

    Constant pixels (the always-blank border) are dropped first: scikit-learn 1.9 fixes the sign
    of each whitening vector by its first feature (``u *= np.sign(u[0])``), and a constant first
    pixel gives sign 0, which zeroes half the whitened dimensions and leaves duplicated,
    correlated "independent" components.
    """
    import warnings

    from sklearn.decomposition import FastICA
    from sklearn.exceptions import ConvergenceWarning

    keep = X.std(0) > 0
    if keep.sum() < n_components:
        raise ValueError(f"n_components={n_components} exceeds the {keep.sum()} non-constant features")
    ica = FastICA(
        n_components=n_components,
        tol=tol,
        max_iter=max_iter,
        whiten="unit-variance",
        whiten_solver="svd",
        random_state=random_state,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported via ica_n_iter_
        ica.fit(X[:, keep])
    components = np.zeros((n_components, X.shape[1]))
    mixing = np.zeros((X.shape[1], n_components))
    components[:, keep], mixing[keep] = ica.components_, ica.mixing_
    return components, mixing, X.mean(0), int(ica.n_iter_)


# ---- scoring against the truth ---------------------------------------------------------------


def upright_share(sources, part_a, part_b):
    """Share of each source's mixing column that draws the upright part (part a).

    Regressing the input on the sources gives each source's mixing column, cov(x, s_c) / var(s_c)
    (for FastICA's uncorrelated sources this is its column of ``mixing_``: the image the
    component adds to a reconstruction). The composites are additive, x = a + b, so the column
    splits exactly into an upright image cov(a, s_c) and a rotated image cov(b, s_c). Returns
    |cov(a, s_c)|^2 / (|cov(a, s_c)|^2 + |cov(b, s_c)|^2) per source: 1 = it draws only upright
    pixels, 0 = only rotated ones; the source's true cause is the part with the larger share.
    """
    S = np.asarray(sources, dtype=np.float64)
    pa, pb = (np.asarray(p, dtype=np.float64).reshape(len(p), -1) for p in (part_a, part_b))
    if not (len(S) == len(pa) == len(pb)) or pa.shape != pb.shape:
        raise ValueError(f"sources {S.shape} and parts {pa.shape}, {pb.shape} do not match")
    S = S - S.mean(0)
    energy_a = ((S.T @ (pa - pa.mean(0))) ** 2).sum(1)
    energy_b = ((S.T @ (pb - pb.mean(0))) ** 2).sum(1)
    return energy_a / (energy_a + energy_b)


def assigned_share(membership, true_a, weights=None):
    """Share of sources whose cause matches their true cause, under the better labelling of the
    two causes (A = upright or A = rotated); ``weights`` (e.g. how single-cause each source is,
    |2 * upright_share - 1|) turn it into a weighted share."""
    match = np.asarray(membership, bool) == np.asarray(true_a, bool)
    agree = np.average(match, weights=weights)
    return float(max(agree, 1 - agree))


def chance_share(membership, true_a, weights=None, n_perm=2000, random_state=0):
    """Expected ``assigned_share`` of a random membership with the same cause sizes."""
    rng = np.random.default_rng(random_state)
    membership = np.asarray(membership, bool)
    perms = np.array([rng.permutation(membership) for _ in range(n_perm)])
    agree = np.average(perms == np.asarray(true_a, bool), axis=1, weights=weights)
    return float(np.maximum(agree, 1 - agree).mean())


def share_trace(initial, moved, true_a):
    """``assigned_share`` after every annealing iteration, replayed from the moves
    (``moved``: (n_iter, 2) indices per iteration, -1 for none, as ``anneal`` returns)."""
    in_a = np.asarray(initial, bool).copy()
    true_a = np.asarray(true_a, bool)
    agree = np.empty(len(moved))
    matches = int(np.sum(in_a == true_a))
    for t, pair in enumerate(np.asarray(moved).reshape(len(moved), -1)):
        for j in pair[pair >= 0]:
            matches += -1 if in_a[j] == true_a[j] else 1
            in_a[j] = not in_a[j]
        agree[t] = matches
    agree /= len(true_a)
    return np.maximum(agree, 1 - agree)


def cost_landscape(sources, true_a, n_random=20, k=3, random_state=0):
    """Eq. 6.2 at reference groupings of fixed sources: the true grouping, random groupings of
    the same sizes, and every one-source-versus-the-rest split. Returns a dict of MIs (nats)."""
    rng = np.random.default_rng(random_state)
    true_a = np.asarray(true_a, bool)
    if true_a.all() or not true_a.any():
        raise ValueError("the true grouping puts every source in one cause")
    z = standardize(sources, noise=True, random_state=rng, name="sources")
    eps = ksg_joint_radii(z, k, device="cpu")
    mi = lambda m: ksg_from_radii(z[:, m], z[:, ~m], eps, k, device="cpu")
    singles = np.eye(len(true_a), dtype=bool)
    return {
        "truth": mi(true_a),
        "random": np.array([mi(rng.permutation(true_a)) for _ in range(n_random)]),
        "one_vs_rest": np.array([mi(m) for m in singles]),
    }


# ---- one multi-run experiment (a sweep function) ---------------------------------------------


def ppica_run(
    n_components,
    tol,
    seed,
    n,
    n_sweeps,
    moves="flip",
    kind="upright012_rot345",
    data_seed=0,
    data_dir=None,
    max_iter=1000,
):
    """One PPICA run (ICA and annealing seeded by ``seed``) on the chapter-6 composites, scored
    against the truth (single-threaded: sweeps run several of these in parallel processes).

    Returns the final and initial MI, the MI and assigned-share traces, the share of sources
    assigned to their true cause (plain and weighted by how single-cause each source is) with
    their chance levels, the sources' purity, the reconstruction score of the A-only / B-only
    reconstructions (lib.metrics) and their separation score (lib.metrics.reconstruction_separation,
    as they are and with each image set's mean removed), the membership, the ICA iterations and
    the CPU seconds.
    """
    import time

    from threadpoolctl import threadpool_limits

    from lib.data import make_composite
    from lib.metrics import reconstruction_score, reconstruction_separation

    numba.set_num_threads(1)
    data = make_composite(kind, n=n, seed=data_seed, data_dir=data_dir)
    X, pa, pb = (a.reshape(len(a), -1) for a in (data.x, data.part_a, data.part_b))
    start = time.process_time()
    with threadpool_limits(1):
        model = PostprocessedICA(
            n_components, tol=tol, max_iter=max_iter, n_sweeps=n_sweeps, moves=moves, random_state=seed
        ).fit(X)
    seconds = time.process_time() - start
    share_a = upright_share(model.sources_, pa, pb)
    true_a, clarity = share_a > 0.5, np.abs(2 * share_a - 1)
    m = model.membership_
    r_a, r_b = model.reconstruct("a"), model.reconstruct("b")
    recon = reconstruction_score(r_a, r_b, pa, pb)
    separation = reconstruction_separation(r_a, r_b, pa, pb)
    centred = reconstruction_separation(*(a - a.mean(0) for a in (r_a, r_b, pa, pb)))
    return {
        "mi": model.mi_,
        "mi_initial": model.mi_initial_,
        "mi_trace": model.mi_trace_,
        "share": assigned_share(m, true_a),
        "chance": chance_share(m, true_a),
        "share_weighted": assigned_share(m, true_a, clarity),
        "chance_weighted": chance_share(m, true_a, clarity),
        "share_trace": share_trace(model.initial_membership_, model.moved_, true_a),
        "purity": float(np.mean(np.maximum(share_a, 1 - share_a))),
        "upright_share": share_a,
        "membership": m.astype(np.int64),
        "recon_score": recon["score"],
        "recon_separation": separation["score"],
        "recon_separation_centred": centred["score"],
        "ica_n_iter": model.ica_n_iter_,
        "n_in_a": int(m.sum()),
        "n_upright": int(true_a.sum()),
        "cpu_seconds": seconds,
    }
