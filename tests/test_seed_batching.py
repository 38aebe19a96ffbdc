"""Sweeps that train several seeds as one batched model (issue #14): when, how, and that the
stored runs are the runs a seed-by-seed sweep stores.

``lib.costs.seeds_per_model`` decides K from the measured calibration (or ``$BOOK_SEEDS_PER_MODEL``);
``lib.experiments.sweep`` groups the runs that differ only in their seed, trains each group with
the function's ``SeedBatched`` twin, and stores the runs one by one.
"""

import json

import numpy as np
import pytest

from lib import costs, experiments
from lib.experiments import Record, SeedBatched, seed_groups, sweep
from tests.sweep_bodies import seeded, seeded_batched, with_dropout

TWIN = SeedBatched(seeded_batched, "asae", alone=with_dropout)


def calibration(single, batched):
    """A CPU calibration: the ASAE's single update ``single`` s, batched K -> s per update."""
    row = lambda model, mode, k, s: {"model": model, "device": "cpu", "mode": mode, "k": k, "s_per_update": s}
    rows = [row("asae", "single", 1, single)] + [row("asae", "batched", k, s) for k, s in batched.items()]
    rows += [row(f"ddn_stage{i}", "single", 1, 0.1) for i in (1, 2, 3)]
    rows += [row(f"ddn_stage{i}", "batched", 4, 0.2 if i < 3 else 0.5) for i in (1, 2, 3)]
    return {"entries": rows}


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("BOOK_SCHEDULER", raising=False)
    monkeypatch.delenv(costs.SEEDS_ENV, raising=False)
    experiments.SWEEP_LOG.clear()
    return tmp_path


# ----------------------------------------------------------------------------- when to batch
def test_seeds_per_model_takes_the_fastest_measured_k_only_when_clearly_faster(monkeypatch):
    monkeypatch.delenv(costs.SEEDS_ENV, raising=False)
    fast = calibration(0.1, {1: 0.11, 4: 0.2, 8: 0.5})  # K=4: 20 seed-updates/s against 10
    assert costs.seeds_per_model("asae", "cpu", fast) == 4
    slow = calibration(0.1, {4: 0.36, 8: 0.9})  # at best 1.11x: inside the calibration's noise
    assert costs.seeds_per_model("asae", "cpu", slow) == 1
    assert costs.seeds_per_model("asae", "cuda:0", fast) == 1, "an unmeasured device never batches"
    # the DDN counts an update of each stage: 0.3 s single against 0.9 s for 4 seeds (1.33x)
    assert costs.seeds_per_model("ddn", "cpu", fast) == 4
    monkeypatch.setenv(costs.SEEDS_ENV, "3")
    assert costs.seeds_per_model("asae", "cpu", slow) == 3
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv(costs.SEEDS_ENV, bad)
        with pytest.raises(ValueError, match=costs.SEEDS_ENV):
            costs.seeds_per_model("asae", "cpu", fast)


def test_the_committed_cpu_calibration_does_not_batch(monkeypatch):
    """On this project's CPU the batched models were measured no faster than one process per
    seed (benchmarks/training.py), so the sweeps keep the single-run code there."""
    monkeypatch.delenv(costs.SEEDS_ENV, raising=False)
    monkeypatch.delenv("BOOK_CALIBRATION", raising=False)
    doc = costs.load_calibration()
    for model in ("asae", "ddn"):
        assert costs.seeds_per_model(model, "cpu", doc) == 1


def test_seed_groups_join_runs_that_differ_only_in_their_seed():
    configs = [dict(seed=s, scale=1.0) for s in range(5)] + [dict(seed=0, scale=2.0), dict(scale=1.0)]
    configs += [dict(seed=s, scale=1.0, dropout=0.5) for s in (7, 8)]
    assert seed_groups(configs, range(len(configs)), 2, with_dropout) == [
        [0, 1],
        [2, 3],
        [4],
        [5],
        [6],
        [7],
        [8],
    ]
    assert seed_groups(configs, [1, 3, 4], 8) == [[1, 3, 4]], "only the runs still to do"


