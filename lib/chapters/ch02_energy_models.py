"""Chapter 2 (background on energy models): sizes per profile, the explaining-away example
(section 2.3), GRBM training with CD-1 and PCD-1 (section 2.5, eq. 2.11, 2.17), the ReLU-RBM's
softplus approximation (eq. 2.19), and their claims. The GRBM is ``lib.rbm.GRBM``; the diagrams
are ``lib.rbm_plots`` and ``lib.diagrams``."""

import numpy as np
import torch

from lib.claims import at_least, at_most, holds
from lib.rbm import GRBM

# The chapter's sizes per profile. n_images None = every digit but the 200 held out.
SIZES = {
    "smoke": dict(n_images=500, epochs=2, n_hidden=36, gibbs_steps=50),
    "book": dict(n_images=4800, epochs=20, n_hidden=100, gibbs_steps=1000),
    "thesis": dict(n_images=None, epochs=50, n_hidden=500, gibbs_steps=1000),
}
SIGMA = 0.3  # the GRBM's fixed noise (eq. 2.17)
TRAINING = dict(lr=0.01, batch_size=32, k=1, momentum=0.5, mean_field=True)
N_HELD_OUT = 200  # the last digits, never trained on

# Russell and Norvig's version of Pearl's burglary example (the thesis gives no numbers).
P_BURGLARY, P_EARTHQUAKE = 0.001, 0.002
P_ALARM = {(1, 1): 0.95, (1, 0): 0.94, (0, 1): 0.29, (0, 0): 0.001}  # P(alarm | B, E)


def sizes(profile, n_digits=None):
    """The chapter's sizes for ``profile``; ``n_images`` resolved against ``n_digits`` digits."""
    size = dict(SIZES[profile])
    if size["n_images"] is None:
        size["n_images"] = n_digits - N_HELD_OUT
    return size


def explaining_away(p_burglary=P_BURGLARY, p_earthquake=P_EARTHQUAKE, p_alarm=P_ALARM):
    """Exact P(burglary | alarm) and P(burglary | alarm, earthquake) in the network B -> A <- E
    (thesis Fig 2.1), by enumerating P(B=b, E=e, alarm)."""
    joint = {
        (b, e): (p_burglary if b else 1 - p_burglary)
        * (p_earthquake if e else 1 - p_earthquake)
        * p_alarm[(b, e)]
        for b in (0, 1)
        for e in (0, 1)
    }
    p_b_given_a = (joint[1, 0] + joint[1, 1]) / sum(joint.values())
    p_b_given_ae = joint[1, 1] / (joint[0, 1] + joint[1, 1])
    return p_b_given_a, p_b_given_ae


def record_explaining_away(rec, p_b_given_a, p_b_given_ae, p_burglary=P_BURGLARY):
    """Metrics and the claim 2.1-explaining-away."""
    factor = p_b_given_a / p_b_given_ae
    rec.metric("p_burglary_given_alarm", p_b_given_a, thesis="drops once the earthquake is known")
    rec.metric("p_burglary_given_alarm_and_earthquake", p_b_given_ae)
    return rec.claim(
        "2.1-explaining-away", method="exact enumeration (Bayes net)",
        thesis="P(burglary | alarm) drops once the earthquake is known", figure="Fig 2.1",
        ours=f"P(burglary) = {p_burglary:g}, P(burglary | alarm) = {p_b_given_a:.4f}, "
        f"P(burglary | alarm, earthquake) = {p_b_given_ae:.4f} (a factor {factor:.0f} lower)",
        verdict=holds(p_b_given_ae < p_b_given_a), value=factor,
        rule="agrees when P(B | A, E) < P(B | A)",
    )  # fmt: skip


def train_grbms(X, size, seed):
    """A GRBM (eq. 2.17) trained with CD-1 and one with PCD-1 (section 2.5.3) on the rows of X:
    {"CD-1": model, "PCD-1": model}, each with its ``history_``."""
    models = {}
    for name, persistent in (("CD-1", False), ("PCD-1", True)):
        g = GRBM(X.shape[1], size["n_hidden"], sigma=SIGMA, random_state=seed)
        models[name] = g.fit(X, persistent=persistent, epochs=size["epochs"], **TRAINING)
    return models


