"""Collect the chapter records of one profile into the conclusion's tables (chapter 10).

The conclusion is generated from the claims registry (``Record.claim``, ``lib.claims``): every
claim a chapter stated, with its computed verdict, grouped by method.
"""

import json
import re
from collections import defaultdict

from lib.claims import VERDICTS
from lib.experiments import current_identity, identity_differences, results_dir
from lib.profiles import chapter_title, toc_chapters


def collect_records(profile, chapters=None, seed=None, data_dir=None):
    """``{chapter: record}`` for every chapter (default: those in ``_toc.yml``) with a record.

    Chapters without a record at this profile are left out; ``missing_records`` names them.
    So is a record whose identity is not the current one (other code, other data than
    ``data_dir``'s, another profile or, when ``seed`` is given, another seed):
    ``stale_records`` says why.
    """
    return {c: r for c, (r, why) in _read_records(profile, chapters, seed, data_dir).items() if not why}


def _read_records(profile, chapters, seed, data_dir):
    """``{chapter: (record, identity differences)}`` of the chapters that have a record."""
    found = {}
    for chapter in chapters or toc_chapters():
        path = results_dir(profile) / f"{chapter}.json"
        if path.exists():
            record = json.loads(path.read_text())
            now = current_identity(chapter, profile, seed, data_dir)
            found[chapter] = (record, identity_differences(record.get("identity"), now))
    return found


def stale_records(profile, chapters=None, seed=None, data_dir=None):
    """``{chapter: [why, ...]}`` for the records ``collect_records`` refuses."""
    return {c: why for c, (_, why) in _read_records(profile, chapters, seed, data_dir).items() if why}


def missing_records(profile, chapters=None):
    """Chapters listed in ``_toc.yml`` (or given) that have no record at this profile."""
    found = collect_records(profile, chapters)
    return [c for c in chapters or toc_chapters() if c not in found]


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_fmt(v) for v in value[:6]) + (", ..." if len(value) > 6 else "") + "]"
    return str(value)


def claims_rows(records):
    """One row per number that has a thesis value: (chapter, metric, ours, thesis)."""
    rows = []
    for chapter, record in records.items():
        for name, thesis in record.get("thesis", {}).items():
            ours = record["metrics"].get(name, "not recorded")
            rows.append((chapter, name, _fmt(ours), _fmt(thesis)))
    return rows


# Words of the metric names (``lib.records``' snake_case keys) as a reader would write them.
METRIC_WORDS = {
    "mi": "MI", "1nat": "1 nat", "abs": "absolute", "adam": "Adam", "additive10": "Additive 10-unit",
    "additive": "Additive", "cd": "CD", "code10": "10-unit code", "code2": "2-unit code",
    "corr": "correlation", "d200": "200 sources", "d50": "50 sources", "fig3": "Fig. 3", "fig5": "Fig. 5",
    "gmmn": "GMMN", "grbm": "GRBM", "init": "initialised", "interp": "interpolation", "l1": "L1",
    "logfreq": "log-frequency", "logp": "log p", "lr": "learning rate", "max": "maximum",
    "meannn": "MeanNN", "min": "minimum", "mmd2": "MMD²", "mnist": "MNIST", "mse": "MSE",
    "n": "number of", "occlusive": "Occlusive", "p": "p", "pc1": "PC1", "pc2": "PC2",
    "pred": "predictor", "pred5": "5 predictor steps", "r2": "R²", "recon": "reconstruction",
    "relu": "ReLU", "rmsprop": "RMSprop", "rot345": "rotated 3/4/5", "sgd": "SGD", "simple": "Simple",
    "simple10": "Simple 10-unit", "simple2": "Simple 2-unit", "slowenc": "slow encoder",
    "std": "standardised", "stage1": "stage 1", "stage3": "stage 3", "step2": "step 2",
    "table3": "Table 3", "torch": "torch", "upright012": "upright 0/1/2", "xcov": "XCov", "za": "z_a",
}  # fmt: skip


def metric_label(name: str) -> str:
    """A metric's key in words: ``"d200_final_mi_mean"`` -> ``"200 sources final MI mean"``."""
    words = " ".join(METRIC_WORDS.get(w, w) for w in name.split("_"))
    return re.sub(r"(Fig\.|Table) (\d+) (\d+)", r"\1 \2.\3", words)  # fig3_5 -> Fig. 3.5


def markdown_table(header, rows):
    """A GitHub/MyST markdown table (pipes in cells escaped)."""
    clean = lambda cell: str(cell).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


SYMBOLS = {
    "agrees": "✓ agrees",
    "partly": "◐ partly",
    "does not agree": "✗ does not agree",
    "not tested": "? not tested",
}


