"""Sweeps on a Dask cluster (lib.cluster): same results as local runs, stored by the client.

Every cluster here is real and listens on 127.0.0.1 only: a ``LocalCluster`` of two worker
processes, and a scheduler plus a worker started as separate processes (``python -m
distributed.cli.dask_scheduler`` / ``dask_worker``), killed at the end. Each test runs under an
alarm, so a cluster that stops answering fails the test instead of hanging it.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psutil
import pytest

distributed = pytest.importorskip("distributed")

from lib import cluster, experiments, run  # noqa: E402
from lib.data import load_mnist  # noqa: E402
from lib.experiments import Record, sweep  # noqa: E402
from lib.profiles import SCHEDULER_ENV  # noqa: E402
from tests.idx_files import other_mnist  # noqa: E402

ROOT = run.ROOT
TEST_LIMIT_S = 300  # no test here may take longer, whatever a cluster does
FOREIGN = "cluster_foreign_body"  # a module whose source differs between client and worker


# ----------------------------------------------------------------------------- sweep bodies
def cube(x, marker_dir, fail_on=None):
    """A sweep body (importable by workers as ``tests.test_cluster.cube``); one marker a run."""
    (Path(marker_dir) / f"{x}-{time.time_ns()}").touch()
    if x == fail_on:
        raise RuntimeError("killed halfway")
    return {"x": x, "cube": x**3, "curve": np.linspace(0, 1, x + 1) ** 2}


def mean_pixel(data_dir=None):
    """A sweep body that reads MNIST (the worker's default source when ``data_dir`` is None)."""
    return {"mean": float(load_mnist(data_dir).images.mean())}


def _foreign_source(value):
    return f"def body(tag):\n    return {{'tag': tag, 'value': {value}}}\n"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(autouse=True)
def bounded():
    """Fail (rather than hang) a test that runs past ``TEST_LIMIT_S``."""

    def expire(signum, frame):
        raise TimeoutError(f"test ran past {TEST_LIMIT_S} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_LIMIT_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    monkeypatch.setattr(run, "REFERENCE", tmp_path / "reference")
    experiments.SWEEP_LOG.clear()
    markers = tmp_path / "markers"
    markers.mkdir()
    return tmp_path


@pytest.fixture(scope="class")
def local_cluster():
    """Two single-threaded worker processes on 127.0.0.1 (they share this process's sys.path).

    Class-scoped: its workers are children of this process, which ``lib.run.main`` (run in
    process by the chapter test) ends when it finishes, so it must be gone by then.
    """
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as lc:
        yield lc.scheduler_address


def _wait_for(what, ready, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if value := ready():
            return value
        time.sleep(0.3)
    raise AssertionError(f"{what} not ready after {timeout} s")


def _workers(address):
    try:
        return cluster.probe(address, timeout=2)["n_workers"]
    except cluster.ClusterError:
        return 0


# A launcher that starts a command and exits at once: the command is then no child of this
# process, so ``lib.run.main``'s cleanup (it ends every child process) cannot touch the cluster.
_LAUNCH = (
    "import subprocess, sys; log = open(sys.argv[1], 'ab'); "
    "print(subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, "
    "stderr=subprocess.STDOUT, start_new_session=True).pid)"
)


def _launch(args, log, env, cwd):
    out = subprocess.run(
        [sys.executable, "-c", _LAUNCH, str(log), *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return psutil.Process(int(out.stdout))


def _gone(p):
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _end(processes):
    """End the given processes and all their descendants (they are not our children)."""
    tree = []
    for p in processes:
        try:
            tree += p.children(recursive=True) + [p]
        except psutil.NoSuchProcess:
            pass
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for p in tree:
            try:
                p.send_signal(sig)
            except psutil.NoSuchProcess:
                pass
        deadline = time.time() + 10
        while time.time() < deadline and not all(_gone(p) for p in tree):
            time.sleep(0.2)
        if all(_gone(p) for p in tree):
            return


@contextmanager
def _cluster_processes(base, n_workers, extra_path=()):
    """``dask scheduler`` and ``dask worker`` as processes of their own on 127.0.0.1."""
    scheduler_file = base / "scheduler.json"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), *map(str, extra_path)]))
    log = base / "cluster.log"
    started = []
    try:
        started.append(
            _launch(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--scheduler-file",
                    str(scheduler_file),
                ],
                log,
                env,
                base,
            )
        )
        _wait_for(
            "the scheduler file",
            lambda: scheduler_file.exists() and json.loads(scheduler_file.read_text() or "{}").get("address"),
        )
        address = json.loads(scheduler_file.read_text())["address"]
        started.append(
            _launch(
                [
                    sys.executable,
                    "-m",
                    "distributed.cli.dask_worker",
                    "--scheduler-file",
                    str(scheduler_file),
                    "--nthreads",
                    "1",
                    "--nworkers",
                    str(n_workers),
                    "--host",
                    "127.0.0.1",
                    "--no-dashboard",
                ],
                log,
                env,
                base,
            )
        )
        _wait_for(f"{n_workers} worker(s)", lambda: _workers(address) >= n_workers)
        yield address
    finally:
        _end(started)


