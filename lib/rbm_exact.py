"""Exact computation for small Broadnets (thesis chapter 4, sections 4.1, 4.4 and 4.5).

A Broadnet (section 3.2) is two GRBMs A and B sharing the visibles: the causes are independent a
priori, each with its GRBM marginal, and the data is Gaussian around the sum of their
reconstructions,

    p(h^a, h^b, x) = p_A(h^a) p_B(h^b) N(x; s (W h^a + V h^b), sigma^2 I),
    p_A(h^a) ∝ exp(s^2 |W h^a|^2 / (2 sigma^2) + b^a . h^a)                   (eq. 3.7, 4.5)

where ``s`` is the scale of a GRBM's visible mean (``s = sigma`` in eq. 2.17 and lib.rbm, where
the energy has v / sigma; ``s = 1`` when the mean is simply ``W h``). As in the thesis there are no
visible biases. For up to ``MAX_HIDDEN`` hidden units in all, every joint hidden state can be
enumerated, which gives the
partition function (eq. 4.2), the exact log-likelihood (eq. 4.3-4.6), its exact gradient (eq. 4.9)
and the exact posterior p(h^a, h^b | x) (Fig 4.5), all vectorised over states and data in float64.
The unit-configuration tools of section 4.4 (eq. 4.10-4.12) and the unit interpolation of section
4.5 (eq. 4.13) work on the same parameter object.
"""

import hashlib
import itertools
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from lib.rbm import Broadnet

MAX_HIDDEN = 16  # 2^16 joint states: beyond this enumeration is no longer "small"


@dataclass
class BroadnetParams:
    """Parameters of a small Broadnet as float64 tensors.

    ``W`` (D, n_a) and ``V`` (D, n_b) hold one unit per column, ``ba`` (n_a,), ``bb`` (n_b,) are the
    hidden biases, ``sigma`` the noise parameter and ``scale`` the factor of the visible mean
    scale (W h^a + V h^b).
    """

    W: torch.Tensor
    V: torch.Tensor
    ba: torch.Tensor
    bb: torch.Tensor
    sigma: float
    scale: float

    def __post_init__(self):
        D = self.W.shape[0]
        if self.W.ndim != 2 or self.V.ndim != 2 or self.V.shape[0] != D:
            raise ValueError(
                f"W and V must be (D, n) with the same D; got {tuple(self.W.shape)} and {tuple(self.V.shape)}"
            )
        if self.ba.shape != (self.W.shape[1],) or self.bb.shape != (self.V.shape[1],):
            raise ValueError(
                f"bias shapes {tuple(self.ba.shape)}, {tuple(self.bb.shape)} do not "
                f"match W {tuple(self.W.shape)}, V {tuple(self.V.shape)}"
            )
        if not self.sigma > 0:
            raise ValueError(f"sigma must be positive, got {self.sigma}")

    @classmethod
    def create(cls, W, V, ba=None, bb=None, sigma=1.0, scale=None, device=None):
        """Build from arrays or tensors (copied to float64); ``scale`` defaults to ``sigma``."""
        t = lambda a: torch.as_tensor(
            np.asarray(a) if not torch.is_tensor(a) else a.detach(), dtype=torch.float64, device=device
        ).clone()
        W, V = t(W), t(V)
        ba = torch.zeros(W.shape[1], dtype=torch.float64, device=W.device) if ba is None else t(ba)
        bb = torch.zeros(V.shape[1], dtype=torch.float64, device=W.device) if bb is None else t(bb)
        return cls(W, V, ba, bb, float(sigma), float(sigma if scale is None else scale))

    @classmethod
    def random(cls, n_visible, n_a, n_b, sigma=1.0, scale=None, random_state=0):
        """Glorot-uniform weights and zero biases (the random initialisation of Fig 4.9)."""
        g = torch.Generator().manual_seed(int(random_state))
        limit = math.sqrt(6.0 / (n_visible + n_a))
        W = (torch.rand(n_visible, n_a, generator=g, dtype=torch.float64) * 2 - 1) * limit
        limit = math.sqrt(6.0 / (n_visible + n_b))
        V = (torch.rand(n_visible, n_b, generator=g, dtype=torch.float64) * 2 - 1) * limit
        return cls.create(W, V, sigma=sigma, scale=scale)

    @property
    def sizes(self):
        return self.W.shape[1], self.V.shape[1]

    def copy(self):
        return replace(self, **{k: getattr(self, k).clone() for k in ("W", "V", "ba", "bb")})

    def swapped(self):
        """The same model with causes A and B exchanged."""
        return replace(
            self.copy(), W=self.V.clone(), V=self.W.clone(), ba=self.bb.clone(), bb=self.ba.clone()
        )

    def tensors(self):
        return {k: getattr(self, k) for k in ("W", "V", "ba", "bb")}


