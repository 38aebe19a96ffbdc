"""Tests of lib.nets: eq. 7.4's RMSprop, the one optimiser factory, the Glorot MLP, the device choice."""

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from lib.nets import RMSprop, device, glorot_, make_optimiser, mlp

# A two-weight parameter W0 = [1, -2] with gradients g1 = [0.5, -0.1], then g2 = [-0.2, 0.3];
# lr 0.01, gamma 0.9, eps 1e-6. Expected values are the eq. 7.4 formula worked by hand:
#
# form "lasagne" (v = 0.9 v + 0.1 g^2):
#   v1 = 0.1 * [0.25, 0.01] = [0.025, 0.001]
#   W1 = W0 - 0.01 * g1 / sqrt(v1 + 1e-6)
#      = [1 - 0.005 / sqrt(0.025001), -2 + 0.001 / sqrt(0.001001)]
#      = [0.9683778558348752, -1.9683930229379494]
#   v2 = 0.9 v1 + 0.1 * [0.04, 0.09] = [0.0265, 0.0099]
#   W2 = W1 - 0.01 * g2 / sqrt(v2 + 1e-6)
#      = [W1_0 + 0.002 / sqrt(0.026501), W1_1 - 0.003 / sqrt(0.009901)]
#      = [0.9806635263686366, -1.9985426347265098]
# form "printed" (v = g^2 + 0.9 v):
#   v1 = [0.25, 0.01];            W1 = [1 - 0.005 / sqrt(0.250001), -2 + 0.001 / sqrt(0.010001)]
#                                    = [0.99000001999994, -1.9900004999625032]
#   v2 = [0.04 + 0.225, 0.09 + 0.009] = [0.265, 0.099]
#                                 W2 = [0.9938851561189305, -1.9995350777006478]
# heavy-ball momentum 0.9 on top of "lasagne": s_t = 0.01 g_t / sqrt(v_t + 1e-6),
#   b1 = s1, W1 as above; b2 = 0.9 s1 + s2 = [0.016174259214850904, 0.0017033324327149213],
#   W2 = W1 - b2 = [0.9522035966200243, -1.9700963553706643]
W0, G1, G2 = [1.0, -2.0], [0.5, -0.1], [-0.2, 0.3]
EXPECTED = {
    "lasagne": {
        "v1": [0.025, 0.001],
        "w1": [0.9683778558348752, -1.9683930229379494],
        "v2": [0.0265, 0.0099],
        "w2": [0.9806635263686366, -1.9985426347265098],
    },
    "printed": {
        "v1": [0.25, 0.01],
        "w1": [0.99000001999994, -1.9900004999625032],
        "v2": [0.265, 0.099],
        "w2": [0.9938851561189305, -1.9995350777006478],
    },
}


def two_steps(opt_fn, grads=(G1, G2)):
    """Apply the given gradients to W0 with the optimiser opt_fn([w]); return W after each step."""
    w = nn.Parameter(torch.tensor(W0, dtype=torch.float64))
    opt = opt_fn([w])
    out = []
    for g in grads:
        w.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        out.append(w.detach().clone())
    return w, opt, out


