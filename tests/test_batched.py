"""lib.batched: K seeds trained as one batched model equal K separate runs (tiny sizes, CPU)."""

import dataclasses

import numpy as np
import pytest
import torch

from lib.autoencoders import ASAE
from lib.batched import BatchedDDNTrainer, Stacked, build_asaes, train_batched
from lib.checkpoints import Checkpoint
from lib.ddn import DDNConfig, DDNTrainer
from lib.training import TrainConfig, train

SEEDS = [3, 7, 11]
# atol: 1e-5 of weights of order 0.1-1. It also covers the bias in front of a batch-normalised
# code, whose exact gradient is 0 (the normalisation removes it), so it only drifts by rounding noise.
RTOL, ATOL = 1e-5, 1e-5


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is faster, and immune to a busy machine's thread contention."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def x_np():
    return (np.random.default_rng(0).random((20, 12)) < 0.4).astype(np.float32)


def assert_same_params(a, b, rtol=RTOL, atol=ATOL):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for name in sa:
        np.testing.assert_allclose(
            sa[name].double().numpy(), sb[name].double().numpy(), rtol=rtol, atol=atol, err_msg=name
        )


def max_rel_diff(a, b):
    return max(
        float(((p - q).abs().max() / p.abs().max().clamp_min(1e-12)).detach())
        for p, q in zip(a.parameters(), b.parameters())
    )


def separate_asaes(x, config, seeds, hook=None):
    out = []
    for s in seeds:
        torch.manual_seed(s)
        m = ASAE(x.shape[1], 2, 8)
        hist = train(m, x, dataclasses.replace(config, seed=s), on_epoch=hook)
        out.append((m, hist))
    return out


ASAE_CONFIGS = {
    "plain": TrainConfig(epochs=2, batch_size=4),
    "noise_l1": TrainConfig(
        epochs=2, batch_size=4, noise_std=0.2, l1_weight=1e-3, l1_activation=1e-3, loss_reduce="mean"
    ),
    "adam": TrainConfig(epochs=2, batch_size=4, optimiser="adam"),
}


@pytest.mark.parametrize("name", list(ASAE_CONFIGS))
def test_asae_batched_equals_separate_runs(x_np, name):
    x = torch.from_numpy(x_np)
    config = ASAE_CONFIGS[name]
    hook = lambda m: float(m(x)["y"].detach().sum())
    ref = separate_asaes(x, config, SEEDS, hook)
    models, hists = train_batched(SEEDS, x, config, on_epoch=hook, n_code=2, n_hidden=8)
    assert len(models) == len(SEEDS) and all(isinstance(m, ASAE) for m in models)
    for (m_ref, h_ref), m, h in zip(ref, models, hists):
        assert_same_params(m_ref, m)
        np.testing.assert_allclose(h, h_ref, rtol=1e-5)
        assert len(h) == config.epochs + 1


def test_asae_models_given_need_seeds_and_are_trained_in_place(x_np):
    x = torch.from_numpy(x_np)
    models = build_asaes(SEEDS, 12, 2, 8)
    before = [m.a.encoder[0].weight.detach().clone() for m in models]
    with pytest.raises(ValueError, match="seeds="):
        train_batched(models, x, ASAE_CONFIGS["plain"])
    with pytest.raises(ValueError, match="differ"):
        train_batched(models, x, ASAE_CONFIGS["plain"], seeds=[1, 1, 2])
    out, _ = train_batched(models, x, ASAE_CONFIGS["plain"], seeds=SEEDS)
    assert all(a is b for a, b in zip(out, models))
    assert all(not torch.equal(b, m.a.encoder[0].weight) for b, m in zip(before, models))
    for (m_ref, _), m in zip(separate_asaes(x, ASAE_CONFIGS["plain"], SEEDS), models):
        assert_same_params(m_ref, m)


def test_seeds_really_differ(x_np):
    x = torch.from_numpy(x_np)
    models, _ = train_batched(SEEDS, x, ASAE_CONFIGS["plain"], n_code=2, n_hidden=8)
    for i in range(len(models)):
        for j in range(i + 1, len(models)):
            assert max_rel_diff(models[i], models[j]) > 0.05
    tr = BatchedDDNTrainer(x_np, DDNConfig(n_code=2, hidden=8, batch_size=4), SEEDS)
    tr.epoch(1)
    p = tr.st.params["enc_a.0.weight"]
    assert all(not torch.allclose(p[i], p[j], atol=1e-3) for i in range(3) for j in range(i + 1, 3))


