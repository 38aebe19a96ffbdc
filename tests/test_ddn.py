"""Tests of lib.ddn (thesis chapter 9), lib.ddn_alternatives (section 9.1) and the chapter's
experiments in lib.chapters.ch09_ddn."""

import numpy as np
import pytest
import torch

import lib.chapters.ch09_ddn as ch09
from lib import ddn_runs
from lib.chapters.ch09_ddn import choose_variant
from lib.ddn import (
    DDNConfig,
    DDNTrainer,
    alpha_schedule,
    encoding_losses,
    predictive_losses,
    reconstruction_losses,
)
from lib.ddn_alternatives import PenaltyAutoencoder, gaussian_mmd2, gmmn_fit, penalty_loss, xcov
from lib.nets import RMSprop

SMALL = dict(hidden=32, n_code=3, batch_size=64)


def two_part_toy(n=512, seed=0):
    """x = [u, v, 0.5 u + 0.5 v] for independent uniform parts u, v (4 dims each): the two
    halves carry independent causes, so a disentangled pair of codes has zero MI."""
    r = np.random.default_rng(seed)
    u, v = r.uniform(size=(n, 4)), r.uniform(size=(n, 4))
    return np.concatenate([u, v, 0.5 * u + 0.5 * v], 1).astype(np.float32)


def grads(params):
    return [None if p.grad is None else p.grad.clone() for p in params]


def all_zero(gs):
    return all(g is None or torch.count_nonzero(g) == 0 for g in gs)


def test_encoding_loss_trains_only_encoders():
    """eq. 9.7: the encoding losses give no gradient to predictors or decoders."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL), seed=0)
    m = tr.model
    za, zb = m.encode(tr.x[:64])
    sum(encoding_losses(m, za, zb)).backward()
    assert all_zero(grads(m.predictor_parameters()))
    assert all_zero(grads(m.decoder_parameters()))
    assert not all_zero(grads(m.encoder_parameters()))


def test_each_encoder_only_gets_its_own_loss():
    """f_a is trained by l^E_a = z_a . q_ba(z_b) through z_a only: f_b gets no gradient from it."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL), seed=0)
    m = tr.model
    za, zb = m.encode(tr.x[:64])
    e_a, _ = encoding_losses(m, za, zb)
    e_a.backward()
    assert all_zero(grads(m.enc_b.parameters()))
    assert not all_zero(grads(m.enc_a.parameters()))


def test_predictive_loss_trains_only_predictors():
    """eq. 9.7 / 9.12: the predictive losses give no gradient to the encoders."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL), seed=0)
    m = tr.model
    za, zb = m.encode(tr.x[:64])
    sum(predictive_losses(m, za, zb, sigma=0.1)).backward()
    assert all_zero(grads(m.encoder_parameters()))
    assert not all_zero(grads(m.predictor_parameters()))


def test_encoder_step_leaves_predictors_unchanged_and_vice_versa():
    """A stage-1 update with only the encoder optimiser stepping changes no predictor weight,
    and a predictor-only step changes no encoder weight."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL), seed=0)
    m = tr.model
    snap = lambda ps: [p.detach().clone() for p in ps]
    same = lambda a, b: all(torch.equal(x, y) for x, y in zip(a, b))
    for stepping, frozen in [(tr.opt_enc, m.predictor_parameters), (tr.opt_pred, m.encoder_parameters)]:
        before_frozen, before_moving = snap(frozen()), snap(stepping.param_groups[0]["params"])
        za, zb = m.encode(tr.x[:64])
        loss = sum(predictive_losses(m, za, zb, 0.1)) + sum(encoding_losses(m, za, zb))
        tr.opt_enc.zero_grad()
        tr.opt_pred.zero_grad()
        loss.backward()
        stepping.step()
        assert same(before_frozen, snap(frozen()))
        assert not same(before_moving, snap(stepping.param_groups[0]["params"]))


