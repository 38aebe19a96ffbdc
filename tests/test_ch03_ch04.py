"""Tests of the chapter 3 and 4 experiment modules (lib.chapters.ch03_broadnet,
lib.chapters.ch04_understanding_broadnets) and of the layering of the models they use."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from lib.chapters import ch03_broadnet as c3
from lib.chapters import ch04_understanding_broadnets as c4
from lib.profiles import PROFILES
from lib.rbm_exact import BroadnetParams

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("module", ["rbm", "rbm_exact"])
def test_model_modules_import_only_models(module):
    """lib.rbm and lib.rbm_exact are models: no experiments, chapters, data, metrics or plots
    (only lib.nets, the foundation's device choice)."""
    tree = ast.parse((ROOT / "lib" / f"{module}.py").read_text())
    imported = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    lib_modules = {m for m in imported if m and m.startswith("lib")}
    assert lib_modules <= {"lib", "lib.rbm", "lib.nets"}, lib_modules


@pytest.mark.parametrize("module", [c3, c4])
def test_sizes_cover_every_profile_with_the_same_keys(module):
    assert set(module.SIZES) == set(PROFILES)
    keys = {frozenset(v) for v in module.SIZES.values()}
    assert len(keys) == 1
    assert module.sizes("smoke") is module.SIZES["smoke"]
    with pytest.raises(ValueError, match="unknown profile"):
        module.sizes("huge")


def test_trivial_composite_is_the_sum_of_its_parts():
    x, a, b = c3.trivial_composite(50, -1, 1, seed=3)
    assert x.shape == a.shape == b.shape == (50, 2)
    np.testing.assert_array_equal(x, a + b)
    assert (a[:, 1] == 0).all() and (b[:, 0] == 0).all()


def test_expand_makes_every_combination_with_fixed_settings():
    configs = c3.expand({"p": [1, 2], "q": ["a", "b", "c"]}, r=0)
    assert len(configs) == 6 and all(c["r"] == 0 for c in configs)
    assert len({(c["p"], c["q"]) for c in configs}) == 6


def test_broadnet_run_round_trips_through_broadnet_from_run():
    """A stored run rebuilds to the same Broadnet: its scores against the parts match the run's."""
    cfg = dict(
        kind="trivial",
        n=40,
        data_range=(0, 1),
        sigma=1.0,
        lr=0.01,
        momentum=0.0,
        batch_size=8,
        regulariser=("l2", 0.0),
        n_hidden=3,
        bias_init=0.0,
        weight_scale=0.01,
        epochs=2,
        k=3,
        seed=1,
        track_scores=True,
    )
    result = c3.broadnet_run(**cfg)
    assert len(result["recon_error"]) == 2 and len(result["trace_score"]) == 2
    x, a, b = c3.trivial_composite(40, 0, 1, seed=1)
    net = c3.broadnet_from_run(result, cfg["sigma"], random_state=1)
    np.testing.assert_array_equal(net.a.W.numpy(), result["W_a"])
    scores = c3.part_scores(net, x, a, b, cfg["k"])
    assert set(scores) >= {"score", "separation_centred", "mse_a", "mse_b"}
    assert 0.0 <= scores["separation_centred"] <= 1.0


def test_part_correlations_of_perfect_reconstructions():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(30, 5)), rng.normal(size=(30, 5))
    corr = c3.part_correlations(a, b, a, b)
    assert corr[0][0] == pytest.approx(1.0) and corr[1][1] == pytest.approx(1.0)
    assert c3.part_correlations(np.zeros((30, 5)), b, a, b)[0] == [0.0, 0.0]


def test_bias_share_is_zero_when_one_cause_is_constant():
    """A cause with zero weights adds the same (zero) image to every input: it is a bias."""
    p = BroadnetParams.random(6, 2, 2, random_state=0)
    p.V.zero_()
    X = torch.randn(20, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert c4.bias_share(p, X) == pytest.approx(0.0, abs=1e-12)
    assert 0.0 < c4.bias_share(BroadnetParams.random(6, 2, 2, random_state=1), X) <= 0.5


def test_params_from_result_round_trip():
    p0 = BroadnetParams.random(6, 2, 3, sigma=0.7, random_state=2)
    p = BroadnetParams.random(6, 2, 3, sigma=0.7, random_state=3)
    result = {**c4._weights("", p), **c4._weights("init_", p0)}
    for prefix, q in (("", p), ("init_", p0)):
        back = c4.params_from_result(result, prefix)
        assert back.sigma == q.sigma and back.scale == q.scale
        for k, v in q.tensors().items():
            torch.testing.assert_close(getattr(back, k), v)


def test_configuration_labels_and_interpolation_pairs():
    assert c4.swapped_units((0, 1, 2, 3, 4)) == "A [] <-> B []"
    assert c4.swapped_units((0, 1, 2, 3, 5)) == "A [5] <-> B [1]"
    pairs = c4.interpolation_pairs(4, seed=0)
    assert pairs == c4.interpolation_pairs(4, seed=0)
    assert len(pairs) == 4 and all(0 <= j < 5 and 0 <= k < 5 for j, k in pairs)


def test_spike_analysis_finds_the_planted_spike():
    trace = np.zeros((200, 4))
    trace[:, 0], trace[:, 1] = 1.0, -1.0
    trace[120:, 0] = 2.0  # |W| jumps between iterations 119 and 120 ...
    trace[125:, 1] = -1.5  # ... and |V| follows
    sp = c4.spike_analysis(trace, n_spikes=1)
    assert sp.t0 == 119 and bool(sp.both_after[0])
