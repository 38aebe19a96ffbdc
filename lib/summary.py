"""Collect the chapter records of one profile into the conclusion's tables (chapter 10)."""
import json

from lib.experiments import results_dir
from lib.run import toc_chapters


def collect_records(profile, chapters=None):
    """``{chapter: record}`` for every chapter (default: those in ``_toc.yml``) with a record.

    Chapters without a record at this profile are left out; ``missing_records`` names them.
    """
    found = {}
    for chapter in chapters or toc_chapters():
        path = results_dir(profile) / f"{chapter}.json"
        if path.exists():
            found[chapter] = json.loads(path.read_text())
    return found


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


def _said(suffix, value):
    """The thesis's statement as is; a bare thesis number labelled with what it measures."""
    return str(value) if isinstance(value, str) else f"{suffix.replace('_', ' ')}: {_fmt(value)}"


def claims_rows(records):
    """One row per number that has a thesis value: (chapter, metric, ours, thesis)."""
    rows = []
    for chapter, record in records.items():
        for name, thesis in record.get("thesis", {}).items():
            ours = record["metrics"].get(name, "not recorded")
            rows.append((chapter, name, _fmt(ours), _fmt(thesis)))
    return rows


def markdown_table(header, rows):
    """A GitHub/MyST markdown table (pipes in cells escaped)."""
    clean = lambda cell: str(cell).replace("|", "\\|")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(clean(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


HEADLINE_SUFFIXES = {"mi_mean": "final_mi_mean", "mi_sd": "final_mi_sd",
                     "share_mi": "share_disentangled_mi", "truth": "truth_score_mean",
                     "share_truth": "share_disentangled_truth", "assigned": "share_mean"}


def headline_rows(records):
    """One row per multi-run experiment, found by its ``<experiment>_final_mi_mean`` metric.

    Chapters name an experiment's numbers ``<experiment>_final_mi_mean``, ``..._final_mi_sd``,
    ``..._share_disentangled_mi``, ``..._truth_score_mean`` and ``..._share_disentangled_truth``
    (PPICA adds ``..._share_mean``, the share of components assigned to their true cause); the
    thesis column shows the thesis's value or statement for any of them.
    """
    rows = []
    for chapter, record in records.items():
        metrics, thesis = record["metrics"], record.get("thesis", {})
        suffix = "_" + HEADLINE_SUFFIXES["mi_mean"]
        for key in sorted(k for k in metrics if k.endswith(suffix)):
            exp = key[: -len(suffix)]
            get = lambda part: metrics.get(f"{exp}_{HEADLINE_SUFFIXES[part]}")
            mi = _fmt(get("mi_mean")) + (f" ± {_fmt(get('mi_sd'))}" if get("mi_sd") is not None else "")
            truth = " / ".join(_fmt(v) for v in (get("truth"), get("share_truth")) if v is not None)
            if get("assigned") is not None:
                truth = f"components assigned correctly: {_fmt(get('assigned'))}"
            said = [_said(s, thesis[f"{exp}_{s}"]) for s in HEADLINE_SUFFIXES.values()
                    if f"{exp}_{s}" in thesis]
            rows.append((chapter, exp.replace("_", " "), mi, _fmt(get("share_mi")) if get("share_mi") is not None else "-",
                         truth or "-", "; ".join(said) or "-"))
    return rows