# ----------------------------------------------------------------------------- the sweep
def _configs():
    return [dict(seed=s, scale=2.0) for s in range(5)] + [dict(seed=9, scale=2.0, dropout=0.5)]


def test_a_sweep_trains_seeds_together_and_stores_each_run(results_tmp, monkeypatch):
    configs = _configs()
    alone = sweep(seeded, configs, name="alone", profile="smoke", n_jobs=1, progress=False, batched=TWIN)
    assert [int(r["made_by"]) for r in alone] == [1] * 6, "K=1 on this CPU: the single-run code"
    assert experiments.SWEEP_LOG["alone"]["seeds_per_model"] == 1

    monkeypatch.setenv(costs.SEEDS_ENV, "2")
    together = sweep(
        seeded, configs, name="together", profile="smoke", n_jobs=2, progress=False, batched=TWIN
    )
    assert [int(r["made_by"]) for r in together] == [2, 2, 2, 2, 1, 1]  # the dropout run alone
    for a, b in zip(alone, together):
        np.testing.assert_array_equal(a["value"], b["value"])
    log = experiments.SWEEP_LOG["together"]
    assert (log["computed"], log["batched_runs"], log["seeds_per_model"]) == (6, 4, 2)
    stored = [json.loads(p.read_text()) for p in (results_tmp / "results/smoke/runs/together").glob("*.json")]
    assert len(stored) == 6 and sorted(d.get("seeds_per_model", 1) for d in stored) == [1, 1, 2, 2, 2, 2]
    assert not list((results_tmp / "results/smoke/runs/together").glob("*.ckpt"))
    assert Record("chX", "smoke").as_dict()["info"]["mixed_code"] == [], "the twin is not foreign code"

    monkeypatch.setenv(costs.SEEDS_ENV, "1")
    again = sweep(seeded, configs, name="together", profile="smoke", n_jobs=1, progress=False, batched=TWIN)
    assert experiments.SWEEP_LOG["together"]["computed"] == 0, "runs the twin made are reused"
    assert [int(r["made_by"]) for r in again] == [2, 2, 2, 2, 1, 1]
    # both bodies live in one file, so they share a fingerprint; the rule itself:
    assert experiments._stale({"code": "twin", "data": []}, {"single"}) == "code changed"
    assert experiments._stale({"code": "twin", "data": []}, {"single", "twin"}) is None


def test_a_batched_asae_sweep_stores_what_a_seed_by_seed_sweep_stores(
    results_tmp, monkeypatch, asae_stand_ins
):
    """The real pair (lib.asae_runs.run_asae and run_asae_batched) through sweeps, on
    tiny stand-in data with a cheap per-epoch score (in process, n_jobs=1, so the stand-ins hold)."""
    import lib.asae_runs
    from lib.asae_runs import run_asae
    from lib.chapters.ch08_split_autoencoders import BATCHED

    monkeypatch.setattr(lib.asae_runs, "final_truth_scores", lambda *a: {})
    base = asae_stand_ins
    configs = [dict(base, seed=s) for s in (0, 1, 2)]
    single = sweep(
        run_asae, configs, name="single", profile="smoke", n_jobs=1, progress=False, batched=BATCHED
    )
    monkeypatch.setenv(costs.SEEDS_ENV, "3")
    batched = sweep(
        run_asae, configs, name="batched", profile="smoke", n_jobs=1, progress=False, batched=BATCHED
    )
    assert experiments.SWEEP_LOG["batched"]["batched_runs"] == 3
    assert experiments.SWEEP_LOG["single"]["batched_runs"] == 0
    for a, b in zip(single, batched):
        assert a.keys() == b.keys()
        for key in a:
            if key not in ("cpu_s", "source"):
                np.testing.assert_allclose(b[key], a[key], rtol=1e-4, atol=1e-5, err_msg=key)
