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

import warnings

import numba
import numpy as np
from scipy.special import digamma
from sklearn.decomposition import FastICA
from sklearn.exceptions import ConvergenceWarning

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


def acceptance(delta, temp):
    """Eq. 5.9 / 6.3: the probability min(1, exp(-delta / T)) of accepting a move that changes the
    cost by ``delta`` at temperature T (written exp(min(0, -delta / T)) so that a large downhill
    move cannot overflow). ``anneal`` accepts a move when a uniform draw falls below it."""
    return np.exp(np.minimum(0.0, -np.asarray(delta, dtype=np.float64) / temp))


def anneal(z, eps, in_a, n_iter, k=3, t0=0.1, rng=None, moves="flip"):
    """Simulated annealing over memberships (Algorithm 4; eq. 6.3 Metropolis, eq. 6.4 schedule).

    moves="flip" (the thesis): each iteration picks one membership uniformly at random and flips
    it with probability ``acceptance(cost_flipped - cost_now, T_t)``; a flip that would leave a
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
                if u < acceptance(cost.flip_cost(j) - before, temp):
                    cost.flip(j)
                    moved[t - 1, 0] = j
        else:
            j = int(rng.choice(np.flatnonzero(cost.in_a)))
            l = int(rng.choice(np.flatnonzero(~cost.in_a)))
            cost.flip(j)
            if u < acceptance(cost.flip_cost(l) - before, temp):
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
    indices moved per iteration, -1 for none), ``initial_membership_``, ``ica_n_iter_``.
    Scoring against the true causes and the chapter's runs live in ``lib.chapters.ch06_ppica``.
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
        self.n_components, self.tol, self.max_iter = n_components, tol, max_iter
        self.k, self.n_sweeps, self.t0, self.random_state = k, n_sweeps, t0, random_state
        self.moves = moves

    def _validate_params(self):
        """Check the constructor's arguments (scikit-learn style: at fit time, not in __init__)."""
        if self.n_components < 2:
            raise ValueError(f"n_components must be >= 2 to form two causes, got {self.n_components}")
        if self.n_sweeps < 1:
            raise ValueError(f"n_sweeps must be >= 1, got {self.n_sweeps}")
        if self.t0 <= 0:
            raise ValueError(f"t0 must be positive, got {self.t0}")
        if self.moves not in ("flip", "swap"):
            raise ValueError(f"moves must be 'flip' or 'swap', got {self.moves!r}")

    def fit(self, X):
        """Run FastICA on X (n x p), then anneal the memberships of its sources."""
        return self.fit_sources(self.fit_ica(X).transform(X))

    def fit_ica(self, X):
        """Only the FastICA step: sets components_, mixing_, mean_, ica_n_iter_; returns self."""
        self._validate_params()
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

    def fit_sources(self, S, membership=None):
        """Anneal memberships for fixed sources S (n x d); ICA attributes are left untouched.

        With ``membership`` given (one bool per source, e.g. a stored run's), take it as the
        fitted grouping instead of annealing: sets ``sources_``, ``membership_`` and
        ``initial_membership_`` only (no MI trace). Returns self.
        """
        self._validate_params()
        S = np.asarray(S, dtype=np.float64)
        if S.ndim != 2 or not np.isfinite(S).all():
            raise ValueError(f"S must be a finite (n, d) array, got shape {S.shape}")
        if membership is not None:
            membership = np.asarray(membership).astype(bool)
            if membership.shape != (S.shape[1],):
                raise ValueError(
                    f"membership must have one entry per source ({S.shape[1]}), got {membership.shape}"
                )
            self.sources_, self.membership_ = S, membership
            self.initial_membership_ = membership.copy()
            return self
        self.sources_ = S
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
