"""Measured training costs: read the calibration ``benchmarks/training.py`` writes and estimate run
times (foundation layer; standard library only, so a planner can import it without torch).

The calibration (``results/calibration/training.json``) holds seconds per minibatch update of the
book's networks (hidden 1000, batch 128, Simple composites' 56x28 = 1568 inputs), per model
(``asae``; ``ddn_stage1``, ``ddn_stage2``, ``ddn_stage3`` for the DDN with Simple's layers
(1, 1, 1)), device (``cpu`` with 2 threads, ``cuda``) and number of seeds K trained as one batched
model (``lib.batched``), plus K = 1 through the ordinary single-run code ("single"). The cost of
an update does not depend on the dataset size; book and thesis runs differ in how many updates
they make (epochs x ceil(n / 128) per stage), which the caller supplies.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

CALIBRATION = Path(__file__).resolve().parent.parent / "results" / "calibration" / "training.json"
MODELS = ("asae", "ddn_stage1", "ddn_stage2", "ddn_stage3")


def calibration_path() -> Path:
    """$BOOK_CALIBRATION if set, else results/calibration/training.json in the repository."""
    return Path(os.environ.get("BOOK_CALIBRATION") or CALIBRATION)


def load_calibration(path=None) -> dict:
    """The calibration document; FileNotFoundError saying how to make it when there is none."""
    path = Path(path) if path is not None else calibration_path()
    if not path.exists():
        raise FileNotFoundError(
            f"no training calibration at {path}; measure this machine with "
            "`python benchmarks/training.py` (about 4 minutes on 2 CPU cores)"
        )
    doc = json.loads(path.read_text())
    if not isinstance(doc, dict) or "entries" not in doc:
        raise ValueError(f"{path} is not a training calibration (no 'entries')")
    return doc


def updates_per_epoch(n: int, batch_size: int = 128) -> int:
    """Minibatch updates in one pass over n examples (the last, short batch counts)."""
    return math.ceil(n / batch_size)


def seconds_per_update(
    model: str, device: str = "cpu", k: int = 1, batched: bool | None = None, calibration: dict | None = None
) -> float:
    """Wall seconds of one update of ``k`` seeds together on ``device`` (device "cuda:1" reads
    "cuda"). ``batched`` None: the single-run code for k = 1, the batched model for k > 1.
    Between measured K the cost is interpolated linearly; beyond them it is extrapolated
    linearly from the two largest (cost grows about linearly in K once the device is busy)."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; the calibration has {MODELS}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    doc = load_calibration() if calibration is None else calibration
    dev = str(device).split(":")[0]
    batched = k > 1 if batched is None else batched
    if k > 1 and not batched:
        raise ValueError("k > 1 seeds in one update needs batched=True")
    rows = [e for e in doc["entries"] if e["model"] == model and e["device"] == dev]
    if not rows:
        have = sorted({e["device"] for e in doc["entries"]})
        raise KeyError(
            f"no calibration for {model} on {dev!r} (measured: {have}); run "
            f"benchmarks/training.py on a machine with that device"
        )
    if not batched:
        single = [e for e in rows if e["mode"] == "single"]
        if single:
            return float(single[0]["s_per_update"])
    pts = sorted((int(e["k"]), float(e["s_per_update"])) for e in rows if e["mode"] == "batched")
    if not pts:
        raise KeyError(f"no batched calibration for {model} on {dev!r}")
    for kk, s in pts:
        if kk == k:
            return s
    if len(pts) == 1:
        return pts[0][1] * k / pts[0][0]
    below = [p for p in pts if p[0] < k]
    above = [p for p in pts if p[0] > k]
    (k0, s0), (k1, s1) = (
        (below[-1], above[0]) if below and above else (pts[0], pts[1]) if not below else (pts[-2], pts[-1])
    )
    return max(s0 + (s1 - s0) * (k - k0) / (k1 - k0), 0.0)


def estimate_seconds(
    model: str,
    n_updates,
    device: str = "cpu",
    k: int = 1,
    batched: bool | None = None,
    n_params: int | None = None,
    calibration: dict | None = None,
) -> float:
    """Wall seconds for ``k`` runs of ``n_updates`` updates each, batched together when k > 1
    (k = 1: one ordinary run).

    ``model`` "ddn" takes ``n_updates`` as (stage 1, stage 2, stage 3) updates and sums the three.
    ``n_params``: the parameter count of the network actually run, when it differs from the
    calibrated one (deeper DDNs, other codes); the cost is scaled in proportion (dense layers'
    cost is proportional to their weights), a rough estimate.
    """
    doc = load_calibration() if calibration is None else calibration
    if model == "ddn":
        if len(n_updates) != 3:
            raise ValueError("model 'ddn' needs n_updates = (stage 1, stage 2, stage 3)")
        return sum(
            estimate_seconds(f"ddn_stage{i + 1}", n, device, k, batched, n_params, doc)
            for i, n in enumerate(n_updates)
        )
    s = seconds_per_update(model, device, k, batched, doc)
    if n_params:
        measured = next(
            (e.get("n_params") for e in doc["entries"] if e["model"] == model and e.get("n_params")), None
        )
        if measured:
            s *= n_params / measured
    return float(n_updates) * s


SEEDS_ENV = "BOOK_SEEDS_PER_MODEL"  # forces K seeds per batched model in the sweeps (1: never batch)
MIN_SPEEDUP = 1.2  # the batched model must beat the single-run code by this much to be used


def _stage_models(model: str) -> tuple[str, ...]:
    return ("ddn_stage1", "ddn_stage2", "ddn_stage3") if model == "ddn" else (model,)


def seeds_per_model(model: str, device: str = "cpu", calibration: dict | None = None) -> int:
    """How many seeds a sweep trains as one batched model (``lib.batched``) on ``device``.

    ``$BOOK_SEEDS_PER_MODEL`` when set; else the measured K with the most seed-updates per second,
    if it beats the single-run code by at least ``MIN_SPEEDUP``; else 1 (also when the device
    has no calibration: batching is used where it was measured faster, never on a guess).
    ``model`` "ddn" counts one update of each of its three stages. ``MIN_SPEEDUP`` = 1.2 is
    twice the spread of a timed update (median against fastest, about 10% on this project's
    CPU), so noise in the calibration does not decide it.
    """
    forced = os.environ.get(SEEDS_ENV, "").strip()
    if forced:
        if not forced.isdigit() or int(forced) < 1:
            raise ValueError(f"${SEEDS_ENV} must be a whole number >= 1, got {forced!r}")
        return int(forced)
    try:
        doc = load_calibration() if calibration is None else calibration
        parts = _stage_models(model)
        single = sum(seconds_per_update(p, device, 1, False, doc) for p in parts)
    except (FileNotFoundError, KeyError):
        return 1
    dev = str(device).split(":")[0]
    measured = {int(e["k"]) for e in doc["entries"] if e["model"] in parts and e["device"] == dev}
    best, best_rate = 1, MIN_SPEEDUP / single
    for k in sorted(measured - {1}):
        rate = k / sum(seconds_per_update(p, device, k, True, doc) for p in parts)
        if rate > best_rate:
            best, best_rate = k, rate
    return best