def test_dropout_runs_with_different_masks_per_seed(x_np):
    """Dropout draws inside vmap (randomness="different"): it trains; not compared with separate runs."""
    x = torch.from_numpy(x_np)
    models, _ = train_batched(
        [1, 2], x, dataclasses.replace(ASAE_CONFIGS["plain"], epochs=1), n_code=2, n_hidden=8, dropout=0.3
    )
    assert all(torch.isfinite(p).all() for m in models for p in m.parameters())
    assert all(m.training for m in models)


def test_asae_checkpoint_resume_equals_uninterrupted(x_np, tmp_path):
    x = torch.from_numpy(x_np)
    config = dataclasses.replace(ASAE_CONFIGS["noise_l1"], epochs=3)
    full, _ = train_batched(SEEDS, x, config, n_code=2, n_hidden=8)
    calls = []

    def dies_after_epoch_1(m):
        calls.append(1)
        if len(calls) > 2 * len(SEEDS):  # epoch 0 and 1 for every seed, then "killed"
            raise KeyboardInterrupt

    ckpt = Checkpoint(tmp_path / "run.pt", tag="t")
    with pytest.raises(KeyboardInterrupt):
        train_batched(SEEDS, x, config, on_epoch=dies_after_epoch_1, checkpoint=ckpt, n_code=2, n_hidden=8)
    assert ckpt.path.exists()
    resumed, _ = train_batched(SEEDS, x, config, on_epoch=lambda m: 0, checkpoint=ckpt, n_code=2, n_hidden=8)
    assert not ckpt.path.exists()
    for a, b in zip(full, resumed):
        assert_same_params(a, b, rtol=0, atol=0)


def test_stacked_rejects_mixed_models():
    with pytest.raises(ValueError, match="same class"):
        Stacked([ASAE(12, 2, 8), ASAE(12, 3, 8)])


DDN_CONFIGS = {
    "as_written": DDNConfig(n_code=2, hidden=8, batch_size=4),
    "variants": DDNConfig(
        n_code=2,
        hidden=8,
        batch_size=4,
        code_norm="batch",
        pred_steps=2,
        momentum=0.9,
        recon_reduce="mean",
        alpha_end=1.0,
        enc_layers=2,
    ),
    "shared_torch_rmsprop": DDNConfig(
        n_code=2, hidden=8, batch_size=6, shared_encoder=True, optimizer="torch-rmsprop"
    ),
}
SCHEDULE = [(1, None), (1, None), (2, None), (3, 0.1), (3, 0.5)]


