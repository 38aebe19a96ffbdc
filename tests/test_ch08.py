"""Chapter 8's experiments module: its sizes table and its summaries of (fake) ASAE runs."""

import math

import pytest

from lib import evidence
from lib.chapters import ch08_split_autoencoders as ch8
from lib.claims import make_claim
from lib.controls import make_ruler
from lib.profiles import PROFILES


def rulers(testable=True):
    """A ruler per setting whose controls all pass (or whose supervised ceiling fails)."""
    rows = [
        {"control": "oracle (per-part PCA)", "kind": "positive", "score": 0.8,
         "share of oracle": 1.0, "disentangled": True, "correct": True, "mi": 0.0},
        {"control": "supervised ceiling", "kind": "positive", "score": 0.1,
         "share of oracle": 0.1, "disentangled": testable, "correct": testable, "mi": float("nan")},
    ]  # fmt: skip
    return {s: make_ruler(ch8.setting_name(*s), rows) for s in ch8.CEILINGS}


class FakeRecord:
    """The part of ``lib.experiments.Record`` the chapter module writes to."""

    def __init__(self):
        self.metrics, self.thesis, self.claims = {}, {}, {}

    def metric(self, name, value, thesis=None):
        self.metrics[name] = value
        if thesis is not None:
            self.thesis[name] = thesis

    def claim(self, claim_id, **fields):
        self.claims[claim_id] = make_claim(claim_id, **fields)
        return self.claims[claim_id]


def fake_run(mi, recon, disentangled, score=0.0, epochs=3):
    """A run_asae result whose curves are flat except for the last value."""
    return {
        "mi": [1.0] * epochs + [mi],
        "recon": [0.0] * epochs + [recon],
        "probe": [0.5] * (epochs + 1),
        "mse": [10.0] * (epochs + 1),
        "final_disentanglement": score,
        "final_disentangled": disentangled,
        "final_separation": 0.1,
        "final_mse": 5.0 + mi,
        "cpu_s": 1.0,
    }


def test_sizes_table_has_every_profile_and_the_thesis_sizes():
    assert set(ch8.SIZES) == set(PROFILES)
    keys = set(ch8.SIZE_NAMES)
    for profile in PROFILES:
        size = ch8.sizes(profile)
        assert set(size) == keys, profile
        assert size["study_epochs"] <= size["epochs"]
        assert size["n_eval"] <= size["n_pairs"]
    thesis = ch8.sizes("thesis")
    assert thesis["n_pairs"] == 25000  # section 8.2
    assert thesis["n_runs"] == thesis["n_runs_10"] == thesis["n_runs_study"] == 30
    assert thesis["additive_epochs"] == evidence.SIZES["asae-additive"]["epochs"]
    assert ch8.sizes_table("book").shape == (len(keys), len(PROFILES))
    with pytest.raises(ValueError, match="unknown profile"):
        ch8.sizes("huge")


def test_simple_2_summary_of_fake_runs():
    # final MI 0.05, 0.15, 0.5, 0.8: one full success, one limited, two failures;
    # the two low-MI runs are the disentangled ones, by both scores.
    runs = [
        fake_run(0.05, 0.5, True, 0.9),
        fake_run(0.15, 0.3, True, 0.7),
        fake_run(0.5, 0.1, False),
        fake_run(float("nan"), 0.0, False),  # a collapsed code: NaN MI sorts last
    ]
    assert ch8.order_by_mi(runs) == [0, 1, 2, 3]
    rec = FakeRecord()
    ch8.claims_simple_2(rec, runs, rulers())
    assert rec.metrics["simple2_share_mi_below_0.1"] == 0.25
    assert rec.metrics["simple2_share_mi_below_0.2"] == 0.5
    assert rec.metrics["simple2_share_disentangled_by_recon_score"] == 0.5
    assert rec.metrics["simple2_mi_vs_truth_agreement"] == 1.0
    assert rec.claims["8.4-simple-2"]["verdict"] == "agrees"
    assert (
        rec.claims["8.4-mi-vs-truth"]["verdict"]
        == rec.claims["8.4-mi-vs-truth"]["verdict_old_score"]
        == "agrees"
    )
    assert rec.claims["8.4-mi-vs-truth"]["controls"]["testable"]
    ch8.claim_examples(rec, runs, [0, 1, 2], rulers())
    assert rec.claims["8.3-simple-2-examples"]["value"] == pytest.approx(2 / 3)
    assert rec.claims["8.3-simple-2-examples"]["verdict"] == "partly"
    # the thesis's criterion beside it: 1 of the 3 shown has final MI < 0.1
    assert rec.claims["8.3-simple-2-examples"]["verdict_mi"] == "partly"
    # a ruler whose supervised ceiling fails cannot judge: "not tested", never "does not agree"
    ch8.claim_examples(rec, runs, [2, 3], rulers(testable=False))
    claim = rec.claims["8.3-simple-2-examples"]
    assert claim["verdict"] == "not tested" and claim["verdict_mi"] == "does not agree"
    assert "supervised ceiling" in claim["criteria"]
    ch8.headline_metrics(rec, {"simple2": runs})
    assert rec.metrics["simple2_final_mi_mean"] == pytest.approx((0.05 + 0.15 + 0.5) / 3)
    assert rec.metrics["simple2_share_disentangled_truth"] == 0.5
    assert rec.metrics["simple2_truth_score_mean"] == pytest.approx(0.4)
    table = ch8.run_table(runs)
    assert list(table.index) == [0, 1, 2, 3]
    assert math.isnan(table["final MI (nats)"].iloc[-1])