@pytest.fixture(scope="module")
def separate_cluster(tmp_path_factory):
    """A scheduler and one worker started as separate processes, as on real machines.

    The worker's ``sys.path`` holds the repository (so it imports ``lib`` and ``tests``) and a
    folder with its own version of ``cluster_foreign_body``: it runs other code than this client
    for that module. Both process trees are ended at the end, whatever happened.
    """
    base = tmp_path_factory.mktemp("dask")
    worker_code = base / "worker_code"
    worker_code.mkdir()
    (worker_code / f"{FOREIGN}.py").write_text(_foreign_source(2))
    with _cluster_processes(base, 1, [worker_code]) as address:
        yield address


def _open_clients():
    return [c for c in list(distributed.Client._instances) if c.status != "closed"]


def _threads():
    """This process's threads, less two process-wide singletons made once on first use
    (distributed's offload executor and tqdm's monitor): a sweep must add none."""
    return sorted(
        t.name
        for t in threading.enumerate()
        if t.is_alive() and not t.name.startswith(("Dask-Offload", "tqdm_monitor"))
    )


def _configs(results_tmp, n=5, **extra):
    return [{"x": x, "marker_dir": str(results_tmp / "markers"), **extra} for x in range(n)]


def _markers(results_tmp):
    return len(list((results_tmp / "markers").iterdir()))


