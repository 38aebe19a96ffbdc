"""Issue 22 parts 1-2: the positive-control toys, the separation rule's calibration, the DDN's
new reading options (and their seed-batched mirror), the adversarial autoencoder, and the DDN
on the halves toy (a documented expected failure, measured)."""

import numpy as np
import pytest
import torch

from lib.adversarial import AdversarialConfig, AdversarialTrainer
from lib.batched import BatchedDDNTrainer
from lib.ddn import DDNConfig, DDNTrainer, stage_sigma
from lib.toy_study import (
    CONTROLS,
    OTHER_MAX,
    OWN_SHARE,
    READINGS,
    control_codes,
    ddn_config,
    separation,
    toy_study,
    train_ddn,
)
from lib.toys import CAUSES, KINDS, make_toy


# ----------------------------------------------------------------------------- toys
@pytest.mark.parametrize("kind", KINDS)
def test_toys_are_deterministic_and_shaped(kind):
    kw = dict(n=50, n_cause=3, half=7, seed=2)
    a, b = make_toy(kind, **kw), make_toy(kind, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.x.dtype == np.float32 and a.u.shape == a.v.shape == (50, 3)
    assert a.x.shape == ((50, 7) if kind == "additive" else (50, 14))
    assert not np.array_equal(a.x, make_toy(kind, n=50, n_cause=3, half=7, seed=3).x)


def test_toy_layouts():
    h, i, a = (make_toy(k, n=30, half=5) for k in KINDS)
    np.testing.assert_array_equal(h.x, np.concatenate([h.part_a, h.part_b], 1))
    np.testing.assert_array_equal(i.x, h.x[:, i.perm])  # the same pixels, interleaved
    assert sorted(i.perm) == list(range(10)) and not np.array_equal(i.perm, np.arange(10))
    np.testing.assert_allclose(a.x, h.part_a + h.part_b, rtol=1e-6)
    assert 0 <= h.x.min() and h.x.max() <= 1 and a.x.max() <= 2


@pytest.mark.parametrize("cause", CAUSES)
def test_causes_have_unit_variance(cause):
    t = make_toy("halves", n=4000, cause=cause)
    np.testing.assert_allclose(t.u.std(0), 1, atol=0.06)
    assert abs(np.corrcoef(t.u[:, 0], t.v[:, 0])[0, 1]) < 0.05


@pytest.mark.parametrize(
    "kw",
    [{"kind": "thirds"}, {"n": 1}, {"n_cause": 0}, {"half": 2.5}, {"seed": -1}, {"cause": "x"}],
)
def test_toys_validate_their_inputs(kw):
    with pytest.raises(ValueError):
        make_toy(**{"kind": "halves", **kw})


# ----------------------------------------------------------------------------- the rule
@pytest.mark.parametrize("cause", CAUSES)
@pytest.mark.parametrize("name", list(CONTROLS))
def test_separation_rule_is_calibrated_on_controls(name, cause):
    t = make_toy("halves", n=2000, cause=cause)
    s = separation(*control_codes(name, t.u, t.v, random_state=1), t.u, t.v)
    assert s["separated"] is CONTROLS[name], (name, s["own"], s["other"], s["oracle"])


def test_separation_ignores_code_names():
    t = make_toy("halves", n=2000)
    s = separation(t.v, t.u, t.u, t.v)
    assert s["swap"] and s["separated"]
    assert np.all(s["own"] >= OWN_SHARE * s["oracle"]) and np.all(s["other"] <= OTHER_MAX)


# ----------------------------------------------------------------------------- DDN options
def test_new_ddn_options_default_to_the_thesis_and_are_validated():
    cfg = DDNConfig()
    assert (cfg.code_act, cfg.pred_noise, cfg.recon_reduce) == ("linear", "all", "mean")
    for kw in ({"code_act": "relu"}, {"pred_noise": "stage1"}):
        with pytest.raises(ValueError):
            DDNConfig(**kw)
    with pytest.raises(ValueError):
        ddn_config("no such reading")
    assert set(READINGS) >= {"default", "recon_sum", "tanh_codes", "noise_stage3_only"}


def test_bounded_codes_are_bounded_and_stage1_noise_can_be_off():
    x = make_toy("halves", n=64, half=6).x
    cfg = DDNConfig(n_code=2, hidden=8, code_act="tanh", pred_noise="stage3")
    tr = DDNTrainer(x, cfg, device="cpu")
    assert np.abs(np.concatenate(tr.codes())).max() <= 1
    assert stage_sigma(cfg, 1) == 0.0 and stage_sigma(cfg, 3) == cfg.sigma
    assert stage_sigma(DDNConfig(n_code=2, hidden=8), 1) == 0.1


def test_batched_ddn_mirrors_the_new_options():
    x = make_toy("halves", n=40, half=5).x
    kw = dict(code_act="sigmoid", pred_noise="stage3", pred_steps=2)
    cfg = DDNConfig(n_code=2, hidden=8, batch_size=8, **kw)
    refs = [DDNTrainer(x, cfg, seed=s, device="cpu") for s in (0, 1)]
    tr = BatchedDDNTrainer(x, cfg, (0, 1), device="cpu")
    for stage in (1, 2, 3):
        logs = tr.epoch(stage)
        for ref, log in zip(refs, logs):
            ref_log = ref.epoch(stage)
            got, want = [log[k] for k in log], [ref_log[k] for k in log]
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for ref, mine in zip(refs, tr.trainers()):
        for a, b in zip(ref.codes(), mine.codes()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- adversarial AE
def test_adversarial_autoencoder_trains_and_is_seeded():
    torch.set_num_threads(1)
    x = make_toy("halves", n=200, half=8).x
    cfg = AdversarialConfig(n_code=2, hidden=16, batch_size=50)
    a, b = (AdversarialTrainer(x, cfg, seed=0, device="cpu") for _ in range(2))
    a.fit(2, progress=False)
    b.fit(2, progress=False)
    np.testing.assert_array_equal(a.codes()[0], b.codes()[0])
    assert a.codes()[1].shape == (200, 2)
    with pytest.raises(ValueError):
        AdversarialConfig(gamma=-1)


# ----------------------------------------------------------------------------- the study
def test_toy_study_returns_a_tidy_table():
    rows = toy_study(kinds=("halves",), readings=("default",), n=200, half=8, hidden=16,
                     ddn_epochs=(1, 1, 1), ae_epochs=1)  # fmt: skip
    keys = {"toy", "model", "reading", "stage", "seed", "own_a", "own_b", "other_a", "other_b",
            "oracle_a", "oracle_b", "mi_before", "mi_after", "verdict"}  # fmt: skip
    assert all(set(r) == keys for r in rows)
    models = [r["model"] for r in rows]
    assert models.count("control") == len(CONTROLS) and models.count("ddn") == 2
    assert {"asae", "adversarial"} <= set(models)
    ctrl = {r["reading"]: r["verdict"] == "separated" for r in rows if r["model"] == "control"}
    assert ctrl["oracle"] and not ctrl["mixed"]


@pytest.mark.xfail(
    strict=True,
    reason="measured (n=2000, 4-dim iid uniform causes, 64+64 pixels, hidden 128, epochs "
    "100/10/5, seed 0): the DDN as written lowers the code MI (0.99 -> 0.19 after stage 1) but "
    "its codes read each cause at R^2 0.42-0.44 from both codes after stage 3 (oracle 0.98): "
    "each code holds some dims of u and some of v, a split as independent as (u, v) itself",
)
def test_ddn_as_written_separates_the_halves_toy():
    torch.set_num_threads(1)
    t = make_toy("halves", n=2000)
    out = train_ddn(t.x, ddn_config("default"), (100, 10, 5), seed=0)
    assert separation(*out["stage3"], t.u, t.v)["separated"]