def all_claims(records, evidence=None):
    """Every claim of every record, in chapter order, each with its chapter's title.

    ``evidence`` (``lib.evidence.load_evidence()``) adds ``evidence_verdict`` and
    ``evidence_ours`` to the claim that a thesis-scale evidence record tests.
    """
    at_scale = {r["claim"].get("chapter_claim"): r["claim"] for r in (evidence or {}).values()}
    claims = []
    for chapter, record in records.items():
        for claim in record.get("claims", []):
            claim = dict(claim, chapter_title=chapter_title(chapter))
            if claim["id"] in at_scale:
                claim.update(
                    evidence_verdict=at_scale[claim["id"]]["verdict"],
                    evidence_ours=at_scale[claim["id"]]["ours"],
                )
            claims.append(claim)
    return claims


def claims_by_method_markdown(records, evidence=None):
    """The claims table, one short table per method (claim, thesis, ours, verdicts), as Markdown.

    Narrow enough for the page column: the chapter and method are the table's heading instead of
    columns, and the claim is named by its figure or section, the full id in small print."""
    groups = defaultdict(list)
    for c in all_claims(records, evidence):
        groups[c["method"]].append(c)
    parts = []
    for method, claims in groups.items():
        chapters = sorted({c["chapter_title"].split(":")[0] for c in claims})
        rows = [
            (
                f"{c.get('figure') or c['id']}<br><small>{c['id']}</small>",
                c["thesis"],
                c["ours"],
                SYMBOLS[c["verdict"]],
                SYMBOLS[c["evidence_verdict"]] if "evidence_verdict" in c else "-",
            )
            for c in claims
        ]
        header = ["claim", "thesis", "ours", "verdict", "at thesis scale"]
        parts.append(f"**{method}** ({', '.join(chapters)})\n\n" + markdown_table(header, rows))
    return "\n\n".join(parts)


def evidence_rows(evidence):
    """(claim, thesis, ours at the thesis's sizes, verdict, data, runs) per evidence record."""
    return [
        (
            r["claim"].get("chapter_claim") or name,
            r["claim"]["thesis"],
            r["claim"]["ours"],
            SYMBOLS[r["claim"]["verdict"]],
            r["info"]["data"]["description"],
            r["info"]["runs"],
        )
        for name, r in evidence.items()
    ]


def verdicts_by_method(records):
    """``{method: {verdict: [claim ids]}}`` in the order methods first appear."""
    grouped = defaultdict(lambda: {v: [] for v in VERDICTS})
    for claim in all_claims(records):
        grouped[claim["method"]][claim["verdict"]].append(claim["id"])
    return dict(grouped)


def verdict_summary_markdown(records):
    """One bullet per method: which of its claims agree, partly agree or do not (generated)."""
    lines = []
    for method, by_verdict in verdicts_by_method(records).items():
        parts = [f"{SYMBOLS[v].split(' ', 1)[1]}: {', '.join(ids)}" for v, ids in by_verdict.items() if ids]
        total = sum(len(ids) for ids in by_verdict.values())
        lines.append(f"- **{method}** ({total} claim{'s' * (total != 1)}) - " + "; ".join(parts))
    return "\n".join(lines)


def _fmt_share(value):
    return "–" if value is None or value != value else f"{value:.2f}"


def rulers_rows(records):
    """One row per chapter and setting of the rulers behind the ground-truth verdicts (each
    chapter's ``info.rulers``): the oracle's and the supervised ceiling's scores, whether every
    control was judged as built, and the MI scale (built-separate / built-mixed / untrained)."""
    rows = []
    for chapter, record in records.items():
        for ruler in (record.get("info", {}).get("rulers") or {}).values():
            by = {c["control"]: c for c in ruler.get("controls", [])}
            oracle = by.get("oracle (per-part PCA)", by.get("oracle membership", {}))
            ceiling = by.get("supervised ceiling", {})
            scale = ruler.get("mi_scale", {})
            rows.append((
                chapter.split("_")[0].replace("ch", "Ch. ").replace(" 0", " "),
                ruler["setting"],
                _fmt_share(oracle.get("score")),
                _fmt_share(ceiling.get("score")),
                "passes" if ruler["testable"] else "fails: " + ruler["reading"],
                " / ".join(_fmt_share(scale[k]) for k in MI_SCALE_ORDER if k in scale) or "–",
            ))  # fmt: skip
    return rows


# the MI scale's entries in the order the header names them (records store keys sorted)
MI_SCALE_ORDER = ("built-separate", "true grouping", "built-mixed", "random grouping",
                  "untrained network")  # fmt: skip
RULER_HEADER = ["chapter", "setting", "oracle score", "supervised ceiling", "controls",
                "MI scale (nats): separate / mixed / untrained"]  # fmt: skip
