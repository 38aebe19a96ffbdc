"""Chapter 10's written conclusion is built from the records, and says what they say."""

from lib.conclusion import METHODS, conclusion_markdown, method_table_rows, takeaway


def claim(cid, verdict, verdict_mi=None, testable=True):
    return {"id": cid, "verdict": verdict, "verdict_mi": verdict_mi, "thesis": f"thesis of {cid}",
            "controls": {"testable": testable}}  # fmt: skip


def records():
    return {
        "ch09_ddn": {"claims": [claim("9.5-simple", "does not agree", "agrees"),
                                claim("9.9-additive", "not tested", "does not agree", False)]},
        "ch08_split_autoencoders": {"claims": [claim("8.6-simple-10", "agrees", "partly")]},
    }  # fmt: skip


EVIDENCE = {
    "ddn-simple": {
        "claim": {"chapter_claim": "9.5-simple"},
        "summary": {"verdict": "does not agree"},
        "info": {"runs": 3, "data": {"stand_in": True}},
    },
    "ddn-simple-digits": {
        "claim": {"chapter_claim": "9.5-simple"},
        "summary": {"verdict": "partly", "controls_testable": True},
        "info": {"runs": 3, "data": {"stand_in": False}},
    },
}


def test_each_method_gets_a_paragraph_with_its_verdicts():
    text = conclusion_markdown(records(), EVIDENCE, "book")
    assert text.count("**") == 2 * len(METHODS)
    ddn = text.split("**DDN.**")[1]
    assert "Simple: does not agree (by the thesis's MI criterion: agrees)" in ddn
    assert "Additive: could not be tested" in ddn and "controls fail" in ddn
    assert (
        "Simple: on real digits partly (3 runs, its positive control passing), "
        "on the Fashion-MNIST stand-in does not agree (3 runs)"
    ) in ddn
    assert "no support" in ddn
    assert "smoke" not in text


def test_the_smoke_profile_opens_with_a_banner():
    assert conclusion_markdown(records(), {}, "smoke").startswith("> **This page was built at the `smoke`")


def test_takeaway_follows_the_verdicts():
    assert "reproduced" in takeaway(["agrees", "not tested"])
    assert "no support" in takeaway(["does not agree"])
    assert "in part" in takeaway(["agrees", "does not agree"])
    assert "cannot judge" in takeaway(["not tested", "not tested"])


def test_the_table_has_one_row_per_recorded_headline_claim():
    rows = method_table_rows(records(), EVIDENCE)
    assert [r[:2] for r in rows] == [
        ("ASAE", "Simple, 10 units"),
        ("DDN", "Simple"),
        ("DDN", "Additive"),
    ]
    assert rows[1][3:] == ("does not agree", "agrees", "partly", "does not agree")
    assert rows[2][5:] == ("–", "–")
