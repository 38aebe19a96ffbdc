"""Chapter 7 (background on neural networks): the optimiser study behind section 8.4's choice of
RMSprop (eq. 7.4): sizes per profile, the sweep configurations, summaries and claims. The run
function is ``lib.asae_runs.run_autoencoder``; the diagrams are ``lib.diagrams``."""

import numpy as np

from lib.asae_runs import run_autoencoder
from lib.claims import holds
from lib.experiments import Experiment

# The chapter's sizes per profile: digits, epochs, seeds per optimiser, code sizes.
SIZES = {
    "smoke": dict(n_digits=500, epochs=3, n_seeds=1, code_sizes=[2]),
    "book": dict(n_digits=2500, epochs=20, n_seeds=3, code_sizes=[2, 10]),
    "thesis": dict(n_digits=5000, epochs=50, n_seeds=10, code_sizes=[2, 10]),
}
# (name, optimiser, learning rate): RMSprop (eq. 7.4) and Adam (eq. 7.5) at the thesis's 1e-3;
# plain SGD (eq. 7.2, no momentum) at 1e-4, 1e-3 and 1e-2 on the loss of eq. 7.1 (squared error
# summed over pixels), a range around the thesis's rate rather than a single step size.
OPTIMISERS = [
    ("RMSprop", "rmsprop", 1e-3),
    ("Adam", "adam", 1e-3),
    ("SGD 1e-4", "sgd", 1e-4),
    ("SGD 1e-3", "sgd", 1e-3),
    ("SGD 1e-2", "sgd", 1e-2),
]


def sizes(profile):
    """The chapter's sizes for ``profile`` (a copy of its row of ``SIZES``)."""
    return dict(SIZES[profile])


def configs(size, seed, data_dir):
    """``run_autoencoder`` configurations: every code size x optimiser x seed."""
    return [
        dict(n=size["n_digits"], code_size=c, epochs=size["epochs"], seed=seed + s, optimiser=o, lr=lr,
             data_dir=data_dir)
        for c in size["code_sizes"] for _, o, lr in OPTIMISERS for s in range(size["n_seeds"])
    ]  # fmt: skip


def group(configs, runs, code_size, name):
    """The runs of one code size and optimiser (by its name in ``OPTIMISERS``)."""
    optimiser, lr = next((o, lr) for n, o, lr in OPTIMISERS if n == name)
    return [
        r for c, r in zip(configs, runs)
        if c["code_size"] == code_size and (c["optimiser"], c["lr"]) == (optimiser, lr)
    ]  # fmt: skip


def summarise(configs, runs, code_sizes):
    """{(code size, optimiser name): (final error / mean-image error, final output spread)},
    each the mean over seeds."""
    summary = {}
    for c in code_sizes:
        for name, _, _ in OPTIMISERS:
            g = group(configs, runs, c, name)
            rel = float(np.mean([r["mse"][-1] / r["mean_image_mse"] for r in g]))
            spread = float(np.mean([r["spread"][-1] for r in g]))
            summary[c, name] = rel, spread
    return summary


def summary_table(summary):
    """Rows of the summary: code size, optimiser, relative error and spread (3 significant figures)."""
    return [
        {
            "code units": c,
            "optimiser": name,
            "error / mean-image error": f"{rel:.3g}",
            "output spread": f"{sp:.3g}",
        }
        for (c, name), (rel, sp) in summary.items()
    ]


def record_results(rec, summary, code_sizes):
    """The metrics and the claims 7.2-sgd-mean-image (per code size) and 7.2-sgd-large-lr."""
    for (c, name), (rel, spread) in summary.items():
        key = name.lower().replace(" ", "_").replace(".", "")
        rec.metric(f"code{c}_{key}_relative_error", rel)
        rec.metric(
            f"code{c}_{key}_spread",
            spread,
            thesis="SGD: ~0 (mean image only)" if name.startswith("SGD") else None,
        )
    c0 = code_sizes[0]
    adaptive = min(summary[c0, "RMSprop"][1], summary[c0, "Adam"][1])
    sgd = max(summary[c0, "SGD 1e-4"][1], summary[c0, "SGD 1e-3"][1])
    rec.metric("sgd_learns_little_beyond_mean", bool(sgd < 0.5 * adaptive), thesis=True)
    for c in code_sizes:
        ada_c = min(summary[c, "RMSprop"][1], summary[c, "Adam"][1])
        sgd_c = max(summary[c, "SGD 1e-4"][1], summary[c, "SGD 1e-3"][1])
        rec.claim(
            "7.2-sgd-mean-image" if c == c0 else f"7.2-sgd-mean-image-{c}",
            method="Autoencoder optimisers", figure="section 8.4 (text)",
            thesis=f"plain SGD tends to learn only the mean input image when small code sizes "
            f"are used (here {c} units), which RMSprop avoids",
            ours=f"with a {c}-unit code the best SGD output spread (lr 1e-4, 1e-3) is "
            f"{sgd_c:.4f}, the worst adaptive optimiser's {ada_c:.4f} "
            f"(SGD at {sgd_c / max(ada_c, 1e-12):.0%} of it; relative error SGD 1e-3 "
            f"{summary[c, 'SGD 1e-3'][0]:.2f}, RMSprop {summary[c, 'RMSprop'][0]:.2f})",
            verdict=holds(sgd_c < 0.5 * ada_c), value=sgd_c / max(ada_c, 1e-12),
            rule="agrees when SGD's best spread at lr 1e-4 and 1e-3 is below half of the "
            "worst spread of RMSprop and Adam",
        )  # fmt: skip
    big = summary[c0, "SGD 1e-2"]
    rec.claim(
        "7.2-sgd-large-lr", method="Autoencoder optimisers", figure="section 8.4 (text)",
        thesis="plain SGD tends to learn only the mean input image when small code sizes are "
        "used (tested here at a learning rate 10 times RMSprop's)",
        ours=f"with a {c0}-unit code, SGD at lr 1e-2 reaches relative error {big[0]:.2f} and "
        f"output spread {big[1]:.4f} ({big[1] / max(adaptive, 1e-12):.0%} of the worst "
        f"adaptive optimiser's spread)",
        verdict=holds(big[1] < 0.5 * adaptive), value=big[1] / max(adaptive, 1e-12),
        rule="agrees when SGD's spread at lr 1e-2 is below half of the worst spread of "
        "RMSprop and Adam",
    )  # fmt: skip


def _work(config):
    """An autoencoder run's cost grows with digits x epochs (lib.planning)."""
    return ("work", config["n"] * config["epochs"])


def plan(profile, seed=0, data_dir=None, check_data=True):
    """Chapter 7's sweep at ``profile``: key -> ``Experiment`` (what the notebook runs)."""
    name = "ch07_optimisers"
    return {name: Experiment(name, run_autoencoder, configs(sizes(profile), seed, data_dir), _work)}
