"""The claims registry: each thesis claim stated once, with a verdict computed by a written rule.

A chapter states a claim through ``Record.claim`` with the thesis's statement, our result in
words and numbers, and a verdict from one of the rules below, written next to the claim::

    share = summary["share_disentangled_truth"]
    rec.claim("9.4-simple", method="DDN", thesis="every run disentangles (30/30)",
              ours=f"{share:.0%} of runs disentangle by the ground-truth score",
              verdict=at_least(share, agrees=0.9, partly=0.3), value=share)

The record stores ``claims`` (a list of dicts); chapters show them through ``glue`` and chapter
10 is generated from them.
"""

import math

import numpy as np
from scipy.stats import ttest_1samp

VERDICTS = ("agrees", "partly", "does not agree", "not tested")


def check_verdict(verdict):
    """``verdict`` if it is one of ``VERDICTS``; otherwise a ValueError naming the valid ones."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict {verdict!r} is not one of {VERDICTS}")
    return verdict


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return value


def at_least(value, agrees, partly=None):
    """``agrees`` when value >= agrees, ``partly`` when >= partly, else ``does not agree``.

    A NaN value (nothing measured) is ``not tested``.
    """
    _number("value", value)
    if math.isnan(value):
        return "not tested"
    if value >= agrees:
        return "agrees"
    return "partly" if partly is not None and value >= partly else "does not agree"


def at_most(value, agrees, partly=None):
    """``agrees`` when value <= agrees, ``partly`` when <= partly, else ``does not agree``."""
    _number("value", value)
    if math.isnan(value):
        return "not tested"
    if value <= agrees:
        return "agrees"
    return "partly" if partly is not None and value <= partly else "does not agree"


def holds(condition, partly=False):
    """``agrees`` when the condition holds, ``partly`` when only the weaker one does."""
    if condition:
        return "agrees"
    return "partly" if partly else "does not agree"


def make_claim(claim_id, *, thesis, ours, verdict, method, value=None, rule=None, **extra):
    """One registry entry, validated: a non-empty id and statements, a known verdict."""
    for name, text in (
        ("claim id", claim_id),
        ("thesis", thesis),
        ("ours", ours),
        ("method", method),
    ):
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"{name} of a claim must be a non-empty string, got {text!r}")
    return {
        "id": claim_id,
        "method": method,
        "thesis": thesis,
        "ours": ours,
        "verdict": check_verdict(verdict),
        "value": value,
        "rule": rule,
        **extra,
    }


CLEAR_GROUPING = 0.15  # PPICA: mean share above chance for a clear grouping (7.5 of 50 sources)
SIGNIFICANCE = 0.05


def grouping_above_chance(share, chance):
    """PPICA's "consistently separates" (section 6.4) from per-run assigned shares and chances.

    One rule for the chapter and the thesis-scale evidence: ``agrees`` when the mean share of
    components assigned to their true cause is at least ``CLEAR_GROUPING`` above chance; ``partly``
    when the excess is smaller but positive in every run and significant across runs (one-sided
    one-sample t-test, p < ``SIGNIFICANCE``); otherwise ``does not agree``; ``not tested`` with
    fewer than two runs. Returns the verdict, the mean excess, the p-value and the rule's text.
    """
    excess = np.asarray(share, float) - np.asarray(chance, float)
    rule = (
        f"agrees when the mean assigned share is at least {CLEAR_GROUPING} above chance; "
        f"partly when it is above chance in every run and significantly so across runs "
        f"(one-sided t-test, p < {SIGNIFICANCE}); otherwise does not agree"
    )
    if len(excess) < 2:
        return "not tested", float(excess.mean()) if len(excess) else math.nan, math.nan, rule
    p = (
        float(ttest_1samp(excess, 0.0, alternative="greater").pvalue)
        if excess.std() > 0
        else (0.0 if excess.mean() > 0 else 1.0)
    )
    if excess.mean() >= CLEAR_GROUPING:
        verdict = "agrees"
    else:
        verdict = holds(False, partly=bool(np.all(excess > 0) and p < SIGNIFICANCE))
    return verdict, float(excess.mean()), p, rule


def guarded(verdict, ruler):
    """A ground-truth verdict as far as its ruler allows (``lib.controls.make_ruler``).

    The rule of book/design.md ("Records, claims and controls"): the ground truth may give a
    verdict only where every control at that size is judged as it is built to be (the oracle
    codes and the supervised ceiling disentangled; mixed, collapsed, one-code-holds-both and the
    untrained network not). Elsewhere the verdict is ``not tested``, and the claim's
    ``controls`` say which control failed and by how much. ``ruler`` None (no ground truth was
    measured) also gives ``not tested``.
    """
    check_verdict(verdict)
    if ruler is None or not ruler["testable"]:
        return "not tested"
    return verdict


def criteria_sentence(verdicts, ruler=None):
    """Which criterion holds and which fails, in words: ``verdicts`` maps a criterion's name
    ("the thesis's MI criterion", "the ground truth") to its verdict."""
    parts = [f"by {name}: {verdict}" for name, verdict in verdicts.items()]
    text = "; ".join(parts)
    if ruler is not None and not ruler["testable"]:
        text += f" (the ground truth cannot judge here: {ruler['reading']})"
    return text
