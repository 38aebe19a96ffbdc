"""Post-processed ICA (lib.ppica): incremental KSG cost, annealer, estimator; truth scoring
(lib.chapters.ch06_ppica)."""

import numba
import numpy as np
import pytest

import lib.ppica
from lib.chapters.ch06_ppica import assigned_share, chance_share, share_trace, upright_share
from lib.mi import ksg_from_radii, ksg_joint_radii, ksg_mi, standardize
from lib.ppica import IncrementalKSG, PostprocessedICA, acceptance, anneal, temperature

numba.set_num_threads(1)  # tiny problems: threads cost more than they save on a shared machine


def two_groups(n=1000, per=4, seed=1):
    """Two independent groups of Laplace sources; within a group they share a random scale,
    so sources are dependent inside a group and independent across groups."""
    rng = np.random.default_rng(seed)
    groups = [np.exp(rng.normal(size=(n, 1))) * rng.laplace(size=(n, per)) for _ in range(2)]
    return np.hstack(groups), np.arange(2 * per) < per


def test_incremental_mi_equals_from_scratch_after_every_flip():
    S, _ = two_groups(n=300, per=3)
    z = standardize(S, noise=True, random_state=0)
    eps = ksg_joint_radii(z, k=3)
    in_a = np.array([1, 0, 1, 0, 1, 0], bool)
    cost = IncrementalKSG(z, eps, in_a, k=3)
    for j in [0, 3, 3, 5, 1, 2, 4]:
        m = cost.in_a.copy()
        m[j] = not m[j]
        predicted = cost.flip_cost(j)
        assert np.array_equal(cost.in_a, m ^ (np.arange(6) == j)), "flip_cost changed the state"
        cost.flip(j)
        scratch = ksg_from_radii(z[:, m], z[:, ~m], eps, k=3)
        assert predicted == pytest.approx(scratch, abs=1e-12)
        assert cost.mi == pytest.approx(scratch, abs=1e-12)


def test_incremental_mi_matches_ksg_mi_with_the_same_noise():
    # ksg_mi standardises x and then y with one generator; reproduce that noise exactly.
    S, _ = two_groups(n=250, per=2)
    x, y = S[:, :3], S[:, 3:]
    rng = np.random.default_rng(7)
    z = np.hstack([standardize(x, True, rng), standardize(y, True, rng)])
    cost = IncrementalKSG(z, ksg_joint_radii(z, 3), np.arange(4) < 3, k=3)
    assert cost.mi == pytest.approx(ksg_mi(x, y, k=3, random_state=7), abs=1e-12)


def test_annealer_recovers_two_independent_groups():
    S, truth = two_groups()
    recovered = [
        assigned_share(PostprocessedICA(8, n_sweeps=20, random_state=s).fit_sources(S).membership_, truth)
        for s in range(4)
    ]
    assert sum(r == 1.0 for r in recovered) >= 3, recovered


def test_fit_on_linear_mixture_groups_by_true_cause():
    S, truth = two_groups(n=1000)
    mix = np.random.default_rng(3).normal(size=(20, 8))
    part_a, part_b = S[:, truth] @ mix[:, truth].T, S[:, ~truth] @ mix[:, ~truth].T
    shares = []
    for seed in range(6):
        model = PostprocessedICA(8, tol=1e-4, n_sweeps=20, random_state=seed).fit(part_a + part_b)
        share_a = upright_share(model.sources_, part_a, part_b)
        assert np.all(np.maximum(share_a, 1 - share_a) > 0.95), "ICA sources mix both causes"
        shares.append(assigned_share(model.membership_, share_a > 0.5))
    # The annealer can stall in a 7/1 split (a local minimum of eq. 6.2); most runs must not.
    assert sum(s == 1.0 for s in shares) >= 4, shares
    full = model.reconstruct("a") + model.reconstruct("b")
    assert np.allclose(full, model.reconstruct("both"))


def test_all_in_one_cause_is_never_returned_or_visited():
    # Two sources: every accepted flip from a 1/1 split would empty a cause, so none is accepted.
    S, _ = two_groups(n=200, per=1)
    z = standardize(S, True, 0)
    in_a, trace, moved, _ = anneal(
        z, ksg_joint_radii(z, 3), np.array([True, False]), n_iter=60, t0=1e6, rng=0
    )
    assert list(in_a) == [True, False] and np.all(moved == -1)
    S, _ = two_groups(n=200, per=2)
    for seed in range(5):
        model = PostprocessedICA(4, n_sweeps=30, t0=10.0, random_state=seed).fit_sources(S)
        state = model.initial_membership_.copy()
        for j in model.moved_[model.moved_ >= 0]:
            state[j] = not state[j]
            assert 0 < state.sum() < 4
        assert np.array_equal(state, model.membership_)


