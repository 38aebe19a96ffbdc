"""``python -m lib.evidence``: records at the thesis's sizes (here shrunk), resumable, with clear
errors for missing or too small data; and lib.data.require_composites behind the thesis sizes."""

import json
from pathlib import Path

import pytest

from lib import evidence
from lib.chapters import ch06_ppica, ch08_split_autoencoders
from lib.chapters.ch09_ddn import chapter_sizes
from lib.data import NotEnoughData, require_composites
from lib.ddn_runs import BENCHMARKS
from tests.idx_files import other_mnist

ROOT = Path(__file__).resolve().parent.parent
TINY = {
    "ppica-50": {"n": 150, "runs": 2, "n_components": 6, "n_sweeps": 1, "tol": 0.1},
    "asae-additive": {"n": 120, "runs": 2, "epochs": 1, "code_size": 10, "n_eval": 60},
    "asae-simple-2": {"n": 120, "runs": 2, "epochs": 1, "code_size": 2, "n_eval": 60},
    "asae-simple-10": {"n": 120, "runs": 2, "epochs": 1, "code_size": 10, "n_eval": 60},
    "ddn-simple": {"n": 120, "runs": 2, "epochs": (2, 1, 1), "hidden": 16},
    "ddn-simple-sum": {"n": 120, "runs": 2, "epochs": (2, 1, 1), "hidden": 16},
    "ddn-additive": {"n": 120, "runs": 2, "epochs": (1, 1, 1), "hidden": 16},
    "ddn-occlusive": {"n": 120, "runs": 2, "epochs": (1, 1, 1), "hidden": 16},
}
INFO_FIELDS = {"n_composites", "runs", "epochs", "data", "code_fingerprint", "seconds", "sweep"}


@pytest.fixture(scope="module")
def idx_folder(tmp_path_factory):
    return other_mnist(tmp_path_factory.mktemp("idx") / "mnist")  # 5,000 digits: 2,500 pairs


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv("MNIST_DIR", raising=False)
    for name, sizes in TINY.items():
        monkeypatch.setitem(evidence.SIZES, name, sizes)
    return tmp_path / "results"


def record(results, name):
    return json.loads((results / "evidence" / f"{name}.json").read_text())


@pytest.mark.parametrize("name", list(evidence.EXPERIMENTS))
def test_record_has_every_info_field_and_a_verdict(tiny, idx_folder, name, capsys):
    assert evidence.main([name, "--data-dir", str(idx_folder), "--jobs", "1"]) == 0
    rec = record(tiny, name)
    info, summary = rec["info"], rec["summary"]
    assert INFO_FIELDS <= set(info)
    assert info["n_composites"] == TINY[name]["n"] and info["runs"] == 2
    assert info["data"]["folder"] == str(idx_folder) and info["data"]["dataset"] == "unknown"
    assert info["data"]["fingerprint"] and info["code_fingerprint"]
    assert info["seconds"]["wall"] > 0 and info["seconds"]["cpu_runs"] > 0
    assert info["sweep"] == {
        **info["sweep"],
        "name": f"evidence-{name}",
        "profile": "thesis",
        "computed": 2,
        "reused": 0,
    }
    assert summary["verdict"] in ("agrees", "partly", "does not agree", "not tested")
    assert summary["rule"] and rec["claim"]["verdict"] == summary["verdict"]
    out = capsys.readouterr().out
    assert "verdict:" in out and str(tiny / "evidence" / f"{name}.json") in out
    assert not list(tiny.rglob("*.ckpt"))  # finished runs leave no checkpoint


@pytest.mark.parametrize("name", ["ppica-50", "asae-simple-2", "ddn-simple"])
def test_digits_records_reuse_the_bundled_digits_and_hold_out_the_test_rows(tiny, name, monkeypatch):
    monkeypatch.setitem(evidence.DIGIT_TEST, name, 60 if name != "ppica-50" else 40)
    assert evidence.main([name, "--digits", "--jobs", "1"]) == 0
    rec = record(tiny, f"{name}-digits")
    data = rec["info"]["data"]
    assert rec["name"] == name and rec["data_mode"] == "digits" and not data["stand_in"]
    assert data["reuse"]["test_digits_in_training"] == 0 and data["reuse"]["n_test"] in (40, 60)
    assert "--digits" in rec["info"]["command"] and "held-out" in data["source"]
    assert rec["info"]["sweep"]["name"] == f"evidence-{name}-digits"
    assert evidence.main([name, "--digits", "--data-dir", "/somewhere"]) == 2  # one or the other


def test_a_rerun_reuses_the_stored_runs_and_more_runs_compute_only_the_new(tiny, idx_folder):
    args = ["asae-additive", "--data-dir", str(idx_folder), "--jobs", "1"]
    assert evidence.main(args) == 0
    first = record(tiny, "asae-additive")
    assert evidence.main(args) == 0
    again = record(tiny, "asae-additive")
    assert again["info"]["sweep"]["reused"] == 2 and again["info"]["sweep"]["computed"] == 0
    assert again["summary"] == first["summary"]
    assert evidence.main(args + ["--runs", "3"]) == 0
    more = record(tiny, "asae-additive")["info"]
    assert (more["runs"], more["sweep"]["reused"], more["sweep"]["computed"]) == (3, 2, 1)


