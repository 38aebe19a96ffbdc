"""Gaussian-Bernoulli RBMs and the Broadnet (thesis chapters 2-3).

Parametrisation (eq. 2.17, 3.4): a GRBM with weights ``W`` (n_visible, n_hidden), hidden biases
``b``, visible biases ``c`` (zero and fixed unless ``visible_bias=True``) and a fixed noise
``sigma`` has the unnormalised log joint

    log p*(v, h) = -||v - c||^2 / (2 sigma^2) + (v / sigma) . W h + b . h,

so p(h_j = 1 | v) = sigmoid(b_j + W_j . v / sigma) (eq. 2.15) and p(v | h) = N(c + sigma W h,
sigma^2) (eq. 2.18). ``energy`` returns ``-log p*``. The *reconstruction* of a hidden state is the
likelihood's mean r = c + sigma W h, in data units.

A Broadnet (section 3.2) puts two such GRBMs ("causes" A and B) on one set of visibles with an
additive Gaussian likelihood x ~ N(r_a + r_b, sigma^2) (eq. 3.3) and the GRBM marginals (eq. 3.7).
Its log joint (eq. 3.8, written here for any sigma; the thesis's form is sigma = 1) is

    J = -||x - r_a - r_b||^2 / (2 sigma^2) + (||r_a||^2 - ||c_a||^2 + ||r_b||^2 - ||c_b||^2)
        / (2 sigma^2) + b_a . h_a + b_b . h_b,

whose full conditionals are the GRBM posteriors applied to the residual (eq. 3.12):
p(h_a | x, h_b) = sigmoid(b_a + W^T (x - r_b) / sigma). The CD updates (eq. 3.15) are the exact
gradient of J, d J / d W = h_a (x - r_b) / sigma; in data units (sigma W) a step of size lr
moves the reconstruction weights by lr <h_a (x - r_b)>_posterior - lr <h_a v_a>_joint, the
thesis's rule. At sigma = 1 every formula here is the thesis's.

Sizes: for speed everything is float32 by default (``dtype=torch.float64`` for exact checks);
chains are batched as tensors (one row per chain), never looped over in Python.
"""

import math

import numpy as np
import torch

from lib import nets

ANTI_HEBBIAN_INITS = ("correct", "random", "one_network")


def _check_sigma(sigma):
    if not (isinstance(sigma, (int, float)) and math.isfinite(sigma) and sigma > 0):
        raise ValueError(
            f"sigma must be a positive finite number, got {sigma!r} "
            "(sigma = 0 is the noise-free limit, where p(h|v) is undefined)"
        )
    return float(sigma)


def _as_data(X, n_visible, device, dtype, name="X"):
    """A (n, n_visible) tensor on ``device`` from an array-like, with a clear error otherwise."""
    if torch.is_tensor(X):
        X = X.to(device, dtype)
    else:
        X = torch.tensor(np.asarray(X), device=device, dtype=dtype)
    X = X.reshape(len(X), -1) if X.ndim > 2 else X
    if X.ndim != 2 or X.shape[1] != n_visible:
        raise ValueError(f"{name} must have shape (n, {n_visible}), got {tuple(X.shape)}")
    if not torch.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf")
    return X


def _check_fit_args(epochs, lr, batch_size, k, n):
    if epochs < 0 or batch_size < 1 or k < 1 or not lr > 0:
        raise ValueError(
            f"need epochs >= 0, batch_size >= 1, k >= 1 and lr > 0; got epochs="
            f"{epochs}, batch_size={batch_size}, k={k}, lr={lr}"
        )
    if n == 0:
        raise ValueError("cannot fit on an empty dataset")


class _SGD:
    """SGD ascent with momentum and L1/L2 weight decay (decay on weights only)."""

    def __init__(self, params, lr, momentum, l1, l2, decayed=("W",)):
        self.params, self.lr, self.momentum, self.l1, self.l2 = params, lr, momentum, l1, l2
        self.decayed = decayed
        self.velocity = {k: torch.zeros_like(p) for k, p in params.items()}

    def step(self, grads):
        for name, g in grads.items():
            p = self.params[name]
            if name in self.decayed:
                g = g - self.l1 * torch.sign(p) - self.l2 * p
            v = self.velocity[name]
            v.mul_(self.momentum).add_(g, alpha=self.lr)
            p.add_(v)


