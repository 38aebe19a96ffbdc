"""Sweep bodies with a batched twin (importable by Dask workers as ``tests.sweep_bodies``).

``seeded(seed, scale)`` is a single run; ``seeded_batched(seeds, scale)`` returns what ``seeded``
returns for each seed, computed in one call, and says so in ``made_by`` (which the comparison
ignores), as ``lib.asae_runs.run_asae_batched`` does for ``run_asae``.
"""

import os

import numpy as np


def seeded(seed, scale=1.0, dropout=0.0):
    rng = np.random.default_rng(seed)
    return {"value": scale * rng.normal(size=3), "made_by": np.array(1), "pid": os.getpid()}


def seeded_batched(seeds, scale=1.0, dropout=0.0):
    values = np.stack([np.random.default_rng(s).normal(size=3) for s in seeds]) * scale
    return [{"value": v, "made_by": np.array(len(seeds)), "pid": os.getpid()} for v in values]


def with_dropout(config):
    """The configurations the twin is said not to reproduce."""
    return config.get("dropout", 0) > 0