@pytest.mark.parametrize("name", list(DDN_CONFIGS))
def test_ddn_all_stages_batched_equal_separate_trainers(x_np, name):
    cfg = DDN_CONFIGS[name]
    refs = [DDNTrainer(x_np, cfg, seed=s, device="cpu") for s in SEEDS]
    tr = BatchedDDNTrainer(x_np, cfg, SEEDS, device="cpu")
    for stage, alpha in SCHEDULE:
        logs = tr.epoch(stage, alpha)
        for ref, log in zip(refs, logs):
            ref_log = ref.epoch(stage, alpha)
            assert log.keys() == ref_log.keys()
            np.testing.assert_allclose([log[k] for k in log], [ref_log[k] for k in log], rtol=1e-4, atol=1e-6)
    for ref, mine in zip(refs, tr.trainers()):
        assert_same_params(ref.model, mine.model)  # weights and batch-norm running statistics
        for a, b in zip(ref.codes(), mine.codes()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_ddn_trainers_continue_as_the_separate_runs_and_restack(x_np):
    """(No batch-normalised codes here: see lib.batched on rounding with tiny batches.)
    Unstacked trainers carry each seed's optimiser state and generator: one more epoch of each
    stage, separately, equals the reference; from_trainers stacks them back losslessly."""
    cfg = DDNConfig(n_code=2, hidden=8, batch_size=5, momentum=0.9, pred_steps=2)
    refs = [DDNTrainer(x_np, cfg, seed=s, device="cpu") for s in SEEDS]
    tr = BatchedDDNTrainer(x_np, cfg, SEEDS, device="cpu")
    for stage in (1, 2, 3):
        tr.epoch(stage)
        for r in refs:
            r.epoch(stage)
    singles = tr.trainers()
    restacked = BatchedDDNTrainer.from_trainers(singles, seeds=SEEDS)
    restacked.epoch(1)
    restacked.epoch(3)
    for ref, single, back in zip(refs, singles, restacked.trainers()):
        assert int(single.opt_enc.state[single.model.encoder_parameters()[0]]["step"]) == int(
            ref.opt_enc.state[ref.model.encoder_parameters()[0]]["step"]
        )
        for stage in (1, 3):
            ref.epoch(stage)
            single.epoch(stage)
        assert_same_params(ref.model, single.model)
        assert_same_params(ref.model, back.model)


def test_ddn_state_roundtrip(x_np):
    cfg = DDN_CONFIGS["as_written"]
    a = BatchedDDNTrainer(x_np, cfg, SEEDS)
    a.epoch(1)
    saved = a.state()
    a.epoch(1)
    b = BatchedDDNTrainer(x_np, cfg, SEEDS)
    b.load_state(saved)
    b.epoch(1)
    for ma, mb in zip(a.trainers(), b.trainers()):
        assert_same_params(ma.model, mb.model, rtol=0, atol=0)


# ----------------------------------------------------------------------------- lib.costs
def fake_calibration():
    e = lambda model, mode, k, s: {
        "model": model,
        "device": "cpu",
        "mode": mode,
        "k": k,
        "s_per_update": s,
        "n_params": 1000,
    }
    return {
        "entries": [
            e("asae", "single", 1, 0.1),
            e("asae", "batched", 1, 0.12),
            e("asae", "batched", 4, 0.3),
            e("asae", "batched", 8, 0.5),
        ]
        + [e(f"ddn_stage{i}", "single", 1, 0.01 * i) for i in (1, 2, 3)]
    }


def test_costs_reads_and_estimates(tmp_path, monkeypatch):
    import json

    from lib.costs import estimate_seconds, load_calibration, seconds_per_update, updates_per_epoch

    doc = fake_calibration()
    path = tmp_path / "training.json"
    monkeypatch.setenv("BOOK_CALIBRATION", str(path))
    with pytest.raises(FileNotFoundError, match="benchmarks/training.py"):
        load_calibration()
    path.write_text(json.dumps(doc))
    assert load_calibration() == doc
    assert seconds_per_update("asae") == 0.1  # k = 1: the single-run code
    assert seconds_per_update("asae", k=1, batched=True) == 0.12
    assert seconds_per_update("asae", k=6) == pytest.approx(0.4)  # between K = 4 and 8
    assert seconds_per_update("asae", k=16) == pytest.approx(0.9)  # beyond: linear from 4 and 8
    assert estimate_seconds("asae", 100, k=4) == pytest.approx(30.0)
    assert estimate_seconds("asae", 100, n_params=2000) == pytest.approx(20.0)
    assert estimate_seconds("ddn", (10, 20, 30)) == pytest.approx(0.1 + 0.4 + 0.9)
    assert updates_per_epoch(25000) == 196
    with pytest.raises(KeyError, match="cuda"):
        estimate_seconds("asae", 1, device="cuda:0")
    with pytest.raises(ValueError, match="unknown model"):
        seconds_per_update("gan")


def test_run_asae_batched_equals_run_asae(asae_stand_ins):
    """Same results as run_asae per seed. The data and the per-epoch scorer are replaced by tiny
    stand-ins, which keeps the test to a second."""
    from lib.asae_runs import run_asae, run_asae_batched

    kw = asae_stand_ins
    mine = run_asae_batched([0, 5], **kw)
    for seed, res in zip([0, 5], mine):
        ref = run_asae(seed=seed, **kw)
        assert res.keys() == ref.keys()
        for key in ref:
            if key not in ("cpu_s", "source"):
                np.testing.assert_allclose(res[key], ref[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert not np.allclose(mine[0]["examples"], mine[1]["examples"])


def test_run_ddn_batched_equals_run_ddn(monkeypatch):
    """Chapter 9's run function and its batched twin (the sweeps' SeedBatched), per seed, through
    all three stages with the stage-2 snapshot. The scores are replaced by cheap sums of the codes
    (the scoring code is the same function either way), which keeps the test to seconds."""
    from lib import ddn_runs

    def codes_sum(za, zb, comp, rows):
        return {"mi": float(za[rows].sum()), "truth": float(zb[rows].sum())}

    def final_sums(tr, comp, x, rows):
        za, zb = tr.codes()
        return {"final_mi": float(za.sum()), "final_truth": float(zb.sum())}

    monkeypatch.setattr(ddn_runs, "score_codes", codes_sum)
    monkeypatch.setattr(ddn_runs, "final_scores", final_sums)
    cfg = dict(kind="simple", n=64, epochs=(2, 1, 2), n_score=50, n_show=4, hidden=32, batch_size=16)
    batched = ddn_runs.run_ddn_batched([3, 8], **cfg)
    for seed, got in zip([3, 8], batched):
        ref = ddn_runs.run_ddn(seed=seed, **cfg)
        assert got.keys() == ref.keys()
        for key in ref:
            if key != "cpu_s":
                np.testing.assert_allclose(got[key], ref[key], rtol=1e-4, atol=1e-5, err_msg=key)
    assert len(batched[0]["mi"]) == 2 + 2 + 1, "scored at the start, after stage-1 and stage-3 epochs"
    assert not np.allclose(batched[0]["cross"], batched[1]["cross"])