class GRBM:
    """Gaussian-Bernoulli RBM with fixed noise sigma (eq. 2.15-2.18), batched over rows.

    ``fit`` returns the estimator; after it, ``history_`` holds the per-epoch training record."""

    def __init__(
        self,
        n_visible,
        n_hidden,
        sigma=1.0,
        visible_bias=False,
        random_state=0,
        device=None,
        dtype=torch.float32,
    ):
        if n_visible < 1 or n_hidden < 1:
            raise ValueError(f"need n_visible, n_hidden >= 1, got {n_visible}, {n_hidden}")
        self.n_visible, self.n_hidden = int(n_visible), int(n_hidden)
        self.sigma = _check_sigma(sigma)
        self.visible_bias = bool(visible_bias)
        self.device, self.dtype = torch.device(device or nets.device()), dtype
        self.generator = torch.Generator(device=self.device).manual_seed(int(random_state))
        self.W = torch.zeros(n_visible, n_hidden, device=self.device, dtype=dtype)
        self.b = torch.zeros(n_hidden, device=self.device, dtype=dtype)
        self.c = torch.zeros(n_visible, device=self.device, dtype=dtype)
        self.init_params()

    def clone(self, random_state=None):
        """An independent copy (same parameters; a fresh generator if ``random_state`` given)."""
        new = GRBM.__new__(GRBM)
        new.__dict__.update(self.__dict__)
        new.W, new.b, new.c = self.W.clone(), self.b.clone(), self.c.clone()
        if hasattr(self, "history_"):
            new.history_ = {k: list(v) for k, v in self.history_.items()}
        new.generator = torch.Generator(device=self.device)
        new.generator.set_state(self.generator.get_state())
        if random_state is not None:
            new.generator.manual_seed(int(random_state))
        return new

    # ------------------------------------------------------------------ initialisation
    def init_params(self, weight="uniform", weight_scale=0.01, bias=0.0):
        """Initialise as in Table 3.1: weights U[-n, n] (``weight="uniform"``, n =
        ``weight_scale``) or Glorot-uniform (``"glorot"``); hidden biases a constant (0, -1) or
        uniform in a range given as a pair, e.g. (-1, 1) or (0, 1). Visible biases start at 0."""
        if weight == "uniform":
            bound = float(weight_scale)
        elif weight == "glorot":
            bound = math.sqrt(6.0 / (self.n_visible + self.n_hidden))
        else:
            raise ValueError(f"weight init must be 'uniform' or 'glorot', got {weight!r}")
        self.W.copy_(self._uniform((self.n_visible, self.n_hidden), -bound, bound))
        if isinstance(bias, (tuple, list)) and len(bias) == 2:
            self.b.copy_(self._uniform((self.n_hidden,), float(bias[0]), float(bias[1])))
        elif isinstance(bias, (int, float)):
            self.b.fill_(float(bias))
        else:
            raise ValueError(f"bias init must be a number or a (low, high) pair, got {bias!r}")
        self.c.zero_()
        return self

    def _uniform(self, shape, low, high):
        u = torch.rand(shape, generator=self.generator, device=self.device, dtype=self.dtype)
        return low + (high - low) * u

    # ------------------------------------------------------------------ conditionals (2.15-2.18)
    def hidden_probs(self, v):
        """p(h_j = 1 | v) = sigmoid(b_j + W_j . v / sigma) (eq. 2.15, Gaussian form)."""
        return torch.sigmoid(self.b + v @ self.W / self.sigma)

    def sample_hidden(self, v):
        """A Bernoulli sample of h given v, and its probabilities."""
        p = self.hidden_probs(v)
        return self._bernoulli(p), p

    def visible_mean(self, h):
        """The reconstruction r = c + sigma W h, the mean of p(v | h) (eq. 2.18)."""
        return self.c + self.sigma * (h @ self.W.T)

    def sample_visible(self, h):
        """A sample of v ~ N(c + sigma W h, sigma^2) (eq. 2.18)."""
        mean = self.visible_mean(h)
        return mean + self.sigma * self._normal(mean.shape)

    def _bernoulli(self, p):
        return (torch.rand(p.shape, generator=self.generator, device=self.device, dtype=self.dtype) < p).to(
            self.dtype
        )

    def _normal(self, shape):
        return torch.randn(shape, generator=self.generator, device=self.device, dtype=self.dtype)

    # ------------------------------------------------------------------ energies
    def energy(self, v, h):
        """E(v, h) = -log p*(v, h) = ||v - c||^2 / (2 sigma^2) - (v / sigma) . W h - b . h."""
        quad = ((v - self.c) ** 2).sum(-1) / (2 * self.sigma**2)
        return quad - ((v @ self.W) * h).sum(-1) / self.sigma - h @ self.b

    def free_energy(self, v):
        """F(v) = -log sum_h p*(v, h) = ||v - c||^2 / (2 sigma^2) - sum_j softplus(...)."""
        quad = ((v - self.c) ** 2).sum(-1) / (2 * self.sigma**2)
        return quad - torch.nn.functional.softplus(self.b + v @ self.W / self.sigma).sum(-1)

    # ------------------------------------------------------------------ sampling
    def gibbs(self, v, k):
        """Run k steps of block Gibbs sampling (h ~ p(h|v), v ~ p(v|h)) from visibles ``v``.

        Returns the final visible sample and a hidden sample drawn from it: (v_k, h_k)."""
        h, _ = self.sample_hidden(v)
        for _ in range(k):
            v = self.sample_visible(h)
            h, _ = self.sample_hidden(v)
        return v, h

    def reconstruct(self, v):
        """Mean-field reconstruction r(p(h | v))."""
        return self.visible_mean(self.hidden_probs(v))

    def reconstruction_error(self, X):
        """Mean squared error per pixel of the mean-field reconstruction."""
        return float(((self.reconstruct(X) - X) ** 2).mean())

    # ------------------------------------------------------------------ learning (section 2.5)
    def _statistics(self, v, mean_field):
        """(v, h) statistics for eq. 2.11: hidden probabilities or samples given v."""
        h, p = self.sample_hidden(v)
        return v, (p if mean_field else h)

    def cd_gradient(self, v_pos, v_neg, mean_field=True):
        """Gradient estimate of log p (eq. 2.11) from positive visibles and chain visibles."""
        vp, hp = self._statistics(v_pos, mean_field)
        vn, hn = self._statistics(v_neg, mean_field)
        grads = {"W": (vp.T @ hp / len(vp) - vn.T @ hn / len(vn)) / self.sigma, "b": hp.mean(0) - hn.mean(0)}
        if self.visible_bias:
            grads["c"] = (vp.mean(0) - vn.mean(0)) / self.sigma**2
        return grads

    def fit(
        self,
        X,
        epochs,
        lr,
        batch_size,
        k=1,
        persistent=False,
        momentum=0.0,
        l1=0.0,
        l2=0.0,
        mean_field=True,
        callback=None,
    ):
        """CD-k (or PCD-k with ``persistent=True``) training by SGD (section 2.5.3); returns self.

        ``mean_field``: hidden probabilities instead of samples in the (anti-)Hebbian
        statistics. ``callback(epoch, model, history)`` runs after each epoch. The fitted
        ``history_`` dict holds the per-epoch mean-field reconstruction error on X and the mean
        |W| (data units, sigma |W|). PCD keeps one chain per row of the first minibatch."""
        X = _as_data(X, self.n_visible, self.device, self.dtype)
        _check_fit_args(epochs, lr, batch_size, k, len(X))
        params = {"W": self.W, "b": self.b, **({"c": self.c} if self.visible_bias else {})}
        opt = _SGD(params, lr, momentum, l1, l2)
        history = self.history_ = {"recon_error": [], "mean_abs_w": []}
        chains = None
        for epoch in range(epochs):
            for batch in _batches(len(X), batch_size, self.generator, self.device):
                v = X[batch]
                start = v if not persistent or chains is None else chains
                v_neg, _ = self.gibbs(start, k)
                chains = v_neg if persistent else None
                opt.step(self.cd_gradient(v, v_neg, mean_field))
            history["recon_error"].append(self.reconstruction_error(X))
            history["mean_abs_w"].append(float(self.W.abs().mean() * self.sigma))
            if callback is not None:
                callback(epoch, self, history)
        return self


