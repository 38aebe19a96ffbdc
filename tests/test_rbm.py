"""Tests of lib.rbm: energies vs conditionals, learning, inference, anti-Hebbian initialisation."""

import numpy as np
import pytest
import torch

from lib.data import make_composite
from lib.rbm import GRBM, Broadnet

F64 = dict(dtype=torch.float64, device="cpu")


def _random_grbm(n_v=7, n_h=5, sigma=0.7, seed=0):
    g = GRBM(n_v, n_h, sigma=sigma, visible_bias=True, random_state=seed, **F64)
    g.init_params(weight="uniform", weight_scale=1.0, bias=(-1.0, 1.0))
    g.c.copy_(torch.linspace(-0.5, 0.5, n_v, dtype=torch.float64))
    return g


def _conditional_from_energy(energy_fn, h, j):
    """p(h_j = 1 | rest) = sigmoid(E(h_j = 0) - E(h_j = 1)) from any energy function."""
    h1, h0 = h.clone(), h.clone()
    h1[:, j], h0[:, j] = 1.0, 0.0
    return torch.sigmoid(energy_fn(h0) - energy_fn(h1))


def test_grbm_conditionals_agree_with_energy():
    g = _random_grbm()
    gen = torch.Generator().manual_seed(1)
    v = torch.randn(11, 7, generator=gen, dtype=torch.float64)
    h = (torch.rand(11, 5, generator=gen, dtype=torch.float64) < 0.5).double()
    probs = g.hidden_probs(v)
    for j in range(5):
        p = _conditional_from_energy(lambda hh: g.energy(v, hh), h, j)
        torch.testing.assert_close(p, probs[:, j])
    # v | h is Gaussian with mean visible_mean(h) and variance sigma^2 (eq. 2.18)
    mean = g.visible_mean(h)
    torch.testing.assert_close(
        g.energy(v, h) - g.energy(mean, h), ((v - mean) ** 2).sum(-1) / (2 * g.sigma**2)
    )
    # the free energy is -log sum_h exp(-E(v, h)), by enumerating all 2^5 hidden states
    states = torch.tensor(np.indices((2,) * 5).reshape(5, -1).T, dtype=torch.float64)
    energies = torch.stack([g.energy(v, s.expand(11, 5)) for s in states], 1)
    torch.testing.assert_close(g.free_energy(v), -torch.logsumexp(-energies, 1))


def test_broadnet_conditionals_agree_with_joint_energy():
    """eq. 3.8 vs eq. 3.12: energy differences give the residual conditionals the sampler uses."""
    a, b = _random_grbm(seed=2), _random_grbm(n_h=4, seed=3)
    net = Broadnet.from_grbms(a, b)
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(9, 7, generator=gen, dtype=torch.float64)
    h_a = (torch.rand(9, 5, generator=gen, dtype=torch.float64) < 0.5).double()
    h_b = (torch.rand(9, 4, generator=gen, dtype=torch.float64) < 0.5).double()
    sampler_a = a.hidden_probs(x - b.visible_mean(h_b))
    sampler_b = b.hidden_probs(x - a.visible_mean(h_a))
    for j in range(5):
        p = _conditional_from_energy(lambda hh: net.energy(x, hh, h_b), h_a, j)
        torch.testing.assert_close(p, sampler_a[:, j])
    for j in range(4):
        p = _conditional_from_energy(lambda hh: net.energy(x, h_a, hh), h_b, j)
        torch.testing.assert_close(p, sampler_b[:, j])
    # x | h_a, h_b is Gaussian around r_a + r_b (eq. 3.3)
    mean = a.visible_mean(h_a) + b.visible_mean(h_b)
    torch.testing.assert_close(
        net.energy(x, h_a, h_b) - net.energy(mean, h_a, h_b), ((x - mean) ** 2).sum(-1) / (2 * net.sigma**2)
    )


@pytest.fixture(scope="module")
def parts():
    c = make_composite("upright01_rot24", n=400, seed=0)
    x, pa, pb = c.flat()
    return {"x": x, "a": pa, "b": pb}


def _grbm_on(data, seed=0, persistent=False):
    g = GRBM(784, 30, sigma=0.5, random_state=seed, device="cpu")
    hist = g.fit(
        data[:300], epochs=8, lr=0.01, batch_size=20, k=1, persistent=persistent, momentum=0.5
    ).history_
    return g, hist


@pytest.fixture(scope="module")
def grbms(parts):
    return _grbm_on(parts["a"], 0)[0], _grbm_on(parts["b"], 1)[0]


def test_grbm_learns_its_part_set(parts, grbms):
    """Held-out error relative to each set's mean square: own part set < the other part set."""
    held = {k: torch.tensor(parts[k][300:]) for k in ("a", "b")}
    rel = lambda g, k: g.reconstruction_error(held[k]) / float((held[k] ** 2).mean())
    g_a, g_b = grbms
    assert rel(g_a, "a") < rel(g_a, "b")
    assert rel(g_b, "b") < rel(g_b, "a")


@pytest.mark.parametrize("persistent", [False, True])
def test_cd_and_pcd_lower_reconstruction_error(parts, persistent):
    _, hist = _grbm_on(parts["a"], 0, persistent)
    assert hist["recon_error"][-1] < hist["recon_error"][0]