def _assert_same(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.keys() == rb.keys()
        for key in ra:
            np.testing.assert_array_equal(ra[key], rb[key])


# ----------------------------------------------------------------------------- LocalCluster
class TestOnALocalCluster:
    """Sweeps on a ``LocalCluster``: results, storage, resume, the runner's hand-over."""

    def test_a_sweep_on_a_local_cluster_equals_a_local_sweep_and_is_reused(self, results_tmp, local_cluster):
        configs = _configs(results_tmp)
        local = sweep(cube, configs, name="local", profile="smoke", n_jobs=1, progress=False)
        threads = _threads()
        on_dask = sweep(cube, configs, name="dask", profile="smoke", progress=False, scheduler=local_cluster)
        _assert_same(on_dask, local)
        log = experiments.SWEEP_LOG["dask"]
        assert (log["computed"], log["reused"], log["warnings"]) == (5, 0, [])
        assert log["code"] == experiments.SWEEP_LOG["local"]["code"] and len(log["code"]) == 1
        stored = sorted((experiments.results_dir("smoke") / "runs" / "dask").glob("*.json"))
        assert len(stored) == 5 and not list(stored[0].parent.glob(".*.tmp"))
        workers = {json.loads(p.read_text())["worker"] for p in stored}
        assert all(w.startswith("tcp://127.0.0.1:") for w in workers), workers
        assert _open_clients() == [] and _threads() == threads, "the client must be closed"

        again = sweep(cube, configs, name="dask", profile="smoke", progress=False, scheduler=local_cluster)
        _assert_same(again, local)
        assert experiments.SWEEP_LOG["dask"]["computed"] == 0
        assert experiments.SWEEP_LOG["dask"]["reused"] == 5
        assert _markers(results_tmp) == 10, "the rerun must load every run, not compute it"

    def test_seeds_batched_on_the_cluster_are_stored_one_by_one(
        self, results_tmp, local_cluster, monkeypatch
    ):
        from lib.costs import SEEDS_ENV
        from lib.experiments import SeedBatched
        from tests.sweep_bodies import seeded, seeded_batched

        configs = [dict(seed=s, scale=3.0) for s in range(5)]
        monkeypatch.setenv(SEEDS_ENV, "2")
        twin = SeedBatched(seeded_batched, "asae")
        on_dask = sweep(
            seeded, configs, name="b", profile="smoke", progress=False, scheduler=local_cluster, batched=twin
        )
        assert [int(r["made_by"]) for r in on_dask] == [2, 2, 2, 2, 1]
        for config, result in zip(configs, on_dask):
            np.testing.assert_array_equal(result["value"], seeded(**config)["value"])
        stored = [
            json.loads(p.read_text())
            for p in (experiments.results_dir("smoke") / "runs" / "b").glob("*.json")
        ]
        assert len(stored) == 5 and all(d["worker"].startswith("tcp://127.0.0.1:") for d in stored)
        assert experiments.SWEEP_LOG["b"]["warnings"] == []

    def test_a_failed_run_on_the_cluster_keeps_the_finished_ones(self, results_tmp, local_cluster):
        configs = _configs(results_tmp, n=6, fail_on=3)
        with pytest.raises(RuntimeError, match="killed halfway"):
            sweep(cube, configs, name="fail", profile="smoke", progress=False, scheduler=local_cluster)
        assert _open_clients() == []
        run_dir = experiments.results_dir("smoke") / "runs" / "fail"
        stored = len(list(run_dir.glob("*.json")))
        assert stored <= 5 and not list(run_dir.glob(".*.tmp"))
        configs[3] = dict(configs[3], fail_on=None)  # the same runs, but the failed one now passes
        sweep(cube, configs, name="fail", profile="smoke", progress=False, scheduler=local_cluster)
        log = experiments.SWEEP_LOG["fail"]
        assert (log["reused"], log["computed"]) == (stored, 6 - stored)

    def test_the_runner_passes_the_address_to_chapter_kernels(
        self, results_tmp, local_cluster, monkeypatch, capsys
    ):
        seen = []
        monkeypatch.setattr(
            run,
            "run_chapter",
            lambda name, profile, parameters, args: seen.append(os.environ.get(SCHEDULER_ENV)) or True,
        )
        assert run.main(["--profile", "smoke", "--scheduler", local_cluster, "ch07_neural_networks"]) == 0
        assert seen == [local_cluster] and SCHEDULER_ENV not in os.environ
        assert f"Dask scheduler at {local_cluster} (2 workers" in capsys.readouterr().out
        monkeypatch.setenv(SCHEDULER_ENV, local_cluster)  # the variable alone does it too
        assert run.main(["--profile", "smoke", "ch07_neural_networks"]) == 0
        assert seen[-1] == local_cluster and os.environ[SCHEDULER_ENV] == local_cluster


# ----------------------------------------------------------------------------- separate processes
def test_a_sweep_through_book_scheduler_on_separate_processes(results_tmp, separate_cluster, monkeypatch):
    configs = _configs(results_tmp, n=3)
    local = sweep(cube, configs, name="here", profile="smoke", n_jobs=1, progress=False)
    monkeypatch.setenv(SCHEDULER_ENV, separate_cluster)
    threads = _threads()
    on_dask = sweep(cube, configs, name="there", profile="smoke", progress=False)
    _assert_same(on_dask, local)
    stored = (experiments.results_dir("smoke") / "runs" / "there").glob("*.json")
    assert len({json.loads(p.read_text())["worker"] for p in stored}) == 1  # the one worker
    assert experiments.SWEEP_LOG["there"]["computed"] == 3
    _wait_for("the client's I/O thread to stop", lambda: _threads() == threads, timeout=10)
    assert _open_clients() == []


def test_a_worker_running_other_code_is_named_and_not_mixed_in_silently(
    results_tmp, separate_cluster, monkeypatch, capsys
):
    client_code = results_tmp / "client_code"
    client_code.mkdir()
    (client_code / f"{FOREIGN}.py").write_text(_foreign_source(1))
    monkeypatch.syspath_prepend(str(client_code))
    monkeypatch.delitem(sys.modules, FOREIGN, raising=False)
    body = __import__(FOREIGN).body
    configs = [{"tag": 0}, {"tag": 1}]
    results = sweep(
        body, configs, name="foreign", profile="smoke", progress=False, scheduler=separate_cluster
    )
    assert [r["value"] for r in results] == [2, 2], "the worker ran its own version"
    log = experiments.SWEEP_LOG["foreign"]
    assert len(log["code"]) == 2 and len(log["warnings"]) == 1
    assert "runs other code" in log["warnings"][0] and "tcp://127.0.0.1:" in log["warnings"][0]
    assert "runs other code" in capsys.readouterr().err
    assert Record("chX", "smoke").as_dict()["info"]["mixed_code"] == ["foreign"]
    sweep(body, configs, name="foreign", profile="smoke", progress=False, scheduler=separate_cluster)
    assert experiments.SWEEP_LOG["foreign"]["stale"] == {"code changed": 2}, (
        "a run from other code is never reused"
    )


def test_a_worker_reading_other_data_is_named(results_tmp, separate_cluster, monkeypatch):
    bundled = mean_pixel()["mean"]
    monkeypatch.setenv("MNIST_DIR", str(other_mnist(results_tmp / "other")))  # here, not there
    (result,) = sweep(
        mean_pixel, [{}], name="data", profile="smoke", progress=False, scheduler=separate_cluster
    )
    assert result["mean"] == bundled, "the worker read its own default source"
    log = experiments.SWEEP_LOG["data"]
    assert log["data"] == ["bundled"]
    assert any("read other data" in w and "bundled there" in w for w in log["warnings"])


# ----------------------------------------------------------------------------- bad addresses
def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["dead", "no port", "not a port", "unknown scheme"])
def test_a_bad_address_fails_at_once_naming_it(results_tmp, kind):
    address = {
        "dead": f"tcp://127.0.0.1:{_closed_port()}",
        "no port": "127.0.0.1",
        "not a port": "tcp://127.0.0.1:eighty",
        "unknown scheme": "htp://127.0.0.1:8786",
    }[kind]
    threads = _threads()
    start = time.time()
    with pytest.raises(cluster.ClusterError, match=re.escape(repr(address))):
        sweep(
            cube, _configs(results_tmp, n=2), name="bad", profile="smoke", progress=False, scheduler=address
        )
    assert time.time() - start < cluster.CONNECT_TIMEOUT_S + 5
    assert _markers(results_tmp) == 0 and _threads() == threads and _open_clients() == []