def test_stage3_reconstruction_reaches_encoders_scaled_by_alpha():
    """eq. 9.11: the encoders receive alpha x the gradient of l^R_ab; the decoders the full one."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL), seed=0)
    m, xb = tr.model, tr.x[:64]
    enc = list(m.enc_a.parameters())

    def enc_grad(alpha):
        m.zero_grad()
        za, zb = m.encode(xb)
        reconstruction_losses(m, xb, za, zb, alpha=alpha)[2].backward()
        return enc[0].grad.clone(), list(m.dec_ab.parameters())[0].grad.clone()

    g1, d1 = enc_grad(1.0)
    g01, d01 = enc_grad(0.1)
    assert torch.allclose(g01, 0.1 * g1, atol=1e-6)
    assert torch.allclose(d01, d1)
    m.zero_grad()
    za, zb = m.encode(xb)
    reconstruction_losses(m, xb, za, zb, alpha=0.0)[2].backward()
    assert enc[0].grad is None or torch.count_nonzero(enc[0].grad) == 0


def test_ddn_lowers_code_mi_on_independent_parts():
    """On a toy of two independent parts, stage 1 ends with lower KSG MI than at initialisation."""
    from lib.mi import ksg_mi

    torch.set_num_threads(1)
    x = two_part_toy(n=512)
    tr = DDNTrainer(x, DDNConfig(hidden=32, n_code=2, batch_size=64), seed=0)
    mi0 = ksg_mi(*tr.codes())
    for _ in range(30):
        tr.epoch(1)
    mi1 = ksg_mi(*tr.codes())
    assert mi1 < mi0 - 0.05, (mi0, mi1)


def test_reproducible_for_fixed_seed():
    def run(seed):
        tr = DDNTrainer(two_part_toy(n=256), DDNConfig(**SMALL), seed=seed)
        tr.epoch(1)
        tr.epoch(2)
        tr.epoch(3)
        return np.concatenate(tr.codes(), 1)

    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_cross_plot_pairs_columns_with_za_and_rows_with_zb():
    tr = DDNTrainer(two_part_toy(n=256), DDNConfig(**SMALL), seed=0)
    xs = two_part_toy(n=5, seed=1)
    grid = tr.cross(xs)
    assert grid.shape == (5, 5, xs.shape[1])
    rec = tr.reconstruct(xs)["y_ab"]
    np.testing.assert_allclose(np.diagonal(grid, axis1=0, axis2=1).T, rec, atol=1e-6)


def test_shared_encoder_and_alpha_schedule():
    cfg = DDNConfig(**SMALL, shared_encoder=True, alpha=0.1, alpha_end=1.0)
    tr = DDNTrainer(two_part_toy(n=256), cfg, seed=0)
    tr.epoch(1)
    za, zb = tr.codes()
    assert za.shape == zb.shape == (256, 3)
    assert alpha_schedule(cfg, 0, 10) == pytest.approx(0.1)
    assert alpha_schedule(cfg, 9, 10) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad",
    [
        dict(code_norm="layer"),
        dict(optimizer="adam"),
        dict(n_code=0),
        dict(pred_steps=0),
        dict(recon_reduce="max"),
    ],
)
def test_bad_config_is_a_clear_error(bad):
    with pytest.raises(ValueError):
        DDNConfig(**bad)


def test_batch_code_norm_standardises_codes():
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL, code_norm="batch"), seed=0)
    tr.model.train()
    za, zb = tr.model.encode(tr.x)
    assert torch.allclose(za.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(za.std(0, unbiased=False), torch.ones(3), atol=1e-2)


def test_xcov_zero_for_independent_and_positive_for_copies():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(4000, 3, generator=g), torch.randn(4000, 3, generator=g)
    assert xcov(a, b).item() < 0.01
    assert xcov(a, a).item() > 1.0


def test_penalty_autoencoder_gradients_reach_both_encoders():
    m = PenaltyAutoencoder(12, n_code=2, hidden=16)
    x = torch.from_numpy(two_part_toy(n=64))
    for pen in ("xcov", "meannn"):
        m.zero_grad()
        loss, parts = penalty_loss(m, x, pen, lam=1.0)
        loss.backward()
        assert np.isfinite(parts["penalty"])
        assert not all_zero(grads(m.enc_a.parameters())) and not all_zero(grads(m.enc_b.parameters()))
    with pytest.raises(ValueError):
        penalty_loss(m, x, "cov", 1.0)


def test_mmd_and_gmmn_match_a_distribution_from_noise():
    """Fig 9.1: a GMMN fed spherical Gaussian noise learns a bimodal target (MMD drops)."""
    torch.set_num_threads(1)
    r = np.random.default_rng(0)
    target = np.concatenate([r.normal(-3, 0.3, (600, 2)), r.normal(3, 0.3, (600, 2))]).astype(np.float32)
    t = torch.from_numpy(target)
    assert gaussian_mmd2(t[:300], t[600:900]).item() > 0.1
    out = gmmn_fit(target, hidden=32, steps=150, batch=128, seed=0)
    assert out["mmd2_output"] < 0.3 * out["mmd2_curve"][:10].mean()
    with pytest.raises(ValueError):
        gmmn_fit(target[:10])


def test_pred_steps_update_only_predictors_between_encoder_steps():
    """pred_steps=3: two predictor-only updates, then the joint one; the encoders move once."""
    tr = DDNTrainer(two_part_toy(), DDNConfig(**SMALL, pred_steps=3), seed=0)
    xb = tr.x[:64]
    enc0 = [p.detach().clone() for p in tr.model.encoder_parameters()]
    calls = []
    step = tr.opt_pred.step
    tr.opt_pred.step = lambda *a, **k: (calls.append(1), step(*a, **k))[1]
    tr.extra_predictor_steps(xb)
    assert len(calls) == 2
    assert all(torch.equal(a, b) for a, b in zip(enc0, tr.model.encoder_parameters()))
    tr.stage1_step(xb)
    assert len(calls) == 5  # 2 extra + 2 extra + 1 joint
    assert not all(torch.equal(a, b) for a, b in zip(enc0, tr.model.encoder_parameters()))


def test_recon_mean_scales_the_encoders_reconstruction_gradient():
    """eq. 9.11 averaged over pixels: the encoders' reconstruction gradient is 1/n_pixels of the
    summed reading's (predictor and encoding terms removed by zeroing their effect)."""
    x = two_part_toy(n=64)
    grads_by = {}
    for reduce in ("sum", "mean"):
        tr = DDNTrainer(x, DDNConfig(**SMALL, recon_reduce=reduce, alpha=0.5), seed=0)
        for p in tr.model.predictor_parameters():
            torch.nn.init.zeros_(p)  # predictions 0: no encoding-loss gradient
        for opt in (tr.opt_enc, tr.opt_pred, tr.opt_dec):
            opt.step = lambda *a, **k: None  # keep the gradients, change nothing
        tr.stage3_step(tr.x, alpha=0.5)
        grads_by[reduce] = torch.cat([p.grad.flatten() for p in tr.model.encoder_parameters()])
    assert grads_by["sum"].abs().max() > 0
    torch.testing.assert_close(grads_by["mean"] * x.shape[1], grads_by["sum"], rtol=1e-4, atol=1e-6)


