"""Runs on reused digits (lib.data.make_reused_composite) train on the training rows only and
score on the held-out rows: the ASAE, the DDN and PPICA."""

import numpy as np
import pytest

import lib.asae_runs as asae_runs
import lib.ddn_runs as ddn_runs
from lib.chapters import ch06_ppica


def test_asae_trains_on_the_training_rows_only(monkeypatch):
    seen = []
    train = asae_runs.train
    monkeypatch.setattr(
        asae_runs, "train", lambda model, x, *a, **k: seen.append(len(x)) or train(model, x, *a, **k)
    )
    r = asae_runs.run_asae(kind="simple", n=300, code_size=2, epochs=1, n_eval=50, reuse_test=50)
    assert seen == [250] and "held-out" in r["source"]
    with pytest.raises(ValueError, match="held-out"):
        asae_runs.run_asae(kind="simple", n=300, code_size=2, epochs=1, n_eval=100, reuse_test=50)


def test_ddn_trains_on_the_training_rows_and_scores_the_held_out_ones(monkeypatch):
    seen = []
    trainer = ddn_runs.DDNTrainer

    def spy(x, cfg, **kw):
        seen.append(len(x))
        return trainer(x, cfg, **kw)

    monkeypatch.setattr(ddn_runs, "DDNTrainer", spy)
    r = ddn_runs.run_ddn("simple", n=300, epochs=[1, 0, 1], hidden=8, n_score=50, reuse_test=50)
    assert seen == [250] and np.isfinite(r["final_mi"])


def test_ppica_is_fitted_on_the_training_rows_and_scored_on_the_held_out_ones():
    r = ch06_ppica.ppica_run(6, 0.1, 0, 400, 1, kind="upright012_rot345", reuse_test=80)
    plain = ch06_ppica.ppica_run(6, 0.1, 0, 400, 1, kind="upright012_rot345")
    assert len(r["upright_share"]) == 6 and 0 <= r["share"] <= 1
    assert r["recon_score"] != plain["recon_score"]  # other rows, other fit
