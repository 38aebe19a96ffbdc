"""Tests of lib.autoencoders and lib.training on small toy data (fast, CPU)."""

import numpy as np
import pytest
import torch

from lib.asae_runs import asae_epoch_scores
from lib.autoencoders import ASAE, Autoencoder, asae_loss
from lib.nets import make_optimiser
from lib.training import TrainConfig, as_tensor, evaluate, train


def toy_additive(n=600, seed=0):
    """Two independent parts on disjoint halves of a 16-pixel image: x = part_a + part_b.

    Each part is one of four fixed binary patterns scaled by 0.8, so labels are the pattern index.
    """
    rng = np.random.default_rng(seed)
    protos = (rng.random((2, 4, 8)) > 0.5).astype(np.float32) * 0.8
    label_a, label_b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    part_a = np.concatenate([protos[0][label_a], np.zeros((n, 8), np.float32)], 1)
    part_b = np.concatenate([np.zeros((n, 8), np.float32), protos[1][label_b]], 1)
    return part_a + part_b, part_a, part_b, label_a, label_b


def test_asae_output_is_sum_of_causes_and_fits_toy_data():
    torch.manual_seed(0)
    x_np, *_ = toy_additive()
    x = as_tensor(x_np)
    model = ASAE(16, 2, n_hidden=64)
    before = evaluate(model, x)
    train(model, x, TrainConfig(epochs=150, batch_size=64, seed=0))
    out = evaluate(model, x)
    np.testing.assert_allclose(out["y"], out["y_a"] + out["y_b"], atol=1e-6)
    assert out["y_a"].min() >= 0 and out["y_a"].max() <= 1  # each cause ends in a sigmoid
    mse_before = np.mean((before["y"] - x_np) ** 2)
    mse_after = np.mean((out["y"] - x_np) ** 2)
    assert mse_after < 0.1 * np.var(x_np, 0).mean() < mse_before


def _split_model(independent):
    """A tiny ASAE whose encoders see (independent) disjoint halves or (not) the same half."""
    torch.manual_seed(1)
    model = ASAE(16, 2, n_hidden=32)
    with torch.no_grad():
        first_a, first_b = model.a.encoder[0].weight, model.b.encoder[0].weight
        first_a[:, 8:] = 0
        if independent:
            first_b[:, :8] = 0
        else:
            first_b[:, 8:] = 0
    return model


def test_recorded_mi_falls_when_codes_are_independent_by_construction():
    x_np, part_a, part_b, label_a, label_b = toy_additive(n=800)
    x = as_tensor(x_np)
    dep = asae_epoch_scores(_split_model(False), x, part_a, part_b, label_a, label_b)
    ind = asae_epoch_scores(_split_model(True), x, part_a, part_b, label_a, label_b)
    assert dep["mi"] > 0.5
    assert ind["mi"] < 0.1
    assert ind["probe"] > 0.8 > 0.2 > dep["probe"]


def test_training_is_reproducible_for_a_fixed_seed():
    x = as_tensor(toy_additive(n=200)[0])

    def run(seed):
        torch.manual_seed(seed)
        model = ASAE(16, 2, n_hidden=16)
        hist = train(
            model,
            x,
            TrainConfig(epochs=3, batch_size=32, noise_std=0.1, seed=seed),
            on_epoch=lambda m: float(np.mean(evaluate(m, x)["y"])),
        )
        return hist, evaluate(model, x)["y"]

    (h1, y1), (h2, y2), (h3, _) = run(3), run(3), run(4)
    assert h1 == h2 and len(h1) == 4
    np.testing.assert_array_equal(y1, y2)
    assert h1 != h3


def test_l1_penalties_raise_the_loss_and_sgd_changes_weights():
    x = as_tensor(toy_additive(n=64)[0])
    model = Autoencoder(16, 2, n_hidden=8)
    out = model(x)
    plain = asae_loss(model, out, x)
    assert asae_loss(model, out, x, l1_weight=1e-3) > plain
    assert asae_loss(model, out, x, l1_activation=1e-3) > plain
    before = model.encoder[0].weight.detach().clone()
    train(model, x, TrainConfig(epochs=1, optimiser="sgd", lr=0.1, batch_size=16))
    assert not torch.equal(before, model.encoder[0].weight)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="optimiser"):
        make_optimiser(Autoencoder(4, 1, 2).parameters(), "adagrad")
    with pytest.raises(ValueError, match="learning rate"):
        make_optimiser(Autoencoder(4, 1, 2).parameters(), "sgd", lr=0)
    with pytest.raises(ValueError, match="dropout"):
        ASAE(4, 1, 2, dropout=1.0)
    with pytest.raises(ValueError, match="noise_std"):
        TrainConfig(noise_std=-1)


def test_rmsprop_is_eq_7_4_and_the_old_optimiser_stays_reachable(monkeypatch):
    """TrainConfig's "rmsprop" is lib.nets.RMSprop (eq. 7.4); "torch-rmsprop" with optimiser_eps
    1e-7 is the book's earlier chapter-8 optimiser; eps makes no sense for SGD or Adam."""
    import lib.training as training
    from lib.nets import RMSprop

    made = []
    real = training.make_optimiser
    monkeypatch.setattr(training, "make_optimiser", lambda *a, **k: made.append(real(*a, **k)) or made[-1])
    x = as_tensor(toy_additive(n=64)[0])
    train(ASAE(16, 2, n_hidden=8), x, TrainConfig(epochs=1, batch_size=32))
    train(
        ASAE(16, 2, n_hidden=8),
        x,
        TrainConfig(epochs=1, batch_size=32, optimiser="torch-rmsprop", optimiser_eps=1e-7),
    )
    assert type(made[0]) is RMSprop and made[0].defaults["eps"] == 1e-6
    assert type(made[1]) is torch.optim.RMSprop and made[1].defaults["eps"] == 1e-7
    with pytest.raises(ValueError, match="optimiser_eps"):
        TrainConfig(optimiser="sgd", optimiser_eps=1e-7)


def test_loss_sums_over_pixels_by_default_as_eq_7_1():
    """Eq. 7.1's unsubscripted norm is the squared 2-norm: summed over an example's pixels."""
    import torch

    from lib.autoencoders import ASAE, asae_loss

    torch.manual_seed(0)
    model = ASAE(6, 2, n_hidden=4)
    x = torch.rand(5, 6)
    out = model(x)
    total = asae_loss(model, out, x)
    assert torch.allclose(total, ((out["y"] - x) ** 2).sum(1).mean())
    assert torch.allclose(asae_loss(model, out, x, reduce="mean"), total / 6)
    with pytest.raises(ValueError, match="reduce must be one of"):
        asae_loss(model, out, x, reduce="median")