def params_from_net(net):
    """Exact-computation parameters of a ``lib.rbm.Broadnet`` (visible mean sigma W h, eq. 2.18)."""
    for name, g in (("a", net.a), ("b", net.b)):
        if bool((g.c != 0).any()):
            raise ValueError(
                f"cause {name} has visible biases; the exact computation covers the "
                "thesis's Broadnets, which have none"
            )
    return BroadnetParams.create(net.a.W, net.b.W, net.a.b, net.b.b, sigma=net.sigma, scale=net.sigma)


def net_from_params(p, random_state=0, dtype=torch.float32, device=None):
    """A ``lib.rbm.Broadnet`` holding the parameters ``p`` (its sampler needs scale = sigma)."""
    if p.scale != p.sigma:
        raise ValueError(f"lib.rbm's GRBMs have visible mean sigma W h; scale {p.scale} != sigma {p.sigma}")
    net = Broadnet(
        p.W.shape[0], *p.sizes, sigma=p.sigma, random_state=random_state, device=device, dtype=dtype
    )
    for g, W, b in ((net.a, p.W, p.ba), (net.b, p.V, p.bb)):
        g.W.copy_(W.to(g.W))
        g.b.copy_(b.to(g.b))
    return net


def binary_states(n, dtype=torch.float64, device=None):
    """All 2^n binary vectors of length n as rows, in counting order (unit 0 = lowest bit)."""
    codes = torch.arange(2**n, device=device)
    return ((codes[:, None] >> torch.arange(n, device=device)) & 1).to(dtype)


def _check_enumerable(p):
    if p.W.shape[1] + p.V.shape[1] > MAX_HIDDEN:
        raise ValueError(
            f"{p.W.shape[1]} + {p.V.shape[1]} hidden units: exact enumeration is "
            f"limited to {MAX_HIDDEN} in total"
        )


def _as_data(p, X):
    _check_enumerable(p)
    X = torch.as_tensor(
        np.asarray(X) if not torch.is_tensor(X) else X, dtype=torch.float64, device=p.W.device
    )
    X = X.reshape(len(X), -1)
    if X.shape[1] != p.W.shape[0]:
        raise ValueError(f"data has {X.shape[1]} features but the model has {p.W.shape[0]} visibles")
    return X


def log_prior_weights(W, b, sigma, scale):
    """Unnormalised log marginal of every hidden state of one GRBM (eq. 3.7, 4.5).

    Returns (states (2^n, n), log weights (2^n,)) with log w(h) = s^2 |W h|^2 / (2 sigma^2) + b.h.
    """
    H = binary_states(W.shape[1], device=W.device)
    phi = H @ W.T
    return H, scale**2 * (phi**2).sum(1) / (2 * sigma**2) + H @ b


def log_partition(p):
    """Exact log Z as a float (see ``_log_partition``)."""
    return float(_log_partition(p))


def _log_partition(p):
    """Exact log Z of the Broadnet (eq. 4.2): the Gaussian integral times both GRBM sums.

    Z = (2 pi sigma^2)^(D/2) sum_{h^a} w_A(h^a) sum_{h^b} w_B(h^b): the x-integral of the joint
    factorises over the two causes, so Z costs 2^n_a + 2^n_b terms, not their product.
    """
    _check_enumerable(p)
    D = p.W.shape[0]
    _, la = log_prior_weights(p.W, p.ba, p.sigma, p.scale)
    _, lb = log_prior_weights(p.V, p.bb, p.sigma, p.scale)
    return 0.5 * D * math.log(2 * math.pi * p.sigma**2) + torch.logsumexp(la, 0) + torch.logsumexp(lb, 0)


def _joint_terms(p, X):
    """Pieces of log p*(x, h^a, h^b) over every state pair: ua (n, Sa), ub (n, Sb), cross (Sa, Sb).

    log p*(x, h^a, h^b) = ua[x, h^a] + ub[x, h^b] - cross[h^a, h^b] - |x|^2 / (2 sigma^2) with
    ua = b^a.h^a + s x.W h^a / sigma^2 and cross = s^2 (W h^a).(V h^b) / sigma^2 (eq. 3.8);
    the |W h^a|^2 terms of the likelihood and the marginal cancel.
    """
    Ha = binary_states(p.W.shape[1], device=p.W.device)
    Hb = binary_states(p.V.shape[1], device=p.W.device)
    k = p.scale / p.sigma**2
    ua = (k * (X @ p.W)) @ Ha.T + Ha @ p.ba
    ub = (k * (X @ p.V)) @ Hb.T + Hb @ p.bb
    cross = (p.scale * k) * (Ha @ (p.W.T @ p.V)) @ Hb.T
    return Ha, Hb, ua, ub, cross