def test_study_groups_cut_the_base_runs_and_score_the_study_runs():
    n, epochs = 2, 1
    runs_2 = [fake_run(0.1, 0.5, True, epochs=3) for _ in range(n)]
    variants = [fake_run(0.5, 0.0, False, epochs=epochs) for _ in ch8.VARIANTS for _ in range(n)]
    rmsprop = [fake_run(0.1, 0.5, True, epochs=epochs), fake_run(0.9, 0.0, False, epochs=epochs)]
    groups, scored = ch8.study_groups(variants + rmsprop, runs_2, n, epochs)
    assert list(groups) == [ch8.BASE, *ch8.VARIANTS]
    assert all(len(r["mi"]) == epochs + 1 for r in groups[ch8.BASE])
    assert scored[ch8.BASE] == rmsprop and scored["dropout"] == groups["dropout"]
    table = ch8.study_table(groups, scored)
    assert table.loc[ch8.BASE, "disentangled"] == 0.5  # the study's own RMSprop runs decide
    # the curves are the 2-unit runs' at the study's epoch (MI 1.0), not at their end (0.1)
    assert table.loc[ch8.BASE, "MI < 0.2"] == 0.0
    rec = FakeRecord()
    ch8.claims_study(rec, groups, scored, epochs, rulers())
    assert rec.metrics["study_rmsprop_share_disentangled"] == 0.5
    assert rec.metrics["study_sgd_share_mi_below_0.2"] == 0.0
    assert rec.claims["8.6-optimisers"]["verdict"] == "agrees"
    assert rec.claims["8.6-dropout"]["verdict"] == "agrees"


def test_the_supervised_ceiling_separates_where_the_unsupervised_asae_does_not():
    """Trained on the true parts, the same ASAE's codes read their own digits (a positive control
    of the score on this benchmark); the unsupervised ASAE at the same sizes does not."""
    from lib.asae_runs import run_asae, run_asae_ceiling

    sizes = dict(kind="simple", n=500, code_size=10, epochs=6, n_eval=300)
    ceiling = run_asae_ceiling(**sizes)
    plain = run_asae(**sizes)
    assert ceiling["final_separation"] > 0.03 and ceiling["final_disentanglement"] > 0.3
    assert ceiling["final_disentanglement"] > plain["final_disentanglement"] + 0.2
    # judged against the oracle of the same rows, and trained until its score stopped rising
    assert ceiling["final_disentangled"] and ceiling["final_testable"]
    assert 2 <= len(ceiling["score_curve"]) and ceiling["epochs_needed"] <= 6


def test_the_ceiling_stops_once_its_score_stops_rising():
    from lib.asae_runs import score_stopped

    nan = float("nan")
    assert not score_stopped([nan, 0.1])
    assert not score_stopped([0.1, nan, 0.3])
    assert score_stopped([0.1, nan, 0.3, nan, 0.305])
    assert score_stopped([0.4, 0.2])  # a fall also ends it
    assert not score_stopped([0.0, nan, 0.001])  # stuck near zero: not started, trains on
