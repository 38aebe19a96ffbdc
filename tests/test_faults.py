"""Failure paths (issue 24): a failed page is never kept, a record never comes from other data,
nothing is left running, a bad stored run or parameter is caught before it is used.

One section per defect of the issue, in its order. The slow cases (a book build, a chapter
interrupted, a Dask cluster, JupyterLab) are marked ``chapters``.
"""

import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from lib import experiments, lab, processes, profiles, run, summary
from lib.experiments import Record, sweep
from tests.test_book_stamps import CONFIG, TOC  # the same one-page book
from tests.test_run_integrity import _descendants_when_loky_runs

ROOT = run.ROOT


# ------------------------------------------------------------------ 1. a failed page is not kept
CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Probe

```{code-cell} ipython3
import os
import uuid

import lib.identity

print("EXECUTION", uuid.uuid4().hex)
```

```{code-cell} ipython3
probe_fails = os.environ.get("PROBE_FAILS") == "1"
assert not probe_fails, "the probe was told to fail"
```
"""


def _book(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(ROOT / "lib", book / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text(TOC)
    (book / "intro.md").write_text("# Intro\n")
    (book / "ch01_probe.md").write_text(CHAPTER)
    return book


def _jupyter_book(book, **env):
    env = {**os.environ, "PYTHONPATH": str(book), "BOOK_PROFILE": "smoke", **env}
    return subprocess.run(
        [shutil.which("jupyter-book"), "build", str(book)],
        cwd=book,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _execution(book):
    html = (book / "_build" / "html" / "ch01_probe.html").read_text()
    return re.search(r"EXECUTION ([0-9a-f]{32})", html).group(1)


@pytest.mark.chapters
def test_a_failed_page_fails_the_build_and_is_executed_again(tmp_path):
    book = _book(tmp_path)
    failed = _jupyter_book(book, PROBE_FAILS="1")
    out = failed.stdout + failed.stderr
    assert failed.returncode != 0, out[-3000:]
    assert "ch01_probe: execution failed in the cell starting 'probe_fails" in out, out[-3000:]
    first = _execution(book)
    fixed = _jupyter_book(book)
    assert fixed.returncode == 0, (fixed.stdout + fixed.stderr)[-3000:]
    assert _execution(book) != first, "the failed page must be executed again, not kept"
    assert _jupyter_book(book).returncode == 0 and _execution(book) == _execution(book)


def test_the_failing_cell_is_named_from_the_traceback():
    from lib.book_stamps import _failed_cell

    traceback = (
        "An error occurred while executing the following cell:\n------------------\n"
        "x = 1\nraise ValueError('no')\n------------------\n\n"
        "Traceback (most recent call last):\n...\nValueError: no\n"
    )
    assert _failed_cell(traceback) == ("x = 1", "ValueError: no")


# ------------------------------------------------------------------ 2. records carry their identity
def _record(chapter="ch01_introduction", seed=0, value=1.0, **identity):
    rec = Record(chapter, "smoke", seed=seed)
    rec.metric("m", value)
    path = rec.save()
    doc = json.loads(path.read_text())
    doc["identity"].update(identity)
    path.write_text(json.dumps(doc))
    return doc


def test_a_record_names_its_identity_and_takes_the_notebooks_seed(results_tmp):
    seed = 7  # noqa: F841 - what a chapter's parameters cell sets; Record reads it
    rec = Record("ch01_introduction", "smoke")
    ident = rec.as_dict()["identity"]
    assert ident["seed"] == 7 and ident["profile"] == "smoke"
    assert ident["code"] == rec.provenance["code_fingerprint"]
    assert ident["data"] == rec.provenance["data_fingerprint"]


def test_no_execute_refuses_a_record_from_other_code_or_seed(results_tmp, capsys):
    _record(code="0123456789ab")
    assert run.main(["--profile", "smoke", "--no-execute", "ch01_introduction"]) == 1
    out = capsys.readouterr().out
    assert "STALE" in out and "different code" in out and "without --no-execute" in out
    _record(seed=3)
    assert run.main(["--profile", "smoke", "--no-execute", "ch01_introduction"]) == 1
    assert "different seed" in capsys.readouterr().out
    _record()
    assert run.main(["--profile", "smoke", "--no-execute", "ch01_introduction"]) == 0


def test_check_names_other_data_before_any_drift_and_references_keep_identity(results_tmp, capsys):
    _record(value=1.0)
    run.update_reference("ch01_introduction", "smoke")
    ref_path = run.REFERENCE / "smoke" / "ch01_introduction.json"
    ref = json.loads(ref_path.read_text())
    assert ref["identity"]["seed"] == 0 and "info" not in ref
    ref["identity"]["data"] = "fedcba987654"
    ref_path.write_text(json.dumps(ref))
    _record(value=2.0)
    assert run.main(["--profile", "smoke", "--no-execute", "--check", "ch01_introduction"]) == 1
    lines = [line.strip() for line in capsys.readouterr().out.splitlines()]
    data = next(i for i, line in enumerate(lines) if line.startswith("different data"))
    drift = next(i for i, line in enumerate(lines) if line.startswith("m:"))
    assert data < drift


def test_a_reference_without_identity_is_said_and_tolerated(results_tmp, capsys):
    _record()
    run.update_reference("ch01_introduction", "smoke")
    ref_path = run.REFERENCE / "smoke" / "ch01_introduction.json"
    ref = json.loads(ref_path.read_text())
    del ref["identity"]
    ref_path.write_text(json.dumps(ref))
    assert run.main(["--profile", "smoke", "--no-execute", "--check", "ch01_introduction"]) == 0
    assert "reference has no identity" in capsys.readouterr().out


def test_chapter_10_refuses_a_record_from_other_code(results_tmp):
    _record("ch03_broadnet")
    _record("ch01_introduction", code="0123456789ab")
    chapters = ["ch01_introduction", "ch03_broadnet"]
    assert list(summary.collect_records("smoke", chapters)) == ["ch03_broadnet"]
    assert "different code" in summary.stale_records("smoke", chapters)["ch01_introduction"][0]
    assert summary.missing_records("smoke", chapters) == ["ch01_introduction"]


# ------------------------------------------------------------------ 3. one stored name per sweep
def test_no_two_sweeps_of_a_chapter_share_a_stored_name(results_tmp):
    from lib.planning import chapter_plan

    for chapter in profiles.toc_chapters():
        plan = chapter_plan(chapter, "smoke")
        if plan:
            names = [e.name for e in plan.values()]
            assert len(names) == len(set(names)), f"{chapter}: sweeps share a name: {names}"


# ------------------------------------------------------------------ 4. SIGHUP stops everything
def test_the_runner_handles_sighup_like_sigterm():
    interrupt = processes.Interrupt(keep=set())
    restore = interrupt.install()
    try:
        assert all(signal.getsignal(s) is interrupt for s in (signal.SIGHUP, signal.SIGTERM))
    finally:
        restore()


@pytest.mark.chapters
def test_sighup_stops_every_worker(results_tmp):
    env = dict(os.environ, BOOK_RESULTS_DIR=str(results_tmp / "results"))
    args = [sys.executable, "-m", "lib.run", "--profile", "smoke", "ch07_neural_networks"]
    process = psutil.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    tree = _descendants_when_loky_runs(process)
    process.send_signal(signal.SIGHUP)
    assert process.wait(timeout=60) != 0
    time.sleep(1)
    alive = [p for p in tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert alive == [], f"left behind: {[' '.join(p.cmdline())[:80] for p in alive]}"


# ------------------------------------------------------------------ 5. the lab launcher's child
def test_lab_help_explains_the_projects_options_first(capsys):
    assert lab.main(["--help"]) == 0
    text = capsys.readouterr().out
    assert text.index("Jupytext Notebook") < text.index("Any `jupyter lab` option works")


@pytest.mark.chapters
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_the_lab_launcher_stops_jupyterlab(tmp_path, sig):
    from tests.test_lab import _free_port, _get

    port = _free_port()
    args = ["--no-browser", f"--port={port}", "--IdentityProvider.token=", "--ServerApp.ip=127.0.0.1"]
    log = open(tmp_path / "lab.log", "w")
    launcher = psutil.Popen([sys.executable, "-m", "lib.lab", *args], stdout=log, stderr=log)
    try:
        _get(f"http://127.0.0.1:{port}/api/status")
        tree = launcher.children(recursive=True)
        assert tree, "the launcher started no JupyterLab"
        launcher.send_signal(sig)
        launcher.wait(timeout=60)
        gone, alive = psutil.wait_procs(tree, timeout=30)
        assert alive == [], f"left behind after {sig.name}: {[p.pid for p in alive]}"
    finally:
        for p in [launcher, *launcher.children(recursive=True)] if launcher.is_running() else []:
            p.kill()


# ------------------------------------------------------------------ 6. NaN and infinities
@pytest.mark.parametrize("ref", [math.nan, math.inf, -math.inf])
def test_check_treats_nan_and_infinity_as_equal_only_to_themselves(ref):
    assert run._drift("m", ref, ref, None) is None
    assert run._drift("m", 0.5, ref, 1e9) is not None
    assert run._drift("m", [1.0, 0.5], [1.0, ref], 1e9) is not None
    assert run._drift("m", "nan", "nan", None) is None


def test_list_metrics_are_json_safe(results_tmp):
    rec = Record("ch01_introduction", "smoke")
    rec.metric("curve", [1.0, float("nan"), np.float32("inf"), [-np.inf]])
    text = rec.save().read_text()
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text)["metrics"]["curve"] == [1.0, "nan", "inf", ["-inf"]]


# ------------------------------------------------------------------ 7. stored runs have a schema
def scored(tag, marker_dir):
    """A sweep body: a score and an array; one marker file per execution."""
    (Path(marker_dir) / f"{tag}-{time.time_ns()}").touch()
    return {"final_disentanglement": 0.25 * tag, "curve": np.arange(tag + 2, dtype=float)}


def _damage_type(doc, npz):
    doc["result"]["final_disentanglement"] = "oops"


def _damage_missing_array(doc, npz):
    npz.unlink()


def _damage_shape(doc, npz):
    np.savez(npz, curve=np.zeros((2, 2)))


def _damage_key(doc, npz):
    del doc["result"]["final_disentanglement"]


@pytest.mark.parametrize("damage", [_damage_type, _damage_missing_array, _damage_shape, _damage_key])
def test_a_stored_run_that_breaks_its_schema_is_named_moved_aside_and_recomputed(results_tmp, capsys, damage):
    markers = results_tmp / "markers"
    markers.mkdir()
    body = lambda: sweep(
        scored, [{"tag": 1, "marker_dir": str(markers)}], name="s", profile="smoke", n_jobs=1
    )
    first = body()
    (stored,) = (experiments.results_dir("smoke") / "runs" / "s").glob("*.json")
    doc = json.loads(stored.read_text())
    damage(doc, stored.with_suffix(".npz"))
    stored.write_text(json.dumps(doc))
    again = body()
    assert str(stored) in capsys.readouterr().err
    assert stored.with_name(stored.name + ".corrupt").exists()
    assert len(list(markers.iterdir())) == 2
    assert again[0]["final_disentanglement"] == first[0]["final_disentanglement"]
    assert np.array_equal(again[0]["curve"], first[0]["curve"])
    assert str(stored) in experiments.SWEEP_LOG["s"]["warnings"][0]


# ------------------------------------------------------------------ 8. runs name inputs by run key
def _chapter4_reference(profile):
    import lib.chapters.ch04_understanding_broadnets as c4
    from lib.rbm_exact import save_params

    size = c4.sizes(profile)
    _, A, B, _, _ = c4.composite_data(size["n_images"], 0)
    p_ref = c4.grbm_initialised(A, B, 5, 1.0, size["reference_phases"], k=1, random_state=0)
    save_params(p_ref, c4.reference_path(profile))
    return c4


def test_retraining_runs_name_their_reference_by_run_key(results_tmp, monkeypatch):
    c4 = _chapter4_reference("smoke")
    config = c4.plan("smoke")["ch04_configurations"].configs[0]
    assert set(config["reference"]) == {experiments.STORED_RUN}
    assert str(results_tmp) not in json.dumps(config), "a run names no path"
    moved = results_tmp / "moved"
    shutil.copytree(results_tmp / "results", moved)
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(moved))
    assert c4.plan("smoke")["ch04_configurations"].configs[0] == config


@pytest.mark.chapters
def test_chapter_4_retraining_runs_on_workers_with_their_own_folders(results_tmp):
    distributed = pytest.importorskip("distributed")
    c4 = _chapter4_reference("smoke")
    exp = c4.plan("smoke")["ch04_configurations"]
    configs = exp.configs[:2]
    c4.reference_path("smoke").unlink()  # no worker could read the client's file: none needs it
    own = {"BOOK_RESULTS_DIR": str(results_tmp / "worker-results"), "TMPDIR": str(results_tmp)}
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        env=own,
    ) as cluster:
        on_cluster = sweep(
            exp.fn, configs, name=exp.name, profile="smoke", scheduler=cluster.scheduler_address
        )
    assert not (results_tmp / "worker-results" / "smoke").exists() or not any(
        (results_tmp / "worker-results" / "smoke").rglob("*.json")
    )
    experiments.SWEEP_LOG.clear()
    reused = sweep(exp.fn, configs, name=exp.name, profile="smoke", n_jobs=1)
    assert experiments.SWEEP_LOG[exp.name]["reused"] == 2
    assert all(np.array_equal(a["history"], b["history"]) for a, b in zip(reused, on_cluster))


# ------------------------------------------------------------------ 9. bad parameters, one line
def _refused(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_bad_parameters_are_refused_before_any_kernel_starts(results_tmp, capsys, tmp_path):
    chapter = ["--profile", "smoke", "ch01_introduction"]
    assert "does not exist" in _refused([*chapter, "-p", "data_dir=/nonexistent"], capsys)
    (tmp_path / "empty").mkdir()
    assert "none of the four IDX files" in _refused(
        [*chapter, "-p", f"data_dir={tmp_path / 'empty'}"], capsys
    )
    assert "non-negative integer" in _refused([*chapter, "-p", "seed=-1"], capsys)
    assert "data_dir is empty" in _refused([*chapter, "-p", "data_dir="], capsys)
    err = _refused(["--profile", "thesis", "ch01_introduction"], capsys)
    assert "full MNIST" in err and "lib.data fetch" in err


def test_a_book_build_with_a_bad_profile_stops_in_one_line(tmp_path):
    done = _jupyter_book(_book(tmp_path), BOOK_PROFILE="fast")
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "unknown profile 'fast'" in done.stderr and "Traceback" not in done.stderr


def test_a_failed_fetch_leaves_no_empty_folder(tmp_path):
    from lib.fetch import FetchError, fetch_idx

    target = tmp_path / "new" / "mnist"
    with pytest.raises(FetchError):
        fetch_idx("mnist", target, mirrors=["http://127.0.0.1:9/"], timeout=2, log=lambda line: None)
    assert not (tmp_path / "new").exists()
