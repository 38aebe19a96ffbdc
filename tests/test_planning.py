"""``python -m lib.run --plan``: runs, stored runs and hours, without running anything."""

import json

import pytest

from lib import planning, run
from lib.experiments import Experiment, sweep


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    return tmp_path


def _double(x):
    return {"y": 2 * x}


def test_rows_count_stored_runs_and_price_the_rest_from_measured_runs(results_tmp):
    exp = Experiment("toy", _double, [{"x": i} for i in range(4)], cost=lambda c: ("work", 10 * (c["x"] + 1)))
    assert planning.plan_rows({"toy": exp}, "smoke")[0]["cpu_hours"] is None  # nothing measured yet
    sweep(_double, exp.configs[:2], name="toy", profile="smoke", n_jobs=1, progress=False)
    for path in (results_tmp / "smoke" / "runs" / "toy").glob("*.json"):  # a known cost
        doc = json.loads(path.read_text())
        doc["cpu_seconds"] = 0.36 * (doc["config"]["x"] + 1)  # 0.036 s per unit
        path.write_text(json.dumps(doc))
    row = planning.plan_rows({"toy": exp}, "smoke")[0]
    assert (row["runs"], row["stored"]) == (4, 2)
    assert row["cpu_hours"] == pytest.approx(0.036 * (30 + 40) / 3600)
    assert row["cuda_hours"] is None and row["basis"] == "2 stored runs, proportional"


def test_runs_of_several_sizes_separate_fixed_costs_from_proportional_ones():
    fixed, rate, how = planning.cost_line([(10, 6.0), (100, 15.0), (1000, 105.0)])
    assert how == "fixed + proportional"
    assert fixed == pytest.approx(5.0) and rate == pytest.approx(0.1)
    assert planning.cost_line([(10, 6.0), (12, 7.0)])[2] == "proportional"


def test_torch_models_fall_back_to_the_training_calibration(results_tmp):
    calibration = {
        "entries": [{"model": "asae", "device": "cpu", "mode": "single", "k": 1, "s_per_update": 0.01}]
    }
    exp = Experiment("asae", _double, [{"x": 0}], cost=lambda c: ("asae", 3600))
    row = planning.plan_rows({"asae": exp}, "smoke", calibration=calibration)[0]
    assert row["cpu_hours"] == pytest.approx(0.01) and row["basis"] == "training calibration"


def test_plan_covers_every_chapter_and_runs_nothing(capsys, results_tmp):
    assert run.main(["--profile", "thesis", "--plan"]) == 0
    out = capsys.readouterr().out
    for chapter in run.toc_chapters():
        assert chapter in out
    assert "ch08_simple_2" in out and "total" in out
    assert not (results_tmp / "thesis").exists() or not any((results_tmp / "thesis").rglob("*.json"))
