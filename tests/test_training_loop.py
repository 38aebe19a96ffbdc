"""The one training loop (lib.training.fit_epochs): a run killed after epoch k resumes from its
checkpoint and ends exactly as an uninterrupted run (ASAE, and the DDN on the code path the
`thesis` profile runs); the progress bar is silent when disabled."""

import io

import numpy as np
import pytest
import torch

from lib.autoencoders import ASAE
from lib.chapters.ch09_ddn import VARIANTS
from lib.checkpoints import Checkpoint
from lib.ddn import DDNConfig, DDNTrainer
from lib.ddn_runs import BENCHMARKS
from lib.training import TrainConfig, as_tensor, evaluate, fit_epochs, progress_enabled, train


class Killed(Exception):
    """The injected kill."""


def kill_after(fn, k):
    """``fn`` that raises Killed once it has been called ``k`` times (the (k+1)-th call)."""
    calls = {"n": 0}

    def wrapped(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > k:
            raise Killed(f"killed after call {k}")
        return fn(*args, **kwargs)

    return wrapped


def same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for key in sa:
        assert torch.equal(sa[key], sb[key]), key


# ----------------------------------------------------------------------------- resume
@pytest.mark.parametrize("killed_after", [1, 3])
def test_asae_killed_mid_run_resumes_exactly(tmp_path, killed_after):
    x = as_tensor(np.random.default_rng(1).uniform(size=(120, 10)))
    config = TrainConfig(epochs=4, batch_size=32, noise_std=0.1, seed=5)
    hook = lambda m: float(evaluate(m, x)["y"].sum())

    def fresh_model():
        torch.manual_seed(2)
        return ASAE(10, 2, n_hidden=8, dropout=0.2)

    plain = fresh_model()
    plain_hist = train(plain, x, config, hook)
    path = tmp_path / "asae.ckpt"
    with pytest.raises(Killed):  # the hook runs at the start and after each epoch
        train(fresh_model(), x, config, kill_after(hook, killed_after + 1), checkpoint=Checkpoint(path, "t"))
    saved = torch.load(path, weights_only=True)["state"]
    assert saved["epoch"] == killed_after and len(saved["history"]) == killed_after + 1
    resumed = fresh_model()
    hist = train(resumed, x, config, hook, checkpoint=Checkpoint(path, "t"))
    assert hist == plain_hist and not path.exists()
    same_weights(plain, resumed)


def thesis_ddn_config():
    """The DDN as the `thesis` profile runs it on plain MNIST (the model as written, thesis
    layers, alpha annealed in stage 3), at a tiny width."""
    spec = BENCHMARKS["mnist"]
    le, lp, ld = spec["layers"]
    return DDNConfig(
        enc_layers=le,
        pred_layers=lp,
        dec_layers=ld,
        hidden=12,
        n_code=3,
        batch_size=32,
        alpha_end=spec["alpha_end"],
        **VARIANTS["faithful"][1],
    )


@pytest.mark.parametrize("killed_after", [1, 3, 5])  # in stage 1, in stage 2, in stage 3
def test_ddn_killed_mid_run_resumes_exactly(tmp_path, killed_after):
    x = np.random.default_rng(0).uniform(size=(100, 9)).astype(np.float32)
    cfg, epochs = thesis_ddn_config(), (2, 2, 3)
    log = lambda stage, e, losses: {"stage": stage, "e": e, **losses}

    plain = DDNTrainer(x, cfg, seed=4)
    plain_hist = plain.fit(epochs, on_start=lambda: {"start": 1}, on_epoch=log)
    assert [h.get("stage") for h in plain_hist[1:]] == [1, 1, 2, 2, 3, 3, 3]

    path = tmp_path / "ddn.ckpt"
    extra = {"note": []}
    with pytest.raises(Killed):
        DDNTrainer(x, cfg, seed=4).fit(
            epochs,
            on_start=lambda: {"start": 1},
            on_epoch=kill_after(log, killed_after),
            checkpoint=Checkpoint(path, "t"),
            extra_state=(lambda: {"note": list(extra["note"]) + [1]}, lambda s: extra.update(note=s["note"])),
        )
    assert torch.load(path, weights_only=True)["state"]["epoch"] == killed_after
    resumed = DDNTrainer(x, cfg, seed=4)
    hist = resumed.fit(
        epochs,
        on_start=lambda: {"start": 1},
        on_epoch=log,
        checkpoint=Checkpoint(path, "t"),
        extra_state=(lambda: {"note": []}, lambda s: extra.update(note=s["note"])),
    )
    assert hist == plain_hist and not path.exists()
    assert extra["note"] == [1]  # the caller's state came back from the checkpoint
    same_weights(plain.model, resumed.model)
    for name in ("opt_enc", "opt_pred", "opt_dec"):
        a, b = getattr(plain, name).state_dict()["state"], getattr(resumed, name).state_dict()["state"]
        for key in a:
            for field in a[key]:
                assert torch.equal(a[key][field], b[key][field]), (name, key, field)


def test_fit_epochs_counts_epochs_and_skips_finished_ones(tmp_path):
    state = {"w": 0}
    seen = []

    def step(batch, epoch):
        seen.append(epoch)
        state["w"] += batch
        return {"b": float(batch)}

    save = lambda: {"w": state["w"]}
    load = lambda s: state.update(w=s["w"])
    path = tmp_path / "c"
    with pytest.raises(Killed):
        fit_epochs(step, lambda e: [1, 2], 4, on_epoch=kill_after(lambda e, log: [e, log["b"]], 2),
                   state=(save, load), checkpoint=path)  # fmt: skip
    assert seen == [0, 0, 1, 1, 2, 2]  # the third epoch ran but was not saved
    state["w"], seen[:] = 0, []
    hist = fit_epochs(step, lambda e: [1, 2], 4, on_epoch=lambda e, log: [e, log["b"]], state=(save, load),
                      checkpoint=path)  # fmt: skip
    assert seen == [2, 2, 3, 3] and state["w"] == 12
    assert hist == [[1, 1.5], [2, 1.5], [3, 1.5], [4, 1.5]]
    with pytest.raises(ValueError, match="state"):
        fit_epochs(step, lambda e: [1], 1, checkpoint=path)


# ----------------------------------------------------------------------------- progress bar
class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_rule(monkeypatch):
    monkeypatch.delenv("BOOK_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert progress_enabled(None, FakeTTY()) and not progress_enabled(None, io.StringIO())
    assert progress_enabled(True, io.StringIO()) and not progress_enabled(False, FakeTTY())
    monkeypatch.setenv("BOOK_PROGRESS", "0")
    assert not progress_enabled(True, FakeTTY())
    monkeypatch.delenv("BOOK_PROGRESS")
    monkeypatch.setenv("CI", "true")
    assert not progress_enabled(None, FakeTTY())


def run_quietly(progress):
    return fit_epochs(lambda b, e: None, lambda e: [0], 3, on_epoch=lambda e, log: e, progress=progress)


def test_progress_bar_is_silent_when_disabled(capsys, monkeypatch):
    monkeypatch.delenv("BOOK_PROGRESS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert run_quietly(False) == [1, 2, 3]
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    monkeypatch.setenv("BOOK_PROGRESS", "0")
    run_quietly(True)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    monkeypatch.delenv("BOOK_PROGRESS")
    run_quietly(True)  # forced on: the bar writes to stderr
    assert "epochs:" in capsys.readouterr().err