def record_training(rec, models):
    """Metrics and the claims 2.5-cd-1-recon and 2.5-pcd-1-recon: the error falls."""
    for name, g in models.items():
        err = g.history_["recon_error"]
        rec.metric(f"grbm_{name}_recon_first", err[0])
        rec.metric(f"grbm_{name}_recon_last", err[-1])
        rec.claim(
            f"2.5-{name.lower()}-recon", method=f"GRBM ({name})", figure="Fig (2.5)",
            thesis="CD-k / PCD training lowers the reconstruction error",
            ours=f"{name}: reconstruction MSE per pixel {err[0]:.4f} after epoch 1, "
            f"{err[-1]:.4f} after epoch {len(err)}",
            verdict=holds(err[-1] < err[0]), value=err[-1] / err[0],
            rule="agrees when the last epoch's error is below the first's",
        )  # fmt: skip


def sample_chains(models, steps, n=36):
    """Visible means after ``steps`` block-Gibbs steps from Gaussian noise, per model (n x 784)."""
    chains = {}
    for name, g in models.items():
        v0 = torch.randn(n, g.W.shape[0], generator=g.generator, device=g.device) * g.sigma
        _, h = g.gibbs(v0, steps)
        chains[name] = g.visible_mean(h).cpu().numpy()
    return chains


def nearest_digit(samples, reference, reference_labels):
    """Each sample's nearest reference digit: its mean squared distance per pixel and its label
    (the same rule as ``lib.rbm_plots.nearest_digit``, kept here so that this experiments module
    imports no presentation module)."""
    d = ((samples[:, None, :] - reference[None, :, :]) ** 2).mean(-1)
    return d.min(1), reference_labels[d.argmin(1)]


def record_samples(rec, chains, held_out, reference, ref_labels):
    """Each sample's nearest training digit against real held-out digits': the rows of the table
    and the claims 2.5-cd-1-samples and 2.5-pcd-1-samples."""
    real_dist, _ = nearest_digit(held_out, reference, ref_labels)
    rows = {"real held-out digits": [float(real_dist.mean()), "-"]}
    for name, samples in chains.items():
        dist, labels = nearest_digit(samples, reference, ref_labels)
        n_classes = len(np.unique(labels))
        rec.metric(f"grbm_{name}_sample_nearest_mse", float(dist.mean()))
        rec.metric(f"grbm_{name}_sample_classes", n_classes)
        rows[f"{name} samples"] = [float(dist.mean()), str(np.bincount(labels, minlength=10))]
        rec.claim(
            f"2.5-{name.lower()}-samples", method=f"GRBM ({name})", figure="Fig (2.5)",
            thesis="samples from the trained model look like digits",
            ours=f"{name} samples are at mean MSE {dist.mean():.4f} from their nearest training "
            f"digit (real held-out digits: {real_dist.mean():.4f}); those digits cover "
            f"{n_classes} of 10 classes",
            verdict=at_least(n_classes, agrees=5, partly=1), value=n_classes,
            rule="agrees when the nearest digits cover at least 5 classes; partly (digit-like "
            "but few classes) otherwise",
        )  # fmt: skip
    return rows


def shifted_sigmoids(x, n_copies=100):
    """Eq. 2.19: the expected total activity of N copies of a unit with biases shifted by
    -k + 0.5, sum_k sigmoid(x - k + 0.5), and softplus log(1 + e^x)."""
    shifted = sum(1 / (1 + np.exp(-(x - k + 0.5))) for k in range(1, n_copies + 1))
    return shifted, np.log1p(np.exp(x))


def record_relu(rec, x, shifted, softplus, n_copies=100):
    """Metric and claim 2.19-relu-softplus: the largest gap between the two curves."""
    gap = np.abs(shifted - softplus)
    rec.metric("relu_max_abs_gap", float(gap.max()), thesis="the two curves agree (eq. 2.19)")
    return rec.claim(
        "2.19-relu-softplus", method="ReLU-RBM", figure="eq. (2.19)",
        thesis="the sum of shifted sigmoids is close to softplus",
        ours=f"with N = {n_copies} copies on x in [{x[0]:g}, {x[-1]:g}] the largest gap "
        f"is {gap.max():.4f} at x = {x[gap.argmax()]:.2f} "
        f"({gap.max() / softplus[gap.argmax()]:.1%} of softplus there)",
        verdict=at_most(float(gap.max()), agrees=0.05), value=float(gap.max()),
        rule="agrees when the largest gap is at most 0.05",
    )  # fmt: skip
