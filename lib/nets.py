"""Shared network parts for the torch models of chapters 7-9 (foundation layer; imports no lib module).

- ``RMSprop``: the optimiser of eq. 7.4, with eps *inside* the square root, optional heavy-ball
  momentum on top.
- ``mlp`` / ``glorot_``: the Glorot-initialised multilayer perceptron every model builds from.
- ``make_optimiser``: the one factory (eq. 7.4 RMSprop, Adam, SGD and, for comparisons only,
  torch's RMSprop) that every model uses.
- ``device``: the one device choice.

Eq. 7.4 and our reading of it
-----------------------------
The thesis prints RMSprop as::

    v(t) = g(t)^2 + gamma v(t-1)
    W(t) = W(t-1) - eta / sqrt(v(t) + eps) g(t)

(the printed ``gamma n(t-1)`` is read as ``gamma v(t-1)``). Two things matter:

1. eps sits inside the square root, as in Lasagne's ``rmsprop`` (Keras and ``torch.optim.RMSprop``
   add eps to the root instead). With eps inside, a weight whose gradient's running RMS is below
   about sqrt(eps) (1e-3 for eps = 1e-6) takes a step proportional to its gradient (RMSprop turns
   into SGD with learning rate eta / sqrt(eps)), so tiny gradients give tiny steps; with eps outside
   (1e-6 or 1e-7) RMSprop divides even a 1e-5 gradient by its own size and takes a full step of
   about eta. That is the regime where chapter 9's DDN encoders collapse.
2. The printed accumulator has no (1 - gamma) on g^2. Every library of the thesis's era (Lasagne,
   Keras, and Tieleman and Hinton's lecture that introduced RMSprop) keeps an exponential moving
   average ``v = gamma v + (1 - gamma) g^2``. The thesis's learning rates were tuned in such a
   library, so the faithful default is ``form="lasagne"``: Lasagne's update exactly
   (``accu = rho accu + (1 - rho) g^2; W -= lr g / sqrt(accu + eps)``, rho 0.9, eps 1e-6). The
   equation as printed stays selectable as ``form="printed"``; with constant gradients its v
   settles at g^2 / (1 - gamma), so its steps are sqrt(1 - gamma) (about 0.32) times as large.

``momentum`` > 0 adds heavy-ball momentum on top of the eq. 7.4 step (section 9.3's "momentum 0.9"
read literally; the book's default reading is that 0.9 is gamma and there is no momentum)::

    step = eta g / sqrt(v + eps);   b = momentum b + step;   W = W - b
"""

from __future__ import annotations

import os

import torch
from torch import nn

RMSPROP_EPS = 1e-6
"""The one eps of eq. 7.4's RMSprop, inside the square root: Lasagne's default, the library whose
RMSprop eq. 7.4 matches. Every model's default (``RMSprop``, ``make_optimiser``,
``lib.ddn.DDNConfig.rms_eps``); ``torch-rmsprop`` uses the same number outside the root."""
RMSPROP_FORMS = ("lasagne", "printed")
OPTIMISERS = ("rmsprop", "adam", "sgd", "torch-rmsprop")