def test_fashion_mnist_is_the_default_and_is_named_a_stand_in(tiny, idx_folder, monkeypatch, capsys):
    monkeypatch.setattr(evidence, "FASHION_DIR", idx_folder)
    monkeypatch.setattr(evidence, "identify_idx_files", lambda folder: "fashion-mnist")
    assert evidence.main(["ppica-50", "--jobs", "1"]) == 0
    data = record(tiny, "ppica-50")["info"]["data"]
    assert data["folder"] == str(idx_folder) and data["stand_in"]
    assert data["description"] == "Fashion-MNIST stand-in for MNIST"
    assert "Fashion-MNIST stand-in for MNIST" in capsys.readouterr().out


def test_missing_data_folder_is_a_clear_error(tiny, tmp_path, capsys):
    assert evidence.main(["ddn-simple", "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "does not exist" in err
    assert "python -m lib.data fetch mnist --to DIR" in err and "MNIST_DIR=DIR" in err
    assert not (tiny / "evidence").exists() or not list((tiny / "evidence").iterdir())


def test_no_data_and_no_fashion_mnist_names_what_is_missing(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(evidence, "FASHION_DIR", tmp_path / "no-fashion")
    assert evidence.main(["ppica-50"]) == 2
    err = capsys.readouterr().err
    assert "dataset-fashion-mnist" in err and "python -m lib.data fetch mnist" in err


def test_data_too_small_for_the_thesis_sizes_stops_before_running(idx_folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    assert evidence.main(["asae-additive", "--data-dir", str(idx_folder)]) == 2  # real SIZES
    err = capsys.readouterr().err
    assert "25,000" in err and "2,500" in err and "python -m lib.data fetch mnist" in err
    assert not list(tmp_path.rglob("*.json"))


def test_unknown_name_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as exit_:
        evidence.main(["ddn-everything"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert all(name in err for name in evidence.EXPERIMENTS)


def test_require_composites():
    assert require_composites("simple", 2500) == 2500  # the bundled 5,000 digits
    assert require_composites("mnist", None) is None  # "all the data allow"
    assert require_composites("toy_lines", 10**6) == 10**6
    with pytest.raises(
        NotEnoughData,
        match=r"25,000 'simple'.*at most 2,500.*"
        r"python -m lib\.data fetch mnist --to DIR",
    ):
        require_composites("simple", 25000)
    with pytest.raises(NotEnoughData, match="at most 1,500"):
        require_composites("upright012_rot345", 5000)
    with pytest.raises(ValueError, match="unknown composite kind"):
        require_composites("nonsense", 1)


def test_chapter9_thesis_sizes_are_exact_or_an_error(idx_folder):
    with pytest.raises(NotEnoughData, match="25,000"):
        chapter_sizes("thesis")  # bundled digits: 2,500 pairs
    with pytest.raises(NotEnoughData, match="25,000"):
        chapter_sizes("thesis", idx_folder)  # 5,000 digits
    assert chapter_sizes("smoke")["n"] == {k: 300 for k in BENCHMARKS}


def test_sizes_are_the_thesis_and_the_chapters():
    """The SIZES table agrees with FIGURES.md and with the chapters' thesis profiles."""
    assert {k: v["epochs"] for k, v in BENCHMARKS.items()} == {
        "simple": (35, 10, 5),
        "additive": (60, 10, 40),
        "occlusive": (50, 10, 50),
        "mnist": (20, 10, 100),
    }
    assert evidence.SIZES["ddn-simple"]["epochs"] == BENCHMARKS["simple"]["epochs"]
    for kind in ("additive", "occlusive"):
        assert evidence.SIZES[f"ddn-{kind}"]["epochs"] == BENCHMARKS[kind]["epochs"]
    for width in (2, 10):
        assert evidence.SIZES[f"asae-simple-{width}"]["code_size"] == width
        assert (
            evidence.SIZES[f"asae-simple-{width}"]["epochs"]
            == ch08_split_autoencoders.SIZES["thesis"]["epochs"]
        )
    assert evidence.SIZES["ddn-simple"]["n"] == evidence.SIZES["asae-additive"]["n"] == 25000
    assert evidence.SIZES["ppica-50"]["n"] == 5000
    assert min(s["runs"] for s in evidence.SIZES.values()) >= 3
    assert evidence.SIZES["ppica-50"]["runs"] >= 5
    ch06 = ch06_ppica.SIZES["thesis"]  # the chapters' thesis rows (lib.chapters)
    assert ch06["n_sweeps"] == 40 and ch06["n"] == 5000 and ch06_ppica.TOL == 1e-2
    ch08 = ch08_split_autoencoders.SIZES["thesis"]
    assert ch08["additive_epochs"] == evidence.SIZES["asae-additive"]["epochs"]
    assert ch08["n_pairs"] == 25000


def test_an_evidence_verdict_without_a_passing_positive_control_is_not_tested():
    run = {"final_mi": 0.01, "final_truth": 0.9, "final_disentanglement": 0.9, "final_disentangled": True}
    passing = [dict(run, final_control_score=0.8, final_testable=True, seed=s) for s in range(2)]
    failing = [dict(r, final_testable=False) for r in passing]
    s_pass, s_fail = evidence._controls(passing, "agrees"), evidence._controls(failing, "agrees")
    assert s_pass == ({"oracle_score": 0.8, "controls_testable": True}, "agrees")
    assert s_fail[1] == "not tested" and s_fail[0]["controls_testable"] is False
    assert "positive control" in evidence.NOT_TESTABLE
