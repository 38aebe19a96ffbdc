"""Tests of the exact Broadnet computations (lib.rbm_exact, thesis sections 4.1, 4.4, 4.5)."""

import math

import pytest
import torch
from scipy.integrate import quad

from lib.rbm_exact import (
    BroadnetParams,
    binary_states,
    configure,
    fit_exact,
    gradient,
    interpolate_units,
    log_likelihood,
    log_partition,
    model_difference,
    net_from_params,
    params_from_net,
    posterior,
    posterior_means,
    unit_configurations,
)


def random_params(D=6, n_a=2, n_b=3, sigma=0.8, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
    return BroadnetParams.create(0.5 * r(D, n_a), 0.5 * r(D, n_b), r(n_a) - 0.5, r(n_b) - 0.5, sigma=sigma)


def test_log_partition_and_density_match_numerical_integration():
    """One visible, one hidden unit per cause: Z and the normalisation of p(x) by quadrature."""
    p = BroadnetParams.create([[1.3]], [[-0.7]], [0.4], [-0.9], sigma=0.6)
    Hs = binary_states(1)
    z = 0.0
    for ha in Hs:
        for hb in Hs:
            net = net_from_params(p, dtype=torch.float64)
            e = lambda x, net=net, ha=ha, hb=hb: math.exp(
                -float(net.energy(torch.tensor([[x]], dtype=torch.float64), ha[None], hb[None]))
            )
            z += quad(e, -30, 30, points=[0.0])[0]
    assert log_partition(p) == pytest.approx(math.log(z), rel=1e-9)
    density = lambda x: math.exp(float(log_likelihood(p, torch.tensor([[x]]))))
    assert quad(density, -30, 30)[0] == pytest.approx(1.0, abs=1e-8)


def test_exact_gradient_matches_finite_differences():
    p = random_params()
    X = torch.rand(9, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 2
    grads = gradient(p, X)
    eps = 1e-6
    for name, t in p.tensors().items():
        for idx in [(0,) * t.ndim, tuple(s - 1 for s in t.shape)]:
            plus, minus = p.copy(), p.copy()
            plus.tensors()[name][idx] += eps
            minus.tensors()[name][idx] -= eps
            fd = (log_likelihood(plus, X).mean() - log_likelihood(minus, X).mean()) / (2 * eps)
            assert float(grads[name][idx]) == pytest.approx(float(fd), rel=1e-5, abs=1e-7), name


def test_log_joint_agrees_with_lib_rbm_energy():
    """Posterior from the exact module equals softmax(-energy) of lib.rbm's Broadnet (eq. 3.8)."""
    p = random_params(D=5, n_a=2, n_b=2)
    net = net_from_params(p, dtype=torch.float64)
    x = torch.rand(3, 5, dtype=torch.float64)
    Ha, Hb = binary_states(2), binary_states(2)
    energy = torch.stack(
        [
            torch.stack([net.energy(x, Ha[i].expand(3, 2), Hb[j].expand(3, 2)) for j in range(4)], 1)
            for i in range(4)
        ],
        1,
    )
    expected = torch.softmax(-energy.flatten(1), 1).reshape(3, 4, 4)
    torch.testing.assert_close(posterior(p, x), expected)
    back = params_from_net(net)
    assert model_difference(back, p) < 1e-12


def test_exact_posterior_matches_long_run_gibbs_frequencies():
    """lib.rbm's residual-trading Gibbs sampler (Alg. 1) visits states at the exact rates."""
    p = random_params(D=8, n_a=2, n_b=2, sigma=1.0, seed=3)
    x = torch.rand(1, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    exact = posterior(p, x)[0].flatten()
    net = net_from_params(p, random_state=5, dtype=torch.float64)
    n = 40000
    h_a, h_b = net.infer(x.expand(n, 8), n_steps=15, mean_field=False)
    index = (h_a @ torch.tensor([1.0, 2.0], dtype=torch.float64)).long() * 4 + (
        h_b @ torch.tensor([1.0, 2.0], dtype=torch.float64)
    ).long()
    freq = torch.bincount(index, minlength=16).double() / n
    assert float((freq - exact).abs().sum() / 2) < 0.02  # total variation distance
    assert exact.max() > 0.1 and (exact > 0.01).sum() >= 4  # a posterior worth testing


def test_posterior_means_and_likelihood_invariant_to_unit_order():
    p = random_params()
    X = torch.rand(4, 6, dtype=torch.float64)
    q = configure(p, [1, 0, 4, 3, 2])  # A <- units (1, 0), B <- (4, 3, 2): a pure reordering
    q = configure(q, [0, 1])
    torch.testing.assert_close(log_likelihood(q, X), log_likelihood(p, X))
    torch.testing.assert_close(log_likelihood(p.swapped(), X), log_likelihood(p, X))
    ma, mb = posterior_means(p, X)
    assert ma.shape == (4, 2) and mb.shape == (4, 3) and 0 <= float(ma.min()) <= 1


def test_model_difference_is_zero_for_permuted_copy_and_positive_otherwise():
    p = random_params(n_a=4, n_b=4)
    perm = configure(p, [3, 1, 0, 2])  # A's units permuted, B keeps 4..7 in order
    perm = replace_v(perm, p.V[:, [2, 0, 3, 1]])
    assert model_difference(p, perm) == pytest.approx(0.0, abs=1e-12)
    swapped = configure(p, [0, 1, 2, 4])
    assert model_difference(p, swapped) > 0.1


def replace_v(p, V):
    q = p.copy()
    q.V = V.clone()
    return q


def test_unit_configurations_count_and_uniqueness():
    configs = unit_configurations(5)
    assert len(configs) == math.comb(10, 5) // 2 == 126
    assert configs[0] == (0, 1, 2, 3, 4)
    halves = {frozenset(c) for c in configs} | {frozenset(set(range(10)) - set(c)) for c in configs}
    assert len(halves) == 252  # every split appears exactly once, never with its mirror image


def test_interpolation_endpoints():
    p = random_params(n_a=3, n_b=3)
    assert model_difference(interpolate_units(p, 1, 2, 1.0), p) == pytest.approx(0.0, abs=1e-12)
    swapped = configure(p, [0, 5, 2])  # unit 1 of A exchanged with unit 2 of B (index 5)
    assert model_difference(interpolate_units(p, 1, 2, 0.0), swapped) == pytest.approx(0.0, abs=1e-12)
    half = interpolate_units(p, 1, 2, 0.5)
    torch.testing.assert_close(half.W[:, 1], half.V[:, 2])


def test_fit_exact_increases_log_likelihood():
    g = torch.Generator().manual_seed(0)
    protos = torch.rand(2, 12, generator=g, dtype=torch.float64)
    X = protos[torch.randint(0, 2, (60,), generator=g)] + 0.1 * torch.randn(
        60, 12, generator=g, dtype=torch.float64
    )
    p = BroadnetParams.random(12, 2, 2, random_state=1)
    trained, history = fit_exact(p, X, epochs=10, lr=0.05, batch_size=16)
    assert history.shape == (11,)
    assert history[-1] > history[0] + 1.0
    assert model_difference(p, BroadnetParams.random(12, 2, 2, random_state=1)) == 0.0  # untouched


def test_bad_input_raises():
    p = random_params()
    with pytest.raises(ValueError, match="features"):
        log_likelihood(p, torch.zeros(3, 5))
    with pytest.raises(ValueError, match="distinct"):
        configure(p, [0, 0])
    with pytest.raises(ValueError, match="limited"):
        log_likelihood(BroadnetParams.random(4, 9, 9), torch.zeros(2, 4))
    net = net_from_params(p)
    net.a.c += 1.0
    with pytest.raises(ValueError, match="visible biases"):
        params_from_net(net)
