"""The claims table of every chapter (lib.pages.claims_markdown)."""

from lib.pages import CLAIM_COLUMNS, claims_markdown


def test_a_claims_other_verdicts_share_its_verdict_cell():
    """Extra verdicts (MI criterion, old score) go into the verdict cell, not new columns, so the
    table keeps to the column width (the browser check failed ch06 and ch08 on them)."""
    claims = [
        dict(id="8.3", figure="8.3", method="m", thesis="t", ours="o", verdict="does not agree",
             verdict_mi="agrees"),
        dict(id="8.4", figure="8.4", method="m", thesis="t", ours="o", verdict="agrees"),
    ]  # fmt: skip
    lines = claims_markdown(claims).splitlines()
    assert lines[0].count("|") == len(CLAIM_COLUMNS) + 1
    assert all(line.count("|") == len(CLAIM_COLUMNS) + 1 for line in lines)
    assert "does not agree (by the MI criterion: " in lines[2] and "agrees" in lines[2]
    assert "(" not in lines[3].rsplit("|", 2)[1]