def test_swap_moves_keep_cause_sizes_and_find_the_groups():
    S, truth = two_groups()
    for seed in range(3):
        model = PostprocessedICA(8, n_sweeps=10, moves="swap", random_state=seed).fit_sources(S)
        assert model.membership_.sum() == 4
        assert assigned_share(model.membership_, truth) == 1.0


def test_temperature_schedule_eq_6_4():
    assert temperature(1, 50) == pytest.approx(0.1)
    assert temperature(49, 50) == pytest.approx(0.1)
    assert temperature(50, 50) == pytest.approx(0.05)
    assert temperature(149, 50) == pytest.approx(0.1 / 3)


def test_upright_share_splits_each_source_exactly():
    rng = np.random.default_rng(0)
    part_a, part_b = np.zeros((500, 6)), np.zeros((500, 6))
    part_a[:, :3], part_b[:, 3:] = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    x = part_a + part_b
    sources = np.stack([x[:, 0], x[:, 4], x[:, 1] + x[:, 5]], 1)  # a only, b only, both
    share = upright_share(sources, part_a, part_b)
    assert share[0] > 0.98 and share[1] < 0.02 and share[2] == pytest.approx(0.5, abs=0.1)


def test_shares_and_chance():
    truth = np.array([1, 1, 1, 0, 0, 0], bool)
    assert assigned_share(~truth, truth) == 1.0
    assert assigned_share([1, 0, 1, 0, 1, 0], truth) == pytest.approx(4 / 6)
    assert 0.5 <= chance_share(truth, truth) < 0.8
    weights = np.array([1, 1, 1, 1, 0, 0])
    assert assigned_share([1, 1, 1, 0, 1, 1], truth, weights) == 1.0
    moved = np.array([[-1, -1], [2, -1], [3, -1], [-1, -1], [1, 3]])
    trace = share_trace(np.array([1, 1, 0, 0, 0, 0], bool), moved, truth)
    assert trace.tolist() == pytest.approx([5 / 6, 1.0, 5 / 6, 5 / 6, 5 / 6])


def test_bad_input_is_rejected():
    S, _ = two_groups(n=100, per=1)
    z = standardize(S, True, 0)
    with pytest.raises(ValueError, match="one cause"):
        IncrementalKSG(z, ksg_joint_radii(z, 3), np.array([True, True]))
    with pytest.raises(ValueError, match="n_components"):
        PostprocessedICA(1).fit(S)
    with pytest.raises(ValueError, match="moves"):
        PostprocessedICA(2, moves="jump").fit_sources(S)
    with pytest.raises(ValueError, match="membership"):
        PostprocessedICA(2).fit_sources(S, membership=[True])
    with pytest.raises(ValueError, match="exceeds"):
        PostprocessedICA(10).fit(S)
    with pytest.raises(ValueError, match="cause must be"):
        PostprocessedICA(2, n_sweeps=1, random_state=0).fit(S @ np.eye(2)).reconstruct("c")


def test_init_only_stores_and_fit_returns_self():
    # scikit-learn convention: no validation in __init__, fitted state ends in "_"
    model = PostprocessedICA(1, n_sweeps=0, moves="jump", random_state=3)
    assert (model.n_components, model.n_sweeps, model.moves, model.random_state) == (1, 0, "jump", 3)
    assert not [k for k in vars(model) if k.endswith("_")]
    S, _ = two_groups(n=200, per=2)
    model = PostprocessedICA(4, n_sweeps=2, random_state=0)
    assert model.fit_sources(S) is model
    assert model.mi_ == model.mi_trace_[-1]


def test_fit_sources_with_a_given_membership_skips_annealing():
    S, truth = two_groups(n=200, per=2)
    model = PostprocessedICA(4).fit_sources(S, membership=truth.astype(int))
    assert model.membership_.dtype == bool and np.array_equal(model.membership_, truth)
    assert np.array_equal(model.sources_, S)
    assert not hasattr(model, "mi_trace_")


def test_acceptance_is_eq_5_9_and_the_annealer_uses_it(monkeypatch):
    deltas = np.array([-1.0, 0.0, 0.05, 0.3])
    expected = np.minimum(1.0, np.exp(-deltas / 0.1))
    assert np.allclose(acceptance(deltas, 0.1), expected)
    assert acceptance(-1e6, 1e-9) == 1.0  # no overflow for a large downhill move
    S, _ = two_groups(n=200, per=2)
    z = standardize(S, True, 0)
    eps = ksg_joint_radii(z, 3)
    start = np.array([True, False, True, False])
    monkeypatch.setattr(lib.ppica, "acceptance", lambda delta, temp: 0.0)  # reject every move
    in_a, _, moved, _ = anneal(z, eps, start, n_iter=20, rng=0)
    assert np.array_equal(in_a, start) and np.all(moved == -1)