@pytest.mark.parametrize("form", ["lasagne", "printed"])
def test_one_and_two_steps_match_the_hand_computed_update(form):
    w, opt, (w1, w2) = two_steps(lambda p: RMSprop(p, lr=0.01, gamma=0.9, eps=1e-6, form=form))
    exp = EXPECTED[form]
    np.testing.assert_allclose(w1.numpy(), exp["w1"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2.numpy(), exp["w2"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(opt.state[w]["square_avg"].numpy(), exp["v2"], rtol=1e-12)
    assert "momentum_buffer" not in opt.state[w]
    assert int(opt.state[w]["step"]) == 2


def test_first_step_state_matches_the_formula():
    w, opt, _ = two_steps(lambda p: RMSprop(p, lr=0.01), grads=(G1,))
    np.testing.assert_allclose(opt.state[w]["square_avg"].numpy(), EXPECTED["lasagne"]["v1"], rtol=1e-12)


def test_heavy_ball_momentum_on_top_of_eq_7_4():
    w, opt, (w1, w2) = two_steps(lambda p: RMSprop(p, lr=0.01, momentum=0.9))
    np.testing.assert_allclose(w1.numpy(), EXPECTED["lasagne"]["w1"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(w2.numpy(), [0.9522035966200243, -1.9700963553706643], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        opt.state[w]["momentum_buffer"].numpy(), [0.016174259214850904, 0.0017033324327149213], rtol=1e-12
    )


def test_lasagne_form_equals_torch_rmsprop_when_eps_is_negligible():
    """With large gradients eps's place does not matter: eq. 7.4 (lasagne form) = torch's RMSprop."""
    big = ([50.0, -10.0], [-20.0, 30.0])
    _, _, ours = two_steps(lambda p: RMSprop(p, lr=0.01, eps=1e-12), big)
    _, _, theirs = two_steps(lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-12), big)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_eps_inside_the_root_damps_tiny_gradients():
    """g = 1e-5: eps inside sqrt(v + eps) gives a step ~ lr g / sqrt(eps) = 1e-5 (SGD-like); torch's
    eps outside divides g by about its own size and steps ~ lr / (sqrt(0.1) + 0.1) = 2.4e-3."""
    tiny = ([1e-5, -1e-5],)
    lr = 1e-3
    _, _, (inside,) = two_steps(lambda p: make_optimiser(p, "rmsprop", lr), tiny)
    _, _, (outside,) = two_steps(lambda p: make_optimiser(p, "torch-rmsprop", lr), tiny)
    step_in = (torch.tensor(W0, dtype=torch.float64) - inside).abs()
    step_out = (torch.tensor(W0, dtype=torch.float64) - outside).abs()
    expected_in = lr * 1e-5 / math.sqrt(0.1 * 1e-10 + 1e-6)
    expected_out = lr * 1e-5 / (math.sqrt(0.1 * 1e-10) + 1e-6)
    np.testing.assert_allclose(step_in.numpy(), expected_in, rtol=1e-9)
    np.testing.assert_allclose(step_out.numpy(), expected_out, rtol=1e-6)
    assert (step_in * 100 < step_out).all()  # inside damps by more than 100 x
    # a large gradient takes (nearly) the same step either way
    _, _, (a,) = two_steps(lambda p: make_optimiser(p, "rmsprop", lr), ([1.0, -1.0],))
    _, _, (b,) = two_steps(lambda p: make_optimiser(p, "torch-rmsprop", lr), ([1.0, -1.0],))
    torch.testing.assert_close(a, b, rtol=0, atol=1e-8)


def test_params_without_or_with_zero_gradient_are_untouched():
    used = nn.Parameter(torch.tensor([1.0, 2.0]))
    unused = nn.Parameter(torch.tensor([3.0, 4.0]))  # grad None
    zero = nn.Parameter(torch.tensor([5.0, 6.0]))  # grad exactly zero
    opt = RMSprop([used, unused, zero], lr=0.1, momentum=0.9)
    for _ in range(3):
        used.grad = torch.tensor([0.3, -0.3])
        zero.grad = torch.zeros(2)
        opt.step()
    assert torch.equal(unused, torch.tensor([3.0, 4.0])) and unused not in opt.state
    assert torch.equal(zero, torch.tensor([5.0, 6.0]))
    assert not torch.equal(used, torch.tensor([1.0, 2.0]))


def _trained(opt_kw, steps, seed=0):
    torch.manual_seed(seed)
    net = mlp(5, 8, 1, 3)
    opt = make_optimiser(net.parameters(), "rmsprop", 1e-2, **opt_kw)
    x = torch.randn(32, 5, generator=torch.Generator().manual_seed(1))
    return net, opt, x


def _steps(net, opt, x, n):
    for _ in range(n):
        opt.zero_grad()
        (net(x) ** 2).mean().backward()
        opt.step()


@pytest.mark.parametrize("kw", [{}, {"momentum": 0.9, "form": "printed"}])
def test_state_dict_round_trip_resumes_identically(kw):
    net, opt, x = _trained(kw, 0)
    _steps(net, opt, x, 3)
    buf = io.BytesIO()
    torch.save({"net": net.state_dict(), "opt": opt.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)
    net2, opt2, _ = _trained(kw, 0, seed=5)  # different weights before loading
    net2.load_state_dict(saved["net"])
    opt2.load_state_dict(saved["opt"])
    assert opt2.param_groups[0]["form"] == kw.get("form", "lasagne")
    _steps(net, opt, x, 4)
    _steps(net2, opt2, x, 4)
    for a, b in zip(net.parameters(), net2.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    "kw, name",
    [
        (dict(lr=-1e-3), "lr"),
        (dict(eps=-1e-6), "eps"),
        (dict(eps=0.0), "eps"),
        (dict(gamma=1.0), "gamma"),
        (dict(gamma=-0.1), "gamma"),
        (dict(momentum=1.0), "momentum"),
        (dict(form="keras"), "form"),
    ],
)
def test_bad_arguments_name_the_argument(kw, name):
    with pytest.raises(ValueError, match=name):
        RMSprop([nn.Parameter(torch.zeros(2))], **kw)


def test_factory_names_and_errors():
    p = [nn.Parameter(torch.zeros(2))]
    assert isinstance(make_optimiser(p, "rmsprop"), RMSprop)
    assert isinstance(make_optimiser(p, "adam"), torch.optim.Adam)
    assert isinstance(make_optimiser(p, "sgd", momentum=0.5), torch.optim.SGD)
    old = make_optimiser(p, "torch-rmsprop", eps=1e-7)
    assert type(old) is torch.optim.RMSprop and old.defaults["alpha"] == 0.9 and old.defaults["eps"] == 1e-7
    with pytest.raises(ValueError, match="optimiser"):
        make_optimiser(p, "adagrad")
    with pytest.raises(ValueError, match="learning rate"):
        make_optimiser(p, "sgd", lr=0)
    with pytest.raises(ValueError, match="torch-rmsprop"):
        make_optimiser(p, "torch-rmsprop", form="printed")


def test_rmsprop_fits_a_small_regression():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]])
    net = mlp(4, 16, 1, 1)
    opt = make_optimiser(net.parameters(), "rmsprop", 1e-2)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = ((net(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < 0.02 * first


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu():
    outs = []
    for dev in ("cpu", "cuda"):
        w = nn.Parameter(torch.tensor(W0, dtype=torch.float64, device=dev))
        opt = RMSprop([w], lr=0.01, momentum=0.9)
        for g in (G1, G2):
            w.grad = torch.tensor(g, dtype=torch.float64, device=dev)
            opt.step()
        outs.append(w.detach().cpu())
    torch.testing.assert_close(outs[0], outs[1], rtol=1e-12, atol=1e-12)


def test_mlp_layout_and_glorot_initialisation():
    torch.manual_seed(0)
    net = mlp(20, 30, 2, 5, sigmoid=True)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "Sigmoid"]
    for m in net:
        if isinstance(m, nn.Linear):
            bound = math.sqrt(6 / (m.in_features + m.out_features))
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.8 * bound
            assert torch.count_nonzero(m.bias) == 0
    drop = mlp(4, 6, 1, 2, dropout=0.5)
    assert [type(m).__name__ for m in drop] == ["Linear", "ReLU", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="dropout"):
        mlp(4, 6, 1, 2, dropout=1.0)
    with pytest.raises(ValueError, match="positive"):
        mlp(0, 6, 1, 2)
    raw = mlp(4, 6, 1, 2, init=False)
    assert torch.count_nonzero(raw[0].bias) > 0  # torch's default init left in place
    glorot_(raw)
    assert torch.count_nonzero(raw[0].bias) == 0


def test_device_choice(monkeypatch):
    monkeypatch.delenv("BOOK_DEVICE", raising=False)
    assert device() == ("cuda" if torch.cuda.is_available() else "cpu")
    assert device("cpu") == "cpu"
    monkeypatch.setenv("BOOK_DEVICE", "cpu")
    assert device() == "cpu"
    with pytest.raises(RuntimeError):
        device("not-a-device")
