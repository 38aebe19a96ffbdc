"""Autoencoders of chapters 7-8: a plain autoencoder and the Additive Split Autoencoder (ASAE).

Each constituent autoencoder is the thesis's (section 8.4)::

    input -> 1000 -> relu -> N -> 1000 -> relu -> input -> sigmoid

The encoder f is the first three layers (a linear code, no nonlinearity on z) and the decoder g the
rest; the sigmoid sits on each constituent's output, so an ASAE's output ``y = y_A + y_B``
(section 8.3) is the sum of two sigmoids and lies in [0, 2]. Weights use Glorot (Xavier) uniform
initialisation and biases start at zero (section 9.3 states this for the thesis's networks).
Options for the negative results of section 8.6: dropout after each hidden ReLU (here), and
optimiser, learning rate, L1 on weights or code activations and denoising (``asae_loss`` below;
the optimisers, eq. 7.4's RMSprop among them, are ``lib.nets.make_optimiser``; the loop is in
``lib.training``). The layers are ``lib.nets.mlp``.
"""

from torch import nn

from lib.nets import glorot_, mlp


class Autoencoder(nn.Module):
    """A standard autoencoder y = sigmoid(g(f(x))) (fig 7.1, eq. 7.1; architecture of sec. 8.4)."""

    def __init__(self, n_input, n_code, n_hidden=1000, dropout=0.0):
        super().__init__()
        # both halves are built before either is initialised (the order the book's runs use)
        self.encoder = mlp(n_input, n_hidden, 1, n_code, dropout=dropout, init=False)
        self.decoder = mlp(n_code, n_hidden, 1, n_input, sigmoid=True, dropout=dropout, init=False)
        glorot_(self)

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
        return {
            "y": out_a["y"] + out_b["y"],
            "y_a": out_a["y"],
            "y_b": out_b["y"],
            "z_a": out_a["z"],
            "z_b": out_b["z"],
        }


def codes_of(out):
    """The code tensors in a model's output dict: [z] for an autoencoder, [z_a, z_b] for an ASAE."""
    return [out["z"]] if "z" in out else [out["z_a"], out["z_b"]]


def l1_weights(model):
    """Sum of absolute weights over every linear layer (biases excluded)."""
    return sum(m.weight.abs().sum() for m in model.modules() if isinstance(m, nn.Linear))


LOSS_REDUCTIONS = ("sum", "mean")


def asae_loss(model, out, x, l1_weight=0.0, l1_activation=0.0, reduce="sum"):
    """Squared reconstruction error (eq. 7.1) averaged over the batch, plus optional L1 penalties.

    Eq. 7.1's unsubscripted norm is the squared 2-norm (the thesis's notation, section 1), so
    ``reduce="sum"`` (the default) sums the squared error over an example's pixels;
    ``reduce="mean"`` averages it over pixels too (Keras' ``mse``, the book's earlier reading),
    which makes every gradient ``n_pixels`` times smaller. ``l1_weight`` multiplies the sum of |W|
    over all weight matrices; ``l1_activation`` the mean over the batch of the summed |z| of every
    code unit.
    """
    if reduce not in LOSS_REDUCTIONS:
        raise ValueError(f"reduce must be one of {LOSS_REDUCTIONS}, got {reduce!r}")
    sq = (out["y"] - x) ** 2
    loss = sq.sum(1).mean() if reduce == "sum" else sq.mean()
    if l1_weight:
        loss = loss + l1_weight * l1_weights(model)
    if l1_activation:
        loss = loss + l1_activation * sum(z.abs().sum(1).mean() for z in codes_of(out))
    return loss
