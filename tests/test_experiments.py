"""Profiles, resumable sweeps, records and the regression check of lib.run."""

import json
import os

import numpy as np
import pytest

from lib import experiments, profiles, run
from lib.experiments import Record, pick, sweep
from lib.profiles import resolve_profile


@pytest.fixture(autouse=True)
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setattr(run, "REFERENCE", tmp_path / "reference")
    return tmp_path


def square(x, marker_dir, fail_on=None):
    """A sweep body that leaves one marker file per execution and can be made to crash."""
    with open(os.path.join(marker_dir, f"{x}-{os.getpid()}-{np.random.rand()}"), "w"):
        pass
    if x == fail_on:
        raise RuntimeError("killed halfway")
    return {"x": x, "sq": x * x, "curve": np.arange(x, dtype=float)}


def test_profiles(monkeypatch):
    monkeypatch.delenv("BOOK_PROFILE", raising=False)
    assert resolve_profile(None) == "book"
    monkeypatch.setenv("BOOK_PROFILE", "smoke")
    assert resolve_profile(None) == "smoke"
    assert resolve_profile("thesis") == "thesis"
    with pytest.raises(ValueError, match="valid profiles are"):
        resolve_profile("huge")
    assert pick("smoke", smoke=1, book=2, thesis=3) == 1
    with pytest.raises(ValueError, match="missing"):
        pick("smoke", smoke=1, book=2)


def test_sweep_resumes_without_recomputing(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [{"x": x, "marker_dir": str(markers), "fail_on": 3} for x in range(5)]
    with pytest.raises(Exception, match="killed halfway"):
        sweep(square, configs, name="sq", profile="smoke", n_jobs=1, progress=False)
    done_before = {int(p.name.split("-")[0]) for p in markers.iterdir()}
    assert done_before == {0, 1, 2, 3}
    for p in markers.iterdir():
        p.unlink()
    configs = [dict(c, fail_on=None) for c in configs]  # a different config: all run again
    configs = [{"x": x, "marker_dir": str(markers), "fail_on": 3} for x in range(3)] + configs[3:]
    results = sweep(square, configs, name="sq", profile="smoke", n_jobs=2, progress=False)
    rerun = sorted(int(p.name.split("-")[0]) for p in markers.iterdir())
    assert rerun == [3, 4], "finished runs 0-2 must be loaded, not recomputed"
    assert [r["sq"] for r in results] == [0, 1, 4, 9, 16]
    np.testing.assert_array_equal(results[4]["curve"], np.arange(4.0))


def test_a_run_two_sweeps_share_is_trained_once(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [{"x": x, "marker_dir": str(markers)} for x in range(3)]
    sweep(square, configs[:2], name="main", profile="smoke", n_jobs=1, progress=False)
    assert len(list(markers.iterdir())) == 2
    sweep(square, configs[:1], name="apart", profile="smoke", n_jobs=1, progress=False)
    assert len(list(markers.iterdir())) == 3, "a sweep that does not name another computes its own"
    kw = dict(profile="smoke", n_jobs=1, progress=False, shares=("main",))
    results = sweep(square, configs, name="study", **kw)
    assert len(list(markers.iterdir())) == 4, "runs 0 and 1 come from the named sweep, not retrained"
    assert experiments.SWEEP_LOG["study"]["reused"] == 2 and experiments.SWEEP_LOG["study"]["computed"] == 1
    np.testing.assert_array_equal(results[1]["curve"], np.arange(1.0))


def test_sweep_never_trusts_a_half_written_run(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    configs = [{"x": 2, "marker_dir": str(markers)}]
    sweep(square, configs, name="half", profile="smoke", n_jobs=1, progress=False)
    run_dir = experiments.results_dir("smoke") / "runs" / "half"
    (json_file,) = run_dir.glob("*.json")
    json_file.unlink()  # as if killed between writing the arrays and the json
    sweep(square, configs, name="half", profile="smoke", n_jobs=1, progress=False)
    assert len(list(markers.iterdir())) == 2


def test_record_and_check_report_every_drifted_number():
    rec = Record("chX", "smoke")
    rec.metric("a", 1.0)
    rec.metric("b", 0.5, thesis=0.83)
    rec.metric("c", [1.0, 2.0])
    rec.metric("name", "gradient")
    rec.info("seconds", 3.0)
    rec.save()
    run.update_reference("chX", "smoke", tolerances={"b": 0.1})
    assert run.check("chX", "smoke") == []
    rec.metric("a", 1.0 + 1e-5)  # beyond float precision: no tolerance was measured for it
    rec.metric("b", 0.55)  # inside its measured tolerance
    rec.metric("c", [1.0, 2.5])
    rec.metric("name", "digit")
    rec.save()
    problems = run.check("chX", "smoke")
    assert len(problems) == 3
    assert any(p.startswith("a:") for p in problems)
    assert any(p.startswith("c[1]:") for p in problems)
    assert any(p.startswith("name:") for p in problems)
    reference = json.loads((run.REFERENCE / "smoke" / "chX.json").read_text())
    assert "info" not in reference and reference["thesis"]["b"] == 0.83
    run.update_reference("chX", "smoke")  # a later update keeps the measured tolerance
    reference = json.loads((run.REFERENCE / "smoke" / "chX.json").read_text())
    assert reference["tolerances"] == {"b": 0.1} and reference["metrics"]["a"] == 1.0 + 1e-5


def test_check_names_a_missing_reference():
    Record("chY", "smoke").save()
    assert "no reference" in run.check("chY", "smoke")[0]


def test_chapter_budgets_follow_the_design():
    assert profiles.chapter_budget("ch03_broadnet", "book") == 15 * 60
    assert profiles.chapter_budget("ch09_ddn", "book") == 30 * 60
    assert profiles.chapter_budget("ch09_ddn", "smoke") == 90


def test_claims_are_stored_and_a_changed_verdict_fails_check():
    from lib.claims import at_least

    rec = Record("chZ", "smoke")
    claim = rec.claim(
        "9.4-simple",
        method="DDN",
        thesis="every run disentangles",
        ours="1 of 3 runs",
        verdict=at_least(1 / 3, agrees=0.9, partly=0.3),
        value=1 / 3,
    )
    assert claim["verdict"] == "partly" and claim["chapter"] == "chZ"
    rec.save()
    run.update_reference("chZ", "smoke")
    assert run.check("chZ", "smoke") == []
    rec.claim(
        "9.4-simple",
        method="DDN",
        thesis="every run disentangles",
        ours="0 of 3 runs",
        verdict=at_least(0.0, agrees=0.9, partly=0.3),
        value=0.0,
    )
    rec.save()
    assert run.check("chZ", "smoke") == ["claim 9.4-simple: verdict 'does not agree' != reference 'partly'"]
    with pytest.raises(ValueError, match="not one of"):
        rec.claim("x", method="m", thesis="t", ours="o", verdict="confirmed")
    with pytest.raises(ValueError, match="non-empty"):
        rec.claim("x", method="m", thesis="", ours="o", verdict="agrees")
