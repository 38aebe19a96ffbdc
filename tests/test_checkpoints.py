"""Per-epoch checkpoints: a run killed after epoch k and rerun gives exactly the uninterrupted
result (lib.training.train / lib.asae_runs.run_asae, lib.ddn_runs.run_ddn, and through
lib.experiments.sweep)."""

import numpy as np
import pytest
import torch

import lib.asae_runs as asae_runs
import lib.training as training
from lib.asae_runs import run_asae
from lib.autoencoders import ASAE
from lib.checkpoints import Checkpoint
from lib.ddn import DDNTrainer
from lib.ddn_runs import run_ddn
from lib.experiments import config_key, results_dir, sweep
from lib.training import TrainConfig, as_tensor, train


class Crash(Exception):
    """The injected failure."""


def crash_on_call(fn, n):
    """``fn`` that raises Crash on its ``n``-th call (1-based) and works otherwise."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise Crash(f"injected failure at call {n}")
        return fn(*args, **kwargs)

    return wrapped


def assert_same_result(a, b, skip=("cpu_s",)):
    assert set(a) == set(b)
    for key in a:
        if key in skip:
            continue
        va, vb = a[key], b[key]
        if isinstance(va, np.ndarray) or isinstance(vb, np.ndarray):
            np.testing.assert_array_equal(np.asarray(va), np.asarray(vb), err_msg=key)
        elif isinstance(va, float) and np.isnan(va):
            assert np.isnan(vb), key
        else:
            assert va == vb, key


def test_train_resumes_exactly_with_noise_and_dropout(tmp_path):
    """Weights, history and optimiser end identical after a crash in epoch 3 and a rerun."""
    x = as_tensor(np.random.default_rng(0).uniform(size=(150, 12)))
    config = TrainConfig(epochs=5, batch_size=32, noise_std=0.1, seed=3)
    hook = lambda m: float(training.evaluate(m, x)["y"].mean())

    def run(on_epoch, checkpoint=None):
        torch.manual_seed(1)
        model = ASAE(12, 2, n_hidden=8, dropout=0.3)
        return model, train(model, x, config, on_epoch, checkpoint=checkpoint)

    plain_model, plain_hist = run(hook)
    path = tmp_path / "run.ckpt"
    with pytest.raises(Crash):
        run(crash_on_call(hook, 4), Checkpoint(path, tag="t"))  # call 4 = after epoch 3
    saved = torch.load(path, weights_only=True)
    assert saved["state"]["epoch"] == 2 and len(saved["state"]["history"]) == 3
    model, hist = run(hook, Checkpoint(path, tag="t"))
    assert hist == plain_hist and not path.exists()
    for (k, a), (_, b) in zip(plain_model.state_dict().items(), model.state_dict().items()):
        assert torch.equal(a, b), k


def test_a_checkpoint_of_another_run_is_ignored(tmp_path):
    x = as_tensor(np.random.default_rng(0).uniform(size=(64, 6)))
    config = TrainConfig(epochs=3, batch_size=16, seed=0)
    hook = lambda m: float(training.evaluate(m, x)["y"].mean())
    torch.manual_seed(0)
    with pytest.raises(Crash):
        train(ASAE(6, 1, n_hidden=4), x, config, crash_on_call(hook, 3), Checkpoint(tmp_path / "c", "old"))
    torch.manual_seed(0)
    fresh = train(ASAE(6, 1, n_hidden=4), x, config, hook)
    torch.manual_seed(0)
    assert train(ASAE(6, 1, n_hidden=4), x, config, hook, Checkpoint(tmp_path / "c", "new")) == fresh
    (tmp_path / "bad").write_bytes(b"not a checkpoint")
    torch.manual_seed(0)
    assert train(ASAE(6, 1, n_hidden=4), x, config, hook, tmp_path / "bad") == fresh


ASAE_RUN = dict(
    kind="simple", n=160, code_size=2, epochs=3, n_eval=80, noise_std=0.1, dropout=0.2, batch_size=64
)


def test_run_asae_resumes_exactly(tmp_path, monkeypatch):
    plain = run_asae(**ASAE_RUN)
    path = tmp_path / "asae.ckpt"
    real = asae_runs.asae_epoch_scores
    monkeypatch.setattr(asae_runs, "asae_epoch_scores", crash_on_call(real, 3))
    with pytest.raises(Crash):
        run_asae(**ASAE_RUN, checkpoint=Checkpoint(path, "x"))
    spent = torch.load(path, weights_only=True)["cpu_s"]
    assert spent > 0
    monkeypatch.setattr(asae_runs, "asae_epoch_scores", real)
    resumed = run_asae(**ASAE_RUN, checkpoint=Checkpoint(path, "x"))
    assert_same_result(plain, resumed)
    assert resumed["cpu_s"] > spent  # the CPU of the interrupted attempt is counted
    assert not path.exists()


DDN_RUN = dict(kind="simple", n=160, epochs=[3, 2, 2], hidden=16, n_score=80, n_show=3, batch_size=32)


@pytest.fixture(scope="module")
def ddn_plain():
    return run_ddn(**DDN_RUN)


@pytest.mark.parametrize("crash_at", [2, 4, 5, 7])  # in stage 1, in stage 2, first stage-3 epoch, last
def test_run_ddn_resumes_exactly(tmp_path, monkeypatch, ddn_plain, crash_at):
    path = tmp_path / "ddn.ckpt"
    real = DDNTrainer.batches  # drawn once per epoch
    monkeypatch.setattr(DDNTrainer, "batches", crash_on_call(real, crash_at))
    with pytest.raises(Crash):
        run_ddn(**DDN_RUN, checkpoint=Checkpoint(path, "x"))
    saved = torch.load(path, weights_only=True)
    assert saved["state"]["epoch"] == crash_at - 1
    monkeypatch.setattr(DDNTrainer, "batches", real)
    resumed = run_ddn(**DDN_RUN, checkpoint=Checkpoint(path, "x"))
    assert_same_result(ddn_plain, resumed)
    assert not path.exists()


def takes_checkpoint(a, checkpoint=None):
    return {"a": a, "path": str(checkpoint.path), "tag": checkpoint.tag}


def takes_none(a):
    return {"a": a}


def test_sweep_passes_a_checkpoint_outside_the_config(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))
    (out,) = sweep(takes_checkpoint, [dict(a=1)], name="ck", profile="smoke", n_jobs=1, progress=False)
    key = config_key({"fn": f"{takes_checkpoint.__module__}.takes_checkpoint", "a": 1})
    run_dir = results_dir("smoke") / "runs" / "ck"
    assert out["path"] == str(run_dir / f"{key}.ckpt") and out["tag"]
    assert (run_dir / f"{key}.json").exists()
    assert sweep(takes_none, [dict(a=2)], name="ck2", profile="smoke", n_jobs=1, progress=False) == [{"a": 2}]


def test_a_killed_sweep_run_resumes_inside_the_run(tmp_path, monkeypatch):
    """The sweep's own checkpoint: the rerun continues the interrupted run and matches a clean one."""
    config = dict(ASAE_RUN, epochs=3)
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "clean"))
    (clean,) = sweep(run_asae, [config], name="asae", profile="smoke", n_jobs=1, progress=False)
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path / "killed"))
    real = asae_runs.asae_epoch_scores
    monkeypatch.setattr(asae_runs, "asae_epoch_scores", crash_on_call(real, 3))
    with pytest.raises(Crash):
        sweep(run_asae, [config], name="asae", profile="smoke", n_jobs=1, progress=False)
    ckpts = list((tmp_path / "killed").rglob("*.ckpt"))
    assert len(ckpts) == 1
    calls = {"n": 0}

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(asae_runs, "asae_epoch_scores", counting)
    (resumed,) = sweep(run_asae, [config], name="asae", profile="smoke", n_jobs=1, progress=False)
    assert calls["n"] == 2  # epochs 2 and 3 only: epoch 0 and 1 came from the checkpoint
    assert_same_result(clean, resumed)
    assert not ckpts[0].exists()


def threads_after_an_mi_estimate():
    from lib.mi import ksg_mi

    a = torch.rand(300, 300)
    float((a @ a).sum())  # torch's OpenMP pool is running before numba's starts
    r = np.random.default_rng(0).normal(size=(1000, 10))
    ksg_mi(r[:, :5], r[:, 5:], random_state=0)
    return {"torch_threads": torch.get_num_threads()}


def test_a_sweep_run_keeps_one_torch_thread_after_an_mi_estimate():
    """numba's OpenMP thread count must not leak into torch (a resumed run would differ)."""
    from lib.experiments import compute_run

    before = torch.get_num_threads()
    try:
        result, _ = compute_run(threads_after_an_mi_estimate, {})
        assert result == {"torch_threads": 1}
    finally:
        torch.set_num_threads(before)