def _log_joint(p, X):
    """log p*(x, h^a, h^b) for every x and state pair, (n, Sa, Sb), plus the states."""
    Ha, Hb, ua, ub, cross = _joint_terms(p, X)
    quad = (X**2).sum(1) / (2 * p.sigma**2)
    return Ha, Hb, ua[:, :, None] + ub[:, None, :] - cross[None] - quad[:, None, None]


def log_likelihood(p, X):
    """Exact log p(x) for every row of X (eq. 4.4, 4.6), shape (n,), in nats."""
    X = _as_data(p, X)
    _, _, J = _log_joint(p, X)
    return torch.logsumexp(J.flatten(1), 1) - _log_partition(p)


def mean_log_likelihood(p, X):
    """Mean exact log-probability per example (nats)."""
    return float(log_likelihood(p, X).mean())


def posterior(p, X):
    """Exact posterior p(h^a, h^b | x), shape (n, 2^n_a, 2^n_b) (Fig 4.5).

    State index i of a cause is the binary number whose bit j is unit j (``binary_states``).
    """
    X = _as_data(p, X)
    _, _, J = _log_joint(p, X)
    return torch.softmax(J.flatten(1), 1).reshape(J.shape)


def posterior_means(p, X):
    """Exact posterior means E[h^a | x] (n, n_a) and E[h^b | x] (n, n_b)."""
    X = _as_data(p, X)
    Ha, Hb, J = _log_joint(p, X)
    P = torch.softmax(J.flatten(1), 1).reshape(J.shape)
    return P.sum(2) @ Ha, P.sum(1) @ Hb


def cause_reconstructions(p, X):
    """Each cause's expected contribution s W E[h^a|x] and s V E[h^b|x] to x, (n, D) each."""
    ma, mb = posterior_means(p, X)
    return p.scale * ma @ p.W.T, p.scale * mb @ p.V.T


def gradient(p, X):
    """Exact gradient of the mean log-likelihood over X (eq. 4.9), a dict like ``tensors()``.

    d/dW = E_data E_post[(s / sigma^2) (x - s V h^b) h^a^T]   (Hebbian, residual from B)
         - (s^2 / sigma^2) W E_{p_A}[h^a h^a^T]                 (anti-Hebbian, marginal of A)
    and symmetrically for V; d/db^a = E_data E_post[h^a] - E_{p_A}[h^a].
    """
    X = _as_data(p, X)
    n = len(X)
    Ha, Hb, J = _log_joint(p, X)
    P = torch.softmax(J.flatten(1), 1).reshape(J.shape)
    ma, mb = P.sum(2) @ Ha, P.sum(1) @ Hb  # (n, n_a), (n, n_b)
    Q = P.sum(0)  # (Sa, Sb), summed over data
    cross_ab = Ha.T @ Q @ Hb / n  # E_data E_post[h^a h^b^T]
    k, s = p.scale / p.sigma**2, p.scale
    grads = {}
    for name, bname, U, Uo, m, C, b in (
        ("W", "ba", p.W, p.V, ma, cross_ab, p.ba),
        ("V", "bb", p.V, p.W, mb, cross_ab.T, p.bb),
    ):
        H, lw = log_prior_weights(U, b, p.sigma, s)
        w = torch.softmax(lw, 0)
        prior_hh = H.T @ (w[:, None] * H)  # E_prior[h h^T]
        hebb = k * (X.T @ m / n - s * Uo @ C.T)
        grads[name] = hebb - k * s * U @ prior_hh
        grads[bname] = m.mean(0) - w @ H
    return grads


def fit_exact(p, X, epochs, lr, batch_size=64, momentum=0.0, random_state=0, eval_X=None, callback=None):
    """Exact-gradient ascent on the mean log-likelihood (section 4.4), minibatched.

    Returns (trained copy, log-probability history) where history[e] is the mean exact log p(x)
    over ``eval_X`` (default X) after e epochs (history[0]: before training).  ``callback(epoch,
    params)`` runs after every epoch.
    """
    if epochs < 0 or lr <= 0 or batch_size < 1:
        raise ValueError(f"need epochs >= 0, lr > 0, batch_size >= 1; got {epochs}, {lr}, {batch_size}")
    p = p.copy()
    X = _as_data(p, X)
    eval_X = X if eval_X is None else _as_data(p, eval_X)
    g = torch.Generator().manual_seed(int(random_state))
    velocity = {k: torch.zeros_like(v) for k, v in p.tensors().items()}
    history = [mean_log_likelihood(p, eval_X)]
    for epoch in range(1, epochs + 1):
        order = torch.randperm(len(X), generator=g).to(X.device)
        for start in range(0, len(X), batch_size):
            grads = gradient(p, X[order[start : start + batch_size]])
            for k in velocity:
                velocity[k] = momentum * velocity[k] + lr * grads[k]
                setattr(p, k, getattr(p, k) + velocity[k])
        history.append(mean_log_likelihood(p, eval_X))
        if callback is not None:
            callback(epoch, p)
    return p, np.array(history)


