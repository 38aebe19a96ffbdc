"""The experiment modules of chapters 1, 2, 5, 6 and 7 (lib.chapters.*): sizes, configurations,
summaries and claims, on tiny inputs."""

import numpy as np
import pytest

import lib.chapters.ch01_introduction as ch1
import lib.chapters.ch02_energy_models as ch2
import lib.chapters.ch05_ica as ch5
import lib.chapters.ch06_ppica as ch6
import lib.chapters.ch07_neural_networks as ch7
from lib.claims import make_claim
from lib.data import make_composite
from lib.profiles import PROFILES


class FakeRecord:
    """The part of lib.experiments.Record that the chapter modules call."""

    def __init__(self):
        self.metrics, self.claims = {}, {}

    def metric(self, name, value, thesis=None):
        self.metrics[name] = value

    def claim(self, claim_id, **fields):
        self.claims[claim_id] = make_claim(claim_id, chapter="test", **fields)
        return self.claims[claim_id]


@pytest.mark.parametrize("module", [ch1, ch2, ch5, ch6, ch7])
def test_every_profile_has_sizes(module):
    assert set(module.SIZES) == set(PROFILES)
    keys = {frozenset(row) for row in module.SIZES.values()}
    assert len(keys) == 1, "every profile must set the same sizes"


def test_ch01_combinations_and_mixtures():
    counts = ch1.combinations(np.array([0, 1, 2, 3, 4, 5, 6, 0]))
    assert counts["possible composites"] == 4 * 3
    assert counts["parts a disentangled model must represent"] == 7
    z = np.random.default_rng(0).normal(size=(50, 3))
    m_a, m_b = ch1.random_mixture(z, z[:, :2], np.random.default_rng(1))
    assert m_a.shape == (50, 3) and m_b.shape == (50, 2)


def test_ch01_mi_separates_independent_codes_from_mixtures():
    data = {"toy_lines": make_composite("toy_lines", n=300, seed=0)}
    size = dict(ch1.SIZES["smoke"], n_mi=300)
    rows = ch1.mi_rows(data, size, seed=0)
    rec = FakeRecord()
    assert ch1.record_mi(rec, rows, size["pca_dims"]) in ("agrees", "does NOT agree")
    (kind, n, parts, _, _, mixed) = rows[0]
    assert kind == "toy_lines" and n == 300 and mixed > parts
    assert set(ch1.CLAIM_IDS) <= set(rec.claims)


def test_ch02_explaining_away_and_relu():
    p_a, p_ae = ch2.explaining_away()
    assert p_a == pytest.approx(0.3736, abs=1e-3)  # Russell and Norvig's 0.374
    assert p_ae < p_a
    rec = FakeRecord()
    assert ch2.record_explaining_away(rec, p_a, p_ae)["verdict"] == "agrees"
    x = np.linspace(-6, 20, 261)
    shifted, softplus = ch2.shifted_sigmoids(x, n_copies=100)
    assert ch2.record_relu(rec, x, shifted, softplus)["verdict"] == "agrees"
    assert ch2.sizes("thesis", n_digits=1000)["n_images"] == 1000 - ch2.N_HELD_OUT


def test_ch05_checks_on_small_samples():
    rng = np.random.default_rng(0)
    table = ch5.nongaussianity(rng, 5000)
    assert table["laplace"][0] > 0 > table["uniform"][0]
    rec = FakeRecord()
    ch5.record_nongaussianity(rec, table, 5000)
    kurt, samples = ch5.central_limit(rng, 2000, n_mix=[1, 32])
    assert abs(kurt[1]) < abs(kurt[0]) and set(samples) == set(table)
    est = ch5.mi_estimates(200, seed=0, rhos=np.array([0.0, 0.9]), bin_counts=[4])
    errors = ch5.record_estimators(rec, est, bin_counts=[4])
    assert set(errors[1]) == {"KSG", "binned 4"}
    share = np.array([0.9, 0.1, 0.8, 0.2, 0.95])
    ch5.record_ica(rec, share)
    assert rec.metrics["fig5_1_upright_components"] == 3
    assert {"5.2-kurtosis-sign", "5.3-ksg-vs-binned", "5.1-not-grouped"} <= set(rec.claims)


def test_ch06_configs_groups_and_summaries():
    cfgs = ch6.configs([10, 20], [0, 1], n=300, n_sweeps=3, data_seed=0, data_dir=None)
    assert [(c["n_components"], c["seed"]) for c in cfgs] == [(10, 0), (10, 1), (20, 0), (20, 1)]
    assert all(c["tol"] == ch6.TOL and "moves" not in c for c in cfgs)
    swap = ch6.configs([10], [0], n=300, n_sweeps=3, data_seed=0, data_dir=None, moves="swap")
    assert swap[0]["moves"] == "swap"
    tols = ch6.configs([10], [0, 1], n=300, n_sweeps=3, data_seed=0, data_dir=None, tols=[0.5, 1e-2])
    assert [c["tol"] for c in tols] == [0.5, 0.5, 1e-2, 1e-2]
    runs = [{k: float(i) for k in ch6.SUMMARY_KEYS} for i in range(4)]
    groups = ch6.group_by(cfgs, runs, "n_components")
    assert list(groups) == [10, 20] and len(groups[10]) == 2
    assert ch6.summarise(groups[20])["share"] == (2.5, 0.5)


def test_ch06_landscape_rows():
    land = {5: {"truth": 0.0, "random": np.array([1.0, 3.0]), "one_vs_rest": np.array([-1.0, 1.0])}}
    row = ch6.landscape_rows(land)[5]
    assert row["truth below random (sd)"] == pytest.approx(2.0)
    assert row["one-vs-rest splits below the truth"] == 0.5


def test_ch07_configs_and_claims():
    size = ch7.SIZES["smoke"]
    cfgs = ch7.configs(size, seed=0, data_dir=None)
    assert len(cfgs) == len(size["code_sizes"]) * len(ch7.OPTIMISERS) * size["n_seeds"]
    spread = {"rmsprop": 0.6, "adam": 0.5, "sgd": 0.01}
    runs = [
        {
            "mse": np.array([2.0, 1.0]),
            "mean_image_mse": 2.0,
            "spread": np.array([0.0, spread[c["optimiser"]]]),
        }
        for c in cfgs
    ]
    assert len(ch7.group(cfgs, runs, 2, "SGD 1e-3")) == size["n_seeds"]
    summary = ch7.summarise(cfgs, runs, size["code_sizes"])
    assert summary[2, "RMSprop"] == (0.5, 0.6)
    rec = FakeRecord()
    ch7.record_results(rec, summary, size["code_sizes"])
    assert rec.claims["7.2-sgd-mean-image"]["verdict"] == "agrees"
    assert rec.metrics["sgd_learns_little_beyond_mean"] is True
    assert len(ch7.summary_table(summary)) == len(ch7.OPTIMISERS)
