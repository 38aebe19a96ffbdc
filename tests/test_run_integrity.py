"""Run integrity: a stored run is reused only for the same code, data and parameters.

Every test makes its own data (IDX files written here) and its own code (module files written
here); nothing reaches the network.
"""

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from lib import experiments, identity, run
from lib.data import load_mnist
from lib.experiments import sweep
from tests.idx_files import other_mnist, write_idx_folder

ROOT = run.ROOT


def _count(markers):
    return len(list(markers.iterdir()))


def mean_pixel(data_dir, marker_dir, tag=0):
    """A sweep body that reads MNIST and leaves a marker per execution."""
    (Path(marker_dir) / f"{tag}-{time.time_ns()}").touch()
    return {"mean": float(load_mnist(data_dir).images.mean())}


def no_data(marker_dir, tag=0):
    """A sweep body that reads no MNIST."""
    (Path(marker_dir) / f"{tag}-{time.time_ns()}").touch()
    return {"tag": tag}


def _module_with_body(path, constant):
    path.write_text(
        f"import time\n\ndef body(marker_dir):\n"
        f"    open(f'{{marker_dir}}/{{time.time_ns()}}', 'w').close()\n"
        f"    return {{'value': {constant}}}\n"
    )
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- code identity
def test_an_edited_run_function_recomputes_and_nothing_else_does(results_tmp):
    markers = results_tmp / "markers"
    markers.mkdir()
    module = _module_with_body(results_tmp / "body_mod.py", 1)
    go = lambda: sweep(
        module.body, [{"marker_dir": str(markers)}], name="edit", profile="smoke", n_jobs=1, progress=False
    )
    assert go()[0]["value"] == 1 and _count(markers) == 1
    assert go()[0]["value"] == 1 and _count(markers) == 1, "unchanged code must reuse the run"
    module = _module_with_body(results_tmp / "body_mod.py", 2)
    assert go()[0]["value"] == 2 and _count(markers) == 2, "edited code must recompute"
    log = experiments.SWEEP_LOG["edit"]
    assert log["computed"] == 1 and len(log["code"]) == 1


