"""Autoencoders of chapters 7-8: a plain autoencoder and the Additive Split Autoencoder (ASAE).

Each constituent autoencoder is the thesis's (section 8.4)::

    input -> 1000 -> relu -> N -> 1000 -> relu -> input -> sigmoid

The encoder f is the first three layers (a linear code, no nonlinearity on z) and the decoder g the
rest; the sigmoid sits on each constituent's output, so an ASAE's output ``y = y_A + y_B``
(section 8.3) is the sum of two sigmoids and lies in [0, 2]. Weights use Glorot (Xavier) uniform
initialisation and biases start at zero (section 9.3 states this for the thesis's networks).
Options for the negative results of section 8.6: dropout after each hidden ReLU (here), and
optimiser, learning rate, L1 on weights or code activations and denoising (``make_optimiser`` and
``asae_loss`` below; the loop is in ``lib.training``).
"""
import torch
from torch import nn

OPTIMISERS = ("rmsprop", "adam", "sgd")


def device():
    """CUDA when present, else CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def _glorot(module):
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
        nn.init.zeros_(module.bias)


class Autoencoder(nn.Module):
    """A standard autoencoder y = sigmoid(g(f(x))) (fig 7.1, eq. 7.1; architecture of sec. 8.4)."""

    def __init__(self, n_input, n_code, n_hidden=1000, dropout=0.0):
        super().__init__()
        if n_input < 1 or n_code < 1 or n_hidden < 1:
            raise ValueError(f"layer sizes must be positive, got input={n_input}, "
                             f"code={n_code}, hidden={n_hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.encoder = nn.Sequential(nn.Linear(n_input, n_hidden), nn.ReLU(), nn.Dropout(dropout),
                                     nn.Linear(n_hidden, n_code))
        self.decoder = nn.Sequential(nn.Linear(n_code, n_hidden), nn.ReLU(), nn.Dropout(dropout),
                                     nn.Linear(n_hidden, n_input), nn.Sigmoid())
        self.apply(_glorot)

    def encode(self, x):
        """The code z = f(x)."""
        return self.encoder(x)

    def decode(self, z):
        """The reconstruction y = sigmoid(g(z)), in [0, 1]."""
        return self.decoder(z)

    def forward(self, x):
        z = self.encode(x)
        return {"y": self.decode(z), "z": z}


class ASAE(nn.Module):
    """Additive Split Autoencoder: y = f_A(x) + f_B(x), two autoencoders on one input (sec. 8.3)."""

    def __init__(self, n_input, n_code, n_hidden=1000, dropout=0.0):
        super().__init__()
        self.a = Autoencoder(n_input, n_code, n_hidden, dropout)
        self.b = Autoencoder(n_input, n_code, n_hidden, dropout)

    def forward(self, x):
        out_a, out_b = self.a(x), self.b(x)
        return {"y": out_a["y"] + out_b["y"], "y_a": out_a["y"], "y_b": out_b["y"],
                "z_a": out_a["z"], "z_b": out_b["z"]}


def make_optimiser(params, name="rmsprop", lr=1e-3):
    """RMSprop (eq. 7.4, decay 0.9), Adam (eq. 7.5, default betas) or plain SGD (eq. 7.2)."""
    if lr <= 0:
        raise ValueError(f"learning rate must be positive, got {lr}")
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.9, eps=1e-7)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    raise ValueError(f"unknown optimiser {name!r}; choose one of {OPTIMISERS}")


def codes_of(out):
    """The code tensors in a model's output dict: [z] for an autoencoder, [z_a, z_b] for an ASAE."""
    return [out["z"]] if "z" in out else [out["z_a"], out["z_b"]]


def l1_weights(model):
    """Sum of absolute weights over every linear layer (biases excluded)."""
    return sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, nn.Linear))


def asae_loss(model, out, x, l1_weight=0.0, l1_activation=0.0):
    """Mean squared reconstruction error (eq. 7.1) plus optional L1 penalties.

    ``l1_weight`` multiplies the sum of |W| over all weight matrices; ``l1_activation`` multiplies
    the mean over the batch of the summed |z| of every code unit.
    """
    loss = ((out["y"] - x) ** 2).mean()
    if l1_weight:
        loss = loss + l1_weight * l1_weights(model)
    if l1_activation:
        loss = loss + l1_activation * sum(z.abs().sum(1).mean() for z in codes_of(out))
    return loss
