"""The calibrated ground-truth decision and its controls (lib.controls, lib.metrics `control=`).

On real digits (the bundled MNIST, Simple composites) at n = 1000 rows: oracle codes must be
called disentangled; mixed, one-side-collapsed and one-code-carries-both codes must not; and a
ruler whose controls fail must turn a ground-truth verdict into "not tested".
"""

import numpy as np
import pytest

from lib.claims import criteria_sentence, guarded
from lib.controls import (
    both_in_one_codes,
    collapsed_codes,
    control_rows,
    error_rates,
    joint_ruler,
    judge,
    make_ruler,
    mixed_codes,
    oracle_codes,
    projection_codes,
    ruler_reading,
)
from lib.data import make_composite
from lib.metrics import CONTROL_SHARE, disentanglement

N = 1000


@pytest.fixture(scope="module")
def simple():
    comp = make_composite("simple", n=N, seed=0, binarise=True)
    _, pa, pb = comp.flat()
    return pa, pb, comp.label_a, comp.label_b


@pytest.fixture(scope="module")
def oracle(simple):
    pa, pb, _, _ = simple
    return oracle_codes(pa, pb, 10)


def decide(codes, simple, oracle, **kw):
    return judge(*codes, simple[2], simple[3], oracle, **kw)


def test_oracle_codes_refitted_on_other_rows_are_disentangled(simple, oracle):
    half = np.random.default_rng(3).permutation(N)[: N // 2]
    d = decide(oracle_codes(simple[0], simple[1], 10, fit_rows=half), simple, oracle)
    assert d["disentangled"] and d["testable"] and d["decision"] == "control"
    assert d["score_unclipped"] > 0.9 * d["control_score"]


def test_random_projections_of_each_part_are_disentangled(simple, oracle):
    d = decide(projection_codes(simple[0], simple[1], 10, random_state=5), simple, oracle)
    assert d["disentangled"]
    # the fixed bar of 0.5 would have failed them: they carry less of the label than the oracle
    assert d["score_unclipped"] < 0.5


@pytest.mark.parametrize(
    "build",
    [mixed_codes, collapsed_codes, both_in_one_codes],
    ids=["mixed", "collapsed", "one-holds-both"],
)
def test_negative_controls_are_not_disentangled(simple, oracle, build):
    d = decide(build(*oracle), simple, oracle)
    assert not d["disentangled"]
    assert d["score_unclipped"] < CONTROL_SHARE * d["control_score"]


def test_partly_mixed_codes_sit_between_and_an_equal_mix_fails(simple, oracle):
    oa, ob = oracle
    scores = []
    for w in (0.0, 0.3, 0.5):  # 0.5 = an equal mix of both parts in each code
        mix = ((1 - w) * oa + w * ob, (1 - w) * ob + w * oa)
        scores.append(decide(mix, simple, oracle, n_permutations=0)["score_unclipped"])
    assert scores[0] > scores[1] > scores[2]
    assert scores[2] < 0.05


def test_result_keeps_its_keys_and_gains_the_control_and_matrix(simple, oracle):
    d = disentanglement(*oracle, simple[2], simple[3], control=oracle, n_permutations=20, with_dci=False)
    for key in (
        "score",
        "disentangled",
        "informativeness",
        "exclusivity",
        "control_score",
        "matrix",
    ):
        assert key in d
    m = np.asarray(d["matrix"])
    assert m.shape == (2, 2) and m[0, 0] > 0.5 and m[1, 1] > 0.5 and abs(m[0, 1]) < 0.1
    assert d["control_score"] == pytest.approx(d["score_unclipped"])
    assert d["threshold"] == pytest.approx(max(CONTROL_SHARE * d["control_score"], d["null"]["value"]))


def test_without_a_control_the_fixed_rule_still_applies(simple, oracle):
    d = disentanglement(*oracle, simple[2], simple[3], n_permutations=20, with_dci=False)
    assert d["decision"] == "fixed" and d["testable"] is None and d["threshold"] >= 0.5


def test_a_control_that_does_not_beat_the_null_makes_the_ruler_untestable(simple, oracle):
    noise = np.random.default_rng(0).normal(size=(N, 10))
    d = disentanglement(*oracle, simple[2], simple[3], control=(noise, noise[::-1]), with_dci=False)
    assert d["testable"] is False and d["disentangled"] is False


def test_bad_controls_are_refused_with_a_clear_error(simple, oracle):
    with pytest.raises(ValueError, match="control must be a pair"):
        disentanglement(*oracle, simple[2], simple[3], control=oracle[0])
    with pytest.raises(ValueError, match="1000 rows"):
        disentanglement(*oracle, simple[2], simple[3], control=(oracle[0][:10], oracle[1][:10]))
    with pytest.raises(ValueError, match="NaN"):
        disentanglement(*oracle, simple[2], simple[3], control=(oracle[0] * np.nan, oracle[1]))


def test_error_rates_on_the_controls_across_seeds(simple):
    rates = error_rates(*simple, width=10, seeds=(0, 1))
    assert rates["false_negative_rate"] == 0.0
    assert rates["false_positive_rate"] == 0.0
    assert rates["n_positive"] == 6 and rates["n_negative"] == 6


def test_the_mi_scale_shows_why_mi_alone_misleads(simple):
    rows = {r["control"]: r for r in control_rows(*simple, width=2)}
    separate = rows["oracle (per-part PCA)"]["mi"]
    mixed = rows["built-mixed (each code half of each part)"]["mi"]
    both = rows["one code carries both"]["mi"]
    assert mixed > separate + 0.1
    # one code holding both parts has near-zero MI with a noise code: MI < 0.1 "passes" it,
    # the ground truth does not
    assert both < 0.1 and not rows["one code carries both"]["disentangled"]


def _ruler(correct):
    rows = [
        {"control": "oracle (per-part PCA)", "kind": "positive", "score": 0.8, "share of oracle": 1.0,
         "disentangled": True, "correct": True, "mi": 0.0},
        {"control": "supervised ceiling", "kind": "positive", "score": 0.1, "share of oracle": 0.12,
         "disentangled": correct, "correct": correct, "mi": float("nan")},
    ]  # fmt: skip
    return make_ruler("Simple MNIST, 2 units per cause", rows)


def test_no_does_not_agree_without_a_passing_positive_control():
    broken, sound = _ruler(False), _ruler(True)
    assert guarded("does not agree", broken) == "not tested"
    assert guarded("agrees", broken) == "not tested"
    assert guarded("does not agree", sound) == "does not agree"
    assert guarded("partly", None) == "not tested"
    assert "supervised ceiling (positive) scored 0.10, 12% of the oracle" in ruler_reading(
        [dict(c, correct=c["disentangled"]) for c in broken["controls"]]
    )
    assert not joint_ruler(sound, broken)["testable"] and joint_ruler(sound, sound)["testable"]
    text = criteria_sentence({"MI": "agrees", "truth": "not tested"}, broken)
    assert "cannot judge" in text and "supervised ceiling" in text


def test_oracle_codes_are_remembered_by_content_and_never_shared():
    from lib import controls
    from lib.controls import oracle_codes

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 300)), rng.normal(size=(400, 300))
    first = oracle_codes(a, b, 3)
    fitted = dict(controls._PCA_CACHE)
    again = oracle_codes(a.copy(), b.copy(), 3)  # equal content, other arrays: no new fit
    assert controls._PCA_CACHE.keys() == fitted.keys()
    np.testing.assert_array_equal(first[0], again[0])
    again[0][:] = 0  # a caller's edit does not reach the next caller
    assert np.abs(oracle_codes(a, b, 3)[0]).sum() > 0
    other = oracle_codes(a + 1e-3 * rng.normal(size=a.shape), b, 3)
    assert not np.array_equal(other[0], first[0])