def test_code_fingerprint_follows_imports_transitively(tmp_path, monkeypatch):
    copy = tmp_path / "lib"
    shutil.copytree(identity.LIB, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(identity, "LIB", copy)
    closure = identity.module_closure(["lib.asae_runs"])
    assert {"lib.asae_runs", "lib.training", "lib.nets", "lib.mi"} <= set(closure)
    assert "lib.rbm" not in closure
    before = identity.code_fingerprint(["lib.asae_runs"])
    with open(copy / "rbm.py", "a") as f:
        f.write("\nEDIT_OUTSIDE_THE_CLOSURE = 1\n")
    assert identity.code_fingerprint(["lib.asae_runs"]) == before
    with open(copy / "mi.py", "a") as f:  # asae_runs -> metrics -> mi
        f.write("\nEDIT_TWO_IMPORTS_DOWN = 1\n")
    assert identity.code_fingerprint(["lib.asae_runs"]) != before


def test_code_fingerprint_ignores_layout_comments_and_docstrings_only():
    plain = "def f(x):\n    return x + 1\n"
    same = [
        'def f( x ):\n    """Add one."""\n    # a comment\n    return (x +\n            1)\n',
        '"""A module docstring."""\n\n\ndef f(x):\n    return x + 1  # trailing comment\n',
    ]
    other = [
        "def f(x):\n    return x + 2\n",
        "def f(y):\n    return y + 1\n",
        'def f(x):\n    "Add one."\n    return x + 1\n    "an expression that is not first"\n',
    ]
    ref = identity.normalised_code(plain)
    assert all(identity.normalised_code(s) == ref for s in same)
    assert all(identity.normalised_code(s) != ref for s in other)


def test_chapter_fingerprint_covers_its_imports():
    chapter = ROOT / "book" / "ch08_split_autoencoders.md"
    direct = identity.chapter_modules(chapter)
    assert "lib.chapters.ch08_split_autoencoders" in direct
    assert "lib.training" in identity.module_closure(direct)  # through the chapter's module
    assert len(identity.chapter_fingerprint(chapter)) == identity.SHORT


def test_a_notebook_function_cannot_be_fingerprinted():
    namespace = {}
    exec("def f():\n    return {}\n", namespace)
    with pytest.raises(ValueError, match="no source file"):
        identity.function_fingerprint(namespace["f"])


# ----------------------------------------------------------------------------- data identity
def _digits(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n)


def test_another_data_folder_or_an_edited_file_recomputes(results_tmp, monkeypatch):
    markers = results_tmp / "markers"
    markers.mkdir()
    a = write_idx_folder(results_tmp / "a", *_digits(30, 0))
    b = write_idx_folder(results_tmp / "b", *_digits(30, 1))
    configs = [
        {"data_dir": None, "marker_dir": str(markers)},
        {"data_dir": str(a), "marker_dir": str(markers), "tag": 1},
    ]
    quiet = [{"marker_dir": str(markers), "tag": 2}]
    go = lambda: (
        sweep(mean_pixel, configs, name="data", profile="smoke", n_jobs=1, progress=False),
        sweep(no_data, quiet, name="quiet", profile="smoke", n_jobs=1, progress=False),
    )
    bundled = go()[0][0]["mean"]
    assert _count(markers) == 3
    go()
    assert _count(markers) == 3, "same code and data: every run is reused"
    monkeypatch.setenv("MNIST_DIR", str(b))
    (from_b, _), _ = go()
    assert from_b["mean"] != bundled and _count(markers) == 4, (
        "only the run reading the default source recomputes under another $MNIST_DIR"
    )
    assert experiments.SWEEP_LOG["data"]["data"] == sorted([str(a), str(b)])
    images, labels = _digits(30, 2)
    write_idx_folder(a, images, labels)  # same folder, new content
    go()
    assert _count(markers) == 5 and experiments.SWEEP_LOG["quiet"]["reused"] == 1
    assert experiments.SWEEP_LOG["data"]["stale"] == {"data changed": 1}


def test_data_identity_names_the_source_and_hashes_each_file(tmp_path):
    folder = write_idx_folder(tmp_path / "m", *_digits(10, 0))
    ident = identity.data_identity(str(folder))
    assert ident["source"] == str(folder) and len(ident["sha256"]) == 4
    assert identity.data_identity(None)["source"] == "bundled"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        identity.data_identity(str(tmp_path / "nowhere"))


# ----------------------------------------------------------------------------- corrupt runs
@pytest.mark.parametrize("damage", ["truncated json", "bad npz"])
def test_a_corrupt_stored_run_is_named_moved_aside_and_recomputed(results_tmp, capsys, damage):
    markers = results_tmp / "markers"
    markers.mkdir()
    body = lambda: sweep(
        mean_pixel,
        [{"data_dir": None, "marker_dir": str(markers)}],
        name="c",
        profile="smoke",
        n_jobs=1,
        progress=False,
    )
    first = body()
    (stored,) = (experiments.results_dir("smoke") / "runs" / "c").glob("*.json")
    if damage == "truncated json":
        stored.write_text(stored.read_text()[:25])
    else:  # a run with arrays: give it one, then break the archive
        doc = json.loads(stored.read_text())
        doc["arrays"] = ["x"]
        stored.write_text(json.dumps(doc))
        stored.with_suffix(".npz").write_bytes(b"PK\x03\x04 not a zip")
    again = body()
    err = capsys.readouterr().err
    assert str(stored) in err and "moved aside" in err
    assert stored.with_name(stored.name + ".corrupt").exists()
    assert again == first and _count(markers) == 2
    assert str(stored) in experiments.SWEEP_LOG["c"]["warnings"][0]


# ----------------------------------------------------------------------------- the runner
def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(argv)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_runner_refuses_what_it_cannot_honour(capsys):
    err = _usage_error(["--profile", "smoke", "ch01_introduction", "-p", "data_dri=/x"], capsys)
    assert "data_dri" in err and "data_dir" in err and "seed" in err
    assert "--profile" in _usage_error(["ch01_introduction", "-p", "profile=book"], capsys)
    assert "ch99" in _usage_error(["--profile", "smoke", "--no-execute", "ch01_introduction", "ch99"], capsys)
    assert "empty" in _usage_error(["--profile", "", "ch01_introduction"], capsys)
    assert "valid profiles" in _usage_error(["--profile", "huge"], capsys)
    assert "int" in _usage_error(["ch01_introduction", "-p", "seed=three"], capsys)


def test_parameters_are_typed_by_the_parameters_cell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    got = run.parse_parameters(["seed=3", "data_dir=2024"], ["ch01_introduction", "ch08_split_autoencoders"])
    assert got == {"seed": 3, "data_dir": str(tmp_path / "2024")}
    assert run.parse_parameters(["data_dir=null"], ["ch01_introduction"]) == {"data_dir": None}
    assert run.chapter_parameters("ch01_introduction") == {"profile": None, "seed": 0, "data_dir": None}


def _descendants_when_loky_runs(process, timeout=120):
    """The runner's process tree once a worker pool is up (the kernel's joblib workers)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        tree = process.children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in tree if p.is_running())
        if "loky" in names or "joblib" in names:
            return tree
        time.sleep(0.5)
    raise AssertionError("the chapter never started its worker pool")


@pytest.mark.chapters
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_every_worker_and_a_rerun_resumes(results_tmp, sig):
    env = dict(os.environ, BOOK_RESULTS_DIR=str(results_tmp / "results"))
    args = [sys.executable, "-m", "lib.run", "--profile", "smoke", "ch07_neural_networks"]
    process = psutil.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tree = _descendants_when_loky_runs(process)
    process.send_signal(sig)
    assert process.wait(timeout=60) != 0
    time.sleep(1)
    alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left behind: {[' '.join(p.cmdline())[:80] for p in alive]}"
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((results_tmp / "results" / "smoke" / "ch07_neural_networks.json").read_text())
    assert sum(log["runs"] for log in record["info"]["runs"].values()) > 0


# ----------------------------------------------------------------------------- regression check
def test_tolerances_come_from_the_measured_difference():
    one = {"metrics": {"same": 0.5, "moved": 1.0, "list": [1.0, 2.0], "word": "a", "nan": "nan"}}
    two = {"metrics": {"same": 0.5, "moved": 1.01, "list": [1.0, 2.1], "word": "b", "nan": "nan"}}
    tolerances, unstable = run.measured_tolerances(one, two)
    assert tolerances == pytest.approx({"moved": 0.04, "list": 0.4})
    assert unstable == ["word"]


@pytest.mark.chapters
def test_calibrate_compares_a_fresh_run_with_one_on_its_stored_runs(results_tmp, capsys):
    """``--calibrate``: the 1-thread run computes every sweep run afresh in a temporary folder; the
    2-thread run reuses those runs in this checkout and leaves them (and its record) there."""
    assert run.main(["--profile", "smoke", "--calibrate", "ch07_neural_networks"]) == 0
    assert "ok (calibrated)" in capsys.readouterr().out
    reference = json.loads((results_tmp / "reference" / "smoke" / "ch07_neural_networks.json").read_text())
    assert reference["calibration"]["threads"] == [1, 2] and "info" not in reference
    record = json.loads((results_tmp / "results" / "smoke" / "ch07_neural_networks.json").read_text())
    sweeps = record["info"]["runs"].values()
    assert sum(log["runs"] for log in sweeps) > 0
    assert all(log["computed"] == 0 and log["reused"] == log["runs"] for log in sweeps)
    assert record["metrics"] == reference["metrics"]


@pytest.mark.chapters
def test_a_smoke_record_on_other_data_fails_check(results_tmp, capsys, monkeypatch):
    """Chapter 1 on another MNIST (written here) must fail ``--check`` against the reference."""
    monkeypatch.setattr(run, "REFERENCE", ROOT / "results" / "reference")  # measured tolerances
    folder = other_mnist(results_tmp / "other")
    code = run.main(["--profile", "smoke", "--check", "ch01_introduction", "-p", f"data_dir={folder}"])
    out = capsys.readouterr().out
    assert code == 1 and "DRIFTED" in out, out
    record = json.loads((results_tmp / "results" / "smoke" / "ch01_introduction.json").read_text())
    assert record["info"]["data_source"] == str(folder)


@pytest.mark.chapters
def test_a_chapter_recomputes_its_runs_under_another_mnist_dir(results_tmp, monkeypatch):
    """Chapter 7 on the bundled digits, then with ``$MNIST_DIR``: no run is reused."""
    assert run.main(["--profile", "smoke", "ch07_neural_networks"]) == 0
    path = results_tmp / "results" / "smoke" / "ch07_neural_networks.json"
    first = json.loads(path.read_text())["info"]
    assert first["data_source"] == "bundled"
    monkeypatch.setenv("MNIST_DIR", str(other_mnist(results_tmp / "other")))
    assert run.main(["--profile", "smoke", "ch07_neural_networks"]) == 0
    second = json.loads(path.read_text())["info"]
    assert second["data_source"] == os.environ["MNIST_DIR"]
    assert all(log["reused"] == 0 and log["computed"] > 0 for log in second["runs"].values())
    assert second["data_fingerprint"] != first["data_fingerprint"]


def test_the_runner_leaves_its_callers_processes_alone(results_tmp):
    """Called from Python, ``main`` ends only the processes it started itself."""
    sleeper = psutil.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.main(["--profile", "smoke", "--no-execute", "ch01_introduction"])
        assert sleeper.is_running() and sleeper.status() != psutil.STATUS_ZOMBIE
    finally:
        sleeper.kill()


def test_chapter_modules_skip_a_cells_yaml_options(tmp_path):
    chapter = tmp_path / "ch99_x.md"
    chapter.write_text(
        "# T\n\n```{code-cell} ipython3\n---\ntags: [hide-input]\nmystnb:\n  figure:\n"
        "    name: fig-1-1\n---\nfrom lib.plots import save_figure\n```\n"
    )
    assert identity.chapter_modules(chapter) == ["lib.plots"]


SLOW_IMPORTS = ("torch", "jupytext", "papermill", "sklearn", "matplotlib")


@pytest.mark.parametrize(
    "argv, code, says",
    [
        (["--help"], 0, "usage: python -m lib.run"),
        (["--bogus"], 2, "unrecognized arguments: --bogus"),
        (["--profile", "huge"], 2, "unknown profile 'huge'"),
        (["--profile", "smoke", "ch99"], 2, "unknown chapter 'ch99'"),
    ],
)
def test_help_and_usage_errors_answer_before_the_slow_imports(argv, code, says):
    """``--help`` and usage errors took 11-16 s (issue 23): they must not import torch & co."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "lib.run", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == code, done.stderr[-2000:]
    assert says in done.stdout + done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert not imported & set(SLOW_IMPORTS), sorted(imported & set(SLOW_IMPORTS))