def test_the_runner_refuses_a_dead_scheduler_before_running_anything(results_tmp, capsys, monkeypatch):
    monkeypatch.setattr(run, "execute", lambda *a: pytest.fail("a chapter ran"))
    address = f"tcp://127.0.0.1:{_closed_port()}"
    start = time.time()
    with pytest.raises(SystemExit) as exit_info:
        run.main(["--profile", "smoke", "--scheduler", address, "ch07_neural_networks"])
    assert exit_info.value.code == 2 and time.time() - start < cluster.CONNECT_TIMEOUT_S + 5
    assert address in capsys.readouterr().err
    assert not (results_tmp / "results" / "smoke" / "ch07_neural_networks.json").exists()


# ----------------------------------------------------------------------------- a chapter
@pytest.mark.chapters
def test_a_smoke_chapter_on_dask_records_what_a_local_run_records(tmp_path, monkeypatch):
    """Chapter 7 (several runs per sweep) on a local Dask cluster and locally: same metrics.

    The cluster (a scheduler, two single-threaded workers) runs as processes of its own: the
    runner ends its own child processes when it finishes, as it must for chapter kernels.
    """
    monkeypatch.delenv(SCHEDULER_ENV, raising=False)
    chapter = "ch07_neural_networks"
    records = {}
    (tmp_path / "dask-cluster").mkdir()
    with _cluster_processes(tmp_path / "dask-cluster", 2) as address:
        for where, argv in [("dask", ["--scheduler", address]), ("local", [])]:
            monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / where))
            assert run.main(["--profile", "smoke", *argv, chapter]) == 0
            records[where] = json.loads((tmp_path / where / "smoke" / f"{chapter}.json").read_text())
    dask, local = records["dask"], records["local"]
    sweeps = dask["info"]["runs"]
    assert sweeps and all(log["computed"] == log["runs"] > 1 for log in sweeps.values())
    assert dask["info"]["mixed_code"] == [] and dask["info"]["warnings"] == []
    for name in sweeps:  # every run was computed on a Dask worker and stored by the kernel
        stored = list((tmp_path / "dask" / "smoke" / "runs" / name).glob("*.json"))
        assert stored and all(
            json.loads(p.read_text())["worker"].startswith("tcp://127.0.0.1:") for p in stored
        )
    assert dask["metrics"].keys() == local["metrics"].keys()
    reference = json.loads((ROOT / "results" / "reference" / "smoke" / f"{chapter}.json").read_text())
    tolerances = reference.get("tolerances", {})
    drift = [
        m
        for key, value in local["metrics"].items()
        if (m := run._drift(key, dask["metrics"][key], value, tolerances.get(key)))
    ]
    assert drift == [], drift