# ------------------------------------------------------------------ unit configurations (4.4)
def unit_configurations(n_per_cause):
    """Every split of the 2N units into two groups of N, each split once (eq. 4.10-4.11).

    A split and its mirror image (the groups exchanged) give the same Broadnet with A and B
    renamed, which has the same log-probability and the same dynamics, so only the index sets I
    containing unit 0 are listed: C(2N-1, N-1) = C(2N, N) / 2 of them (126 for N = 5; the thesis
    says 120). The first is the original split (0, ..., N-1).
    """
    N = int(n_per_cause)
    if N < 1:
        raise ValueError(f"n_per_cause must be >= 1, got {n_per_cause}")
    return [(0,) + rest for rest in itertools.combinations(range(1, 2 * N), N - 1)]


def configure(p, index_set):
    """The Broadnet whose cause A holds the units in ``index_set`` of U = [W V] (eq. 4.10-4.11)."""
    N = p.W.shape[1] + p.V.shape[1]
    I = list(index_set)
    if len(set(I)) != len(I) or not all(0 <= i < N for i in I):
        raise ValueError(f"index set {index_set} must hold distinct units in [0, {N})")
    J = [j for j in range(N) if j not in I]
    U, c = torch.cat([p.W, p.V], 1), torch.cat([p.ba, p.bb])
    return replace(p.copy(), W=U[:, I].clone(), V=U[:, J].clone(), ba=c[I].clone(), bb=c[J].clone())


def _permuted_distance(A, B):
    """min over unit permutations of |perm(A) - B|_F for (D, n) unit matrices (Hungarian)."""
    cost = torch.cdist(A.T, B.T).pow(2).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(max(cost[rows, cols].sum(), 0.0)))


def model_difference(p1, p2):
    """The 'model difference' of eq. 4.12: best-permutation L2 distance of W plus that of V.

    Units of each cause are matched by the permutation minimising the Frobenius distance
    (scipy's linear_sum_assignment on squared unit distances); causes are not exchanged.
    """
    if p1.W.shape != p2.W.shape or p1.V.shape != p2.V.shape:
        raise ValueError(
            f"models differ in shape: {tuple(p1.W.shape)}/{tuple(p1.V.shape)} vs "
            f"{tuple(p2.W.shape)}/{tuple(p2.V.shape)}"
        )
    return _permuted_distance(p1.W, p2.W) + _permuted_distance(p1.V, p2.V)


def difference_matrix(models):
    """Symmetric matrix of pairwise model differences (eq. 4.12)."""
    n = len(models)
    out = np.zeros((n, n))
    for i, j in itertools.combinations(range(n), 2):
        out[i, j] = out[j, i] = model_difference(models[i], models[j])
    return out


def interpolate_units(p, j, k, alpha):
    """Interpolate unit j of A with unit k of B (eq. 4.13): alpha = 1 is p, alpha = 0 swaps them.

    W'_j = a W_j + (1 - a) V_k, V'_k = (1 - a) W_j + a V_k, and the same for the biases.
    """
    if not (0 <= j < p.W.shape[1] and 0 <= k < p.V.shape[1]):
        raise ValueError(f"unit indices out of range: j={j} (n_a={p.W.shape[1]}), k={k} (n_b={p.V.shape[1]})")
    q = p.copy()
    q.W[:, j] = alpha * p.W[:, j] + (1 - alpha) * p.V[:, k]
    q.V[:, k] = (1 - alpha) * p.W[:, j] + alpha * p.V[:, k]
    q.ba[j] = alpha * p.ba[j] + (1 - alpha) * p.bb[k]
    q.bb[k] = (1 - alpha) * p.ba[j] + alpha * p.bb[k]
    return q


# ------------------------------------------------------------------ storing parameters
def save_params(p, path):
    """Store parameters as .npz (plain arrays; load with ``load_params``)."""
    arrays = {k: v.cpu().numpy() for k, v in p.tensors().items()}
    np.savez(path, sigma=p.sigma, scale=p.scale, **arrays)


def load_params(path):
    """Parameters stored by ``save_params`` (no pickles)."""
    with np.load(path, allow_pickle=False) as f:
        return BroadnetParams.create(
            f["W"], f["V"], f["ba"], f["bb"], sigma=float(f["sigma"]), scale=float(f["scale"])
        )


def params_key(p):
    """A short content hash of the parameters (keys sweep runs that start from them)."""
    h = hashlib.sha256()
    for v in p.tensors().values():
        h.update(v.cpu().numpy().tobytes())
    return h.hexdigest()[:16]