def check_rmsprop_args(
    lr: float = 1e-3,
    gamma: float = 0.9,
    eps: float = RMSPROP_EPS,
    momentum: float = 0.0,
    form: str = "lasagne",
) -> None:
    """Raise ValueError naming the first bad RMSprop setting."""
    if not lr >= 0:
        raise ValueError(f"lr must be >= 0, got {lr}")
    if not eps > 0:
        raise ValueError(f"eps must be > 0 (it keeps never-updated weights from 0/0), got {eps}")
    if not 0 <= gamma < 1:
        raise ValueError(f"gamma must be in [0, 1), got {gamma}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    if form not in RMSPROP_FORMS:
        raise ValueError(f"form must be one of {RMSPROP_FORMS}, got {form!r}")


class RMSprop(torch.optim.Optimizer):
    """RMSprop as eq. 7.4 (eps inside the square root), optionally with heavy-ball momentum.

    For each parameter W with gradient g (parameters without a gradient are skipped)::

        v <- gamma v + c g^2          c = 1 - gamma (form="lasagne", default) or 1 (form="printed")
        step = lr g / sqrt(v + eps)
        W <- W - step                 (momentum = 0)
        b <- momentum b + step; W <- W - b   (momentum > 0)

    v and b start at zero. Defaults gamma = 0.9 and eps = 1e-6 are Lasagne's (the library whose
    RMSprop eq. 7.4 matches: eps inside the root); see the module docstring for the reading.
    The update uses torch's ``_foreach`` ops over all parameters of a group (any device).
    """

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        gamma: float = 0.9,
        eps: float = RMSPROP_EPS,
        momentum: float = 0.0,
        form: str = "lasagne",
    ):
        check_rmsprop_args(lr, gamma, eps, momentum, form)
        super().__init__(params, dict(lr=lr, gamma=gamma, eps=eps, momentum=momentum, form=form))

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            if any(p.grad.is_sparse for p in params):
                raise RuntimeError("RMSprop does not support sparse gradients")
            grads = [p.grad for p in params]
            for p in params:
                if not self.state[p]:
                    self.state[p]["step"] = torch.zeros((), dtype=torch.float32)
                    self.state[p]["square_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    if group["momentum"] > 0:
                        self.state[p]["momentum_buffer"] = torch.zeros_like(
                            p, memory_format=torch.preserve_format
                        )
            states = [self.state[p] for p in params]
            torch._foreach_add_([s["step"] for s in states], 1)
            gamma = group["gamma"]
            c = 1.0 - gamma if group["form"] == "lasagne" else 1.0
            vs = [s["square_avg"] for s in states]
            torch._foreach_mul_(vs, gamma)
            torch._foreach_addcmul_(vs, grads, grads, value=c)
            denom = torch._foreach_add(vs, group["eps"])
            torch._foreach_sqrt_(denom)
            if group["momentum"] > 0:
                bufs = []
                for p, s in zip(params, states):
                    if "momentum_buffer" not in s:  # momentum switched on after the first step
                        s["momentum_buffer"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    bufs.append(s["momentum_buffer"])
                torch._foreach_mul_(bufs, group["momentum"])
                torch._foreach_addcdiv_(bufs, grads, denom, value=group["lr"])
                torch._foreach_sub_(params, bufs)
            else:
                torch._foreach_addcdiv_(params, grads, denom, value=-group["lr"])
        return loss


def make_optimiser(params, name: str = "rmsprop", lr: float = 1e-3, **kw) -> torch.optim.Optimizer:
    """The optimiser ``name`` for ``params`` at learning rate ``lr`` (used by every model).

    - ``"rmsprop"``: eq. 7.4 (``RMSprop`` above); kw: gamma (0.9), eps (``RMSPROP_EPS``, 1e-6), momentum (0),
      form ("lasagne").
    - ``"adam"``: eq. 7.5, torch's Adam with its default betas; kw passed on.
    - ``"sgd"``: eq. 7.2, or 7.3 with kw momentum.
    - ``"torch-rmsprop"``: ``torch.optim.RMSprop`` (eps *outside* the root), the book's optimiser
      before eq. 7.4 was implemented, kept only to measure the difference; kw gamma (0.9, torch's
      alpha), eps (1e-6; the old chapters 7-8 used 1e-7), momentum (0).
    """
    if not lr > 0:
        raise ValueError(f"learning rate lr must be positive, got {lr}")
    if name == "rmsprop":
        return RMSprop(params, lr=lr, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, **kw)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, **kw)
    if name == "torch-rmsprop":
        bad = set(kw) - {"gamma", "eps", "momentum"}
        if bad:
            raise ValueError(f"torch-rmsprop takes gamma, eps, momentum; got {sorted(bad)}")
        return torch.optim.RMSprop(
            params,
            lr=lr,
            alpha=kw.get("gamma", 0.9),
            eps=kw.get("eps", RMSPROP_EPS),
            momentum=kw.get("momentum", 0.0),
        )
    raise ValueError(f"unknown optimiser {name!r}; choose one of {OPTIMISERS}")


def glorot_(module: nn.Module) -> nn.Module:
    """Glorot (Xavier) uniform weights and zero biases for every nn.Linear in ``module`` (sec. 9.3)."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    return module


def mlp(
    n_in: int,
    n_hidden: int,
    n_layers: int,
    n_out: int,
    sigmoid: bool = False,
    dropout: float = 0.0,
    init: bool = True,
) -> nn.Sequential:
    """n_in -> [n_hidden -> relu (-> dropout)] x n_layers -> n_out (-> sigmoid).

    The DDN's networks (eq. 9.13-9.15) and each half of the autoencoders of section 8.4 (encoder
    ``mlp(d, 1000, 1, N)``, decoder ``mlp(N, 1000, 1, d, sigmoid=True)``). A dropout layer follows
    each hidden ReLU only when ``dropout`` > 0. Glorot weights and zero biases unless ``init`` is
    False (a caller that initialises several networks together, in its own order).
    """
    if min(n_in, n_hidden, n_out) < 1 or n_layers < 0:
        raise ValueError(
            f"layer sizes must be positive, got input={n_in}, hidden={n_hidden}, "
            f"output={n_out}, layers={n_layers}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    sizes = [n_in] + [n_hidden] * n_layers
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
    layers.append(nn.Linear(sizes[-1], n_out))
    if sigmoid:
        layers.append(nn.Sigmoid())
    net = nn.Sequential(*layers)
    return glorot_(net) if init else net


def device(override: str | None = None) -> str:
    """The torch device for models: ``override``, else $BOOK_DEVICE, else CUDA when present, else CPU."""
    name = override or os.environ.get("BOOK_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.device(name)  # a bad name fails here, with torch's message
    return name