def test_choose_variant_adopts_a_change_only_when_it_disentangles():
    s = lambda truth, share: {"truth_score_mean": truth, "share_disentangled_truth": share}
    assert choose_variant({"faithful": s(0.05, 0.0), "std": s(0.12, 0.0), "pred5": s(0.2, 0.5)}) == "faithful"
    assert choose_variant({"faithful": s(0.05, 0.0), "std": s(0.7, 1.0), "pred5": s(0.6, 1.0)}) == "std"


def test_optimiser_choices_reach_every_parameter_set():
    """Section 9.3: eq. 7.4's RMSprop (lib.nets.RMSprop, gamma = rms_alpha, no momentum) by default;
    momentum=0.9 is heavy-ball on top; "torch-rmsprop" is the earlier torch.optim.RMSprop."""
    from lib.nets import RMSprop

    x = two_part_toy(n=128)
    tr = DDNTrainer(x, DDNConfig(**SMALL), seed=0)
    for opt in (tr.opt_enc, tr.opt_pred, tr.opt_dec):
        assert type(opt) is RMSprop
        g = opt.param_groups[0]
        assert (g["gamma"], g["eps"], g["momentum"], g["form"]) == (0.9, 1e-6, 0.0, "lasagne")
    assert [tr.opt_enc.param_groups[0]["lr"], tr.opt_pred.param_groups[0]["lr"]] == [1e-4, 1e-3]
    hb = DDNTrainer(x, DDNConfig(**SMALL, momentum=0.9), seed=0)
    hb.epoch(1)
    assert all(hb.opt_enc.state[p]["momentum_buffer"].abs().sum() > 0 for p in hb.model.encoder_parameters())
    old = DDNTrainer(x, DDNConfig(**SMALL, optimizer="torch-rmsprop"), seed=0)
    assert type(old.opt_enc) is torch.optim.RMSprop and old.opt_enc.defaults["eps"] == 1e-6
    assert type(DDNTrainer(x, DDNConfig(**SMALL, optimizer="sgd"), seed=0).opt_pred) is torch.optim.SGD


@pytest.mark.parametrize(
    "bad, name",
    [
        (dict(rms_eps=0.0), "eps"),
        (dict(rms_alpha=1.0), "gamma"),
        (dict(momentum=1.5), "momentum"),
        (dict(rms_form="keras"), "form"),
    ],
)
def test_bad_optimiser_settings_name_the_setting(bad, name):
    with pytest.raises(ValueError, match=name):
        DDNConfig(**bad)


def test_penalty_autoencoder_trains_with_eq_7_4(monkeypatch):
    """run_penalty builds its optimiser through lib.nets.make_optimiser: eq. 7.4 by default."""
    made = []
    real = ddn_runs.make_optimiser
    monkeypatch.setattr(ddn_runs, "make_optimiser", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    torch.set_num_threads(1)
    out = ddn_runs.run_penalty("simple", "xcov", 1.0, n=300, epochs=1, hidden=16, n_code=2, n_score=200)
    assert [type(o) for o in made] == [RMSprop]
    assert np.isfinite(out["final_mi"]) and len(out["mi"]) == 2
    # judged like the DDN runs: the disentangling score of the final codes
    assert isinstance(out["final_disentangled"], bool) and "final_disentanglement" in out


def test_chapter_plan_declares_every_sweep_with_a_cost():
    """lib.chapters.ch09_ddn.plan: the notebook's sweeps (same configs) with cost models."""
    plan = ch09.plan("smoke", check_data=False)
    sweeps = ch09.chapter_plan("smoke", use="faithful")
    assert list(plan) == list(sweeps)
    for name, exp in plan.items():
        assert exp.name == name and exp.fn is sweeps[name][0] and exp.configs == sweeps[name][1]
        cost = exp.cost(exp.configs[0])
        assert cost[0] in ("ddn", "work") and np.sum(cost[1]) > 0
    assert ch09.plan("thesis", check_data=False)["simple_faithful"].cost({"kind": "simple", "n": 25000})[
        1
    ] == (
        35 * 196,
        10 * 196,
        5 * 196,
    )