def test_broadnet_infer_reconstructs_the_sum(parts, grbms):
    net = Broadnet.from_grbms(*grbms)
    x = torch.tensor(parts["x"][300:])
    r_a, r_b = net.reconstruct(x, n_steps=10)
    err_sum = float(((r_a + r_b - x) ** 2).mean())
    assert err_sum < min(g.reconstruction_error(x) for g in grbms)
    # and each cause takes its own part
    part_a, part_b = (torch.tensor(parts[k][300:]) for k in ("a", "b"))
    assert float(((r_a - part_a) ** 2).mean()) < float(((r_a - part_b) ** 2).mean())
    assert float(((r_b - part_b) ** 2).mean()) < float(((r_b - part_a) ** 2).mean())


def test_infer_trace_activity_and_sample_shapes(grbms):
    net = Broadnet.from_grbms(*grbms)
    x = torch.zeros(6, 784)
    p_a, p_b, trace = net.infer(x, n_steps=4, return_trace=True)
    assert p_a.shape == (6, 30) and trace["recon_a"].shape == (4, 6, 784)
    torch.testing.assert_close(trace["p_b"][-1], p_b)
    act = net.activity(x, n_steps=4)
    assert act.shape == (6, 4) and bool((act >= 0).all())
    xs, h_a, h_b = net.sample(5, n_steps=3)
    assert xs.shape == (5, 784) and set(h_a.unique().tolist()) <= {0.0, 1.0}


def _planted_broadnet(seed):
    """16 visibles; cause A's 4 units each draw 2 of the first 8 pixels, B's of the last 8;
    biases -4 (each unit on with probability 1/2 in the marginal), sigma 0.5."""
    net = Broadnet(16, 4, 4, sigma=0.5, random_state=seed, **F64)
    for g, offset in ((net.a, 0), (net.b, 8)):
        g.W.zero_()
        g.b.fill_(-4.0)
        for j in range(4):
            g.W[offset + 2 * j : offset + 2 * j + 2, j] = 2.0
    return net


def test_wrong_anti_hebbian_init_grows_weights_faster():
    """Section 4.2: started on data from the model itself, CD with chains at each network's own
    reconstruction stays near the planted weights; chains started from random values or both
    from network A's reconstruction grow the weights faster."""
    x, _, _ = _planted_broadnet(0).sample(400, n_steps=50)
    growth = {}
    for init in ("correct", "random", "one_network"):
        net = _planted_broadnet(1)
        hist = net.fit(x, epochs=30, lr=0.01, batch_size=20, k=5, anti_hebbian_init=init).history_
        growth[init] = hist["mean_abs_w"][-1] - hist["mean_abs_w"][0]
    assert growth["random"] > 2 * growth["correct"]
    assert growth["one_network"] > 2 * growth["correct"]


def test_same_seed_same_result_different_seed_different():
    x = np.random.default_rng(0).uniform(-1, 1, (40, 12))
    runs = []
    for seed in (3, 3, 4):
        net = Broadnet(12, 4, 3, sigma=1.0, random_state=seed, device="cpu")
        net.fit(x, epochs=2, lr=0.05, batch_size=8, k=3, mean_field=False)
        runs.append(torch.cat([net.a.W.ravel(), net.b.W.ravel(), net.a.b, net.b.b]))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="sigma"):
        GRBM(4, 2, sigma=0.0)
    g = GRBM(4, 2, device="cpu")
    with pytest.raises(ValueError, match="shape"):
        g.fit(np.zeros((5, 3)), epochs=1, lr=0.1, batch_size=2)
    with pytest.raises(ValueError, match="NaN"):
        g.fit(np.full((5, 4), np.nan), epochs=1, lr=0.1, batch_size=2)
    with pytest.raises(ValueError, match="weight init"):
        g.init_params(weight="normal")
    net = Broadnet(4, 2, 2, device="cpu")
    with pytest.raises(ValueError, match="anti_hebbian_init"):
        net.fit(np.zeros((5, 4)), epochs=1, lr=0.1, batch_size=2, anti_hebbian_init="data")
    with pytest.raises(ValueError, match="share"):
        Broadnet.from_grbms(GRBM(4, 2, sigma=1.0), GRBM(4, 2, sigma=0.5))


def test_fit_returns_the_estimator_and_keeps_its_history():
    """scikit-learn conventions: ``fit`` returns self; the training record is ``history_``, the
    same dict the callback sees; a clone's history is its own copy."""
    x = np.random.default_rng(0).uniform(-1, 1, (20, 6))
    seen = []
    g = GRBM(6, 3, random_state=0, device="cpu")
    assert not hasattr(g, "history_")
    assert g.fit(x, epochs=3, lr=0.01, batch_size=5, callback=lambda e, m, h: seen.append(h)) is g
    assert len(g.history_["recon_error"]) == 3 and seen[-1] is g.history_
    copy = g.clone()
    copy.history_["recon_error"].append(0.0)
    assert len(g.history_["recon_error"]) == 3
    net = Broadnet(6, 2, 2, random_state=0, device="cpu")
    assert net.fit(x, epochs=2, lr=0.01, batch_size=5, k=2) is net
    assert {len(v) for v in net.history_.values()} == {2}
