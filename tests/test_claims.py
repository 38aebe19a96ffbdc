"""The verdict rules of the claims registry."""

import math

import pytest

from lib.claims import VERDICTS, at_least, at_most, check_verdict, holds, make_claim


def test_at_least_and_at_most_cover_every_verdict():
    assert [at_least(v, agrees=0.9, partly=0.3) for v in (0.95, 0.9, 0.5, 0.1, math.nan)] == [
        "agrees",
        "agrees",
        "partly",
        "does not agree",
        "not tested",
    ]
    assert [at_most(v, agrees=0.1, partly=0.3) for v in (0.0, 0.2, 0.5)] == [
        "agrees",
        "partly",
        "does not agree",
    ]
    assert at_least(0.5, agrees=0.9) == "does not agree"  # no partly band given


def test_holds_and_bad_input():
    assert (holds(True), holds(False, partly=True), holds(False)) == ("agrees", "partly", "does not agree")
    with pytest.raises(ValueError, match="must be a number"):
        at_least(True, agrees=1)
    with pytest.raises(ValueError, match="not one of"):
        check_verdict("confirmed")
    assert set(VERDICTS) == {"agrees", "partly", "does not agree", "not tested"}


def test_make_claim_keeps_its_fields():
    c = make_claim(
        "6.4-50",
        thesis="separates",
        ours="chance",
        verdict="does not agree",
        method="PPICA",
        value=0.55,
        benchmark="50 sources",
    )
    assert c["benchmark"] == "50 sources" and c["value"] == 0.55 and c["rule"] is None


def test_grouping_above_chance_bands():
    from lib.claims import grouping_above_chance

    assert grouping_above_chance([0.8, 0.75, 0.78], [0.55, 0.56, 0.55])[0] == "agrees"
    verdict, excess, p, _ = grouping_above_chance(
        [0.60, 0.64, 0.60, 0.62, 0.62], [0.54, 0.57, 0.55, 0.55, 0.57]
    )
    assert verdict == "partly" and 0.05 < excess < 0.07 and p < 0.05
    assert grouping_above_chance([0.56, 0.50, 0.58], [0.55, 0.55, 0.55])[0] == "does not agree"
    assert grouping_above_chance([0.9], [0.5])[0] == "not tested"