def _batches(n, batch_size, generator, device):
    """Shuffled minibatch index tensors covering 0..n-1."""
    order = torch.randperm(n, generator=generator, device=device)
    return order.split(batch_size)


class Broadnet:
    """Two GRBMs ("causes" A and B) sharing one set of visibles additively (section 3.2).

    ``net.a`` and ``net.b`` are :class:`GRBM` objects with a shared sigma. Inference is
    posterior Gibbs sampling by residual trading (Alg. 1, eq. 3.12), joint sampling runs the two
    GRBM chains independently (Alg. 2), learning is CD with the residual rules (eq. 3.15, Alg. 3).
    ``fit`` returns the estimator; after it, ``history_`` holds the per-epoch training record.
    """

    def __init__(
        self, n_visible, n_hidden_a, n_hidden_b, sigma=1.0, random_state=0, device=None, dtype=torch.float32
    ):
        a = GRBM(
            n_visible, n_hidden_a, sigma, random_state=2 * int(random_state) + 1, device=device, dtype=dtype
        )
        b = GRBM(
            n_visible, n_hidden_b, sigma, random_state=2 * int(random_state) + 2, device=device, dtype=dtype
        )
        self._join(a, b, random_state)

    @classmethod
    def from_grbms(cls, a, b, random_state=0):
        """A Broadnet made of two (e.g. separately trained) GRBMs; their tensors are shared."""
        net = cls.__new__(cls)
        net._join(a, b, random_state)
        return net

    def _join(self, a, b, random_state):
        if a is b:
            raise ValueError("a Broadnet needs two distinct GRBMs (use GRBM.clone())")
        if a.n_visible != b.n_visible or a.sigma != b.sigma:
            raise ValueError(
                f"the two GRBMs must share n_visible and sigma; got "
                f"{a.n_visible}/{b.n_visible} visibles, sigma {a.sigma}/{b.sigma}"
            )
        if a.device != b.device or a.dtype != b.dtype:
            raise ValueError(
                f"the two GRBMs must share device and dtype; got {a.device}/{b.device}, {a.dtype}/{b.dtype}"
            )
        self.a, self.b = a, b
        self.n_visible, self.sigma = a.n_visible, a.sigma
        self.device, self.dtype = a.device, a.dtype
        self.generator = torch.Generator(device=self.device).manual_seed(int(random_state))

    def _data(self, x, name="x"):
        return _as_data(x, self.n_visible, self.device, self.dtype, name)

    # ------------------------------------------------------------------ energy (eq. 3.8)
    def energy(self, v, h_a, h_b):
        """-J (eq. 3.8): ||x - r_a - r_b||^2 / 2s^2 - (||r_a||^2 - ||c_a||^2 + ...) / 2s^2 - b.h."""
        s2 = 2 * self.sigma**2
        r_a, r_b = self.a.visible_mean(h_a), self.b.visible_mean(h_b)
        like = ((v - r_a - r_b) ** 2).sum(-1) / s2
        marg = ((r_a**2).sum(-1) - (self.a.c**2).sum() + (r_b**2).sum(-1) - (self.b.c**2).sum()) / s2
        return like - marg - h_a @ self.a.b - h_b @ self.b.b

    # ------------------------------------------------------------------ posterior inference
    def _causes(self):
        """(first, second) network for one inference call, chosen at random (Alg. 1 note)."""
        first_a = bool(torch.rand((), generator=self.generator, device=self.device) < 0.5)
        return (self.a, self.b) if first_a else (self.b, self.a)

    def _posterior_chain(self, x, n_steps):
        """Yield (probs, samples) dicts keyed by GRBM after each of ``n_steps`` iterations.

        Iteration 1: the first network sees x (the other is still off), then the second sees the
        first's residual; later iterations update each network from the other's residual
        (eq. 3.12)."""
        first, second = self._causes()
        h = {
            first: torch.zeros(len(x), first.n_hidden, device=self.device, dtype=self.dtype),
            second: torch.zeros(len(x), second.n_hidden, device=self.device, dtype=self.dtype),
        }
        p = {}
        for _ in range(n_steps):
            for net, other in ((first, second), (second, first)):
                p[net] = net.hidden_probs(x - other.visible_mean(h[other]))
                h[net] = net._bernoulli(p[net])
            yield p, h

    def infer(self, x, n_steps=10, return_trace=False, mean_field=True):
        """Posterior inference by residual trading (Alg. 1); returns (h_a, h_b[, trace]).

        ``h_a``, ``h_b``: the last step's conditional probabilities (``mean_field=True``) or
        samples. ``trace`` holds, for every step, each cause's mean-field reconstruction
        (``recon_a``, ``recon_b``: (n_steps, n, n_visible)) and hidden probabilities (``p_a``,
        ``p_b``)."""
        x = self._data(x)
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        trace = {k: [] for k in ("recon_a", "recon_b", "p_a", "p_b")}
        for p, h in self._posterior_chain(x, n_steps):  # noqa: B007 - h is the last sample
            if return_trace:
                trace["p_a"].append(p[self.a])
                trace["p_b"].append(p[self.b])
                trace["recon_a"].append(self.a.visible_mean(p[self.a]))
                trace["recon_b"].append(self.b.visible_mean(p[self.b]))
        out = (p[self.a], p[self.b]) if mean_field else (h[self.a], h[self.b])
        if return_trace:
            return (*out, {k: torch.stack(v) for k, v in trace.items()})
        return out

    def reconstruct(self, x, n_steps=10):
        """Each cause's mean-field reconstruction after ``n_steps`` of inference."""
        p_a, p_b = self.infer(x, n_steps)
        return self.a.visible_mean(p_a), self.b.visible_mean(p_b)

    def activity(self, x, n_steps=10):
        """Inference activity (eq. 4.8) per example and step, (n, n_steps): the summed absolute
        change of both causes' mean-field hidden activations, starting from 0.5 at t = 0."""
        _, _, trace = self.infer(x, n_steps, return_trace=True)
        p = torch.cat([trace["p_a"], trace["p_b"]], dim=-1)
        prev = torch.cat([torch.full_like(p[:1], 0.5), p[:-1]])
        return (p - prev).abs().sum(-1).T

    # ------------------------------------------------------------------ joint sampling (Alg. 2)
    def sample(self, n, n_steps=10, h_a=None, h_b=None):
        """Joint samples (Alg. 2): each cause's GRBM chain runs independently for ``n_steps``
        from random (or given) hidden states; x ~ N(r_a + r_b, sigma^2). Returns (x, h_a, h_b)."""
        if n_steps < 1:
            raise ValueError(f"n_steps must be >= 1, got {n_steps}")
        h = {}
        for net, given in ((self.a, h_a), (self.b, h_b)):
            start = (
                given
                if given is not None
                else net._bernoulli(torch.full((n, net.n_hidden), 0.5, device=self.device, dtype=self.dtype))
            )
            _, h[net] = net.gibbs(net.sample_visible(start), n_steps - 1)
        mean = self.a.visible_mean(h[self.a]) + self.b.visible_mean(h[self.b])
        return mean + self.sigma * self.a._normal(mean.shape), h[self.a], h[self.b]

    # ------------------------------------------------------------------ learning (eq. 3.15, Alg. 3)
    def _chain_starts(self, x, h_a, h_b, init):
        """Visible states that start the two anti-Hebbian chains (section 4.2).

        "correct": each network's own reconstruction; "random": random visible values, Gaussian
        noise at the data's scale (std of x); "one_network": both chains from network A's
        reconstruction."""
        if init == "random":
            scale = x.std()
            return self.a._normal(x.shape) * scale, self.b._normal(x.shape) * scale
        r_a = self.a.visible_mean(h_a)
        return (r_a, self.b.visible_mean(h_b)) if init == "correct" else (r_a, r_a)

    def cd_gradient(self, x, k=10, mean_field=True, anti_hebbian_init="correct"):
        """One CD estimate of eq. 3.15 for a minibatch (Alg. 3): {"a": grads, "b": grads}."""
        p_a, p_b = self.infer(x, k, mean_field=True)
        h_a, h_b = (p_a, p_b) if mean_field else (self.a._bernoulli(p_a), self.b._bernoulli(p_b))
        starts = self._chain_starts(x, h_a, h_b, anti_hebbian_init)
        grads = {}
        for key, net, h, other_h, start in (
            ("a", self.a, h_a, h_b, starts[0]),
            ("b", self.b, h_b, h_a, starts[1]),
        ):
            other = self.b if net is self.a else self.a
            residual = x - other.visible_mean(other_h)
            v_neg, h_neg = net.gibbs(start, k)
            hn = net.hidden_probs(v_neg) if mean_field else h_neg
            grads[key] = {"W": (residual.T @ h - v_neg.T @ hn) / (len(x) * self.sigma), "b": (h - hn).mean(0)}
        return grads

    def fit(
        self,
        X,
        epochs,
        lr,
        batch_size,
        k=10,
        momentum=0.0,
        l1=0.0,
        l2=0.0,
        mean_field=True,
        anti_hebbian_init="correct",
        callback=None,
    ):
        """CD training with the residual rules (eq. 3.15, Alg. 3) by SGD.

        ``k``: length of the posterior and joint chains. ``mean_field``: probabilities instead
        of samples in the statistics (the thesis needed samples for Fig 3.4).
        ``anti_hebbian_init``: "correct" | "random" | "one_network" (section 4.2).
        ``callback(epoch, model, history)`` runs after each epoch. Returns self; the fitted
        ``history_`` dict holds the per-epoch reconstruction error of x by r_a + r_b and the mean
        |weight| (data units), overall and per cause."""
        if anti_hebbian_init not in ANTI_HEBBIAN_INITS:
            raise ValueError(
                f"anti_hebbian_init must be one of {ANTI_HEBBIAN_INITS}, got {anti_hebbian_init!r}"
            )
        X = self._data(X, "X")
        _check_fit_args(epochs, lr, batch_size, k, len(X))
        opts = {
            "a": _SGD({"W": self.a.W, "b": self.a.b}, lr, momentum, l1, l2),
            "b": _SGD({"W": self.b.W, "b": self.b.b}, lr, momentum, l1, l2),
        }
        history = self.history_ = {
            "recon_error": [],
            "mean_abs_w": [],
            "mean_abs_w_a": [],
            "mean_abs_w_b": [],
        }
        for epoch in range(epochs):
            for batch in _batches(len(X), batch_size, self.generator, self.device):
                grads = self.cd_gradient(X[batch], k, mean_field, anti_hebbian_init)
                for key in ("a", "b"):
                    opts[key].step(grads[key])
            self._log(X, k, history)
            if callback is not None:
                callback(epoch, self, history)
        return self

    def _log(self, X, k, history):
        r_a, r_b = self.reconstruct(X, k)
        history["recon_error"].append(float(((r_a + r_b - X) ** 2).mean()))
        w_a, w_b = self.a.W.abs() * self.sigma, self.b.W.abs() * self.sigma
        history["mean_abs_w_a"].append(float(w_a.mean()))
        history["mean_abs_w_b"].append(float(w_b.mean()))
        history["mean_abs_w"].append(float((w_a.sum() + w_b.sum()) / (w_a.numel() + w_b.numel())))
