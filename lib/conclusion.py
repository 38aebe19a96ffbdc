"""The written conclusion of chapter 10, generated from the chapters' records and the evidence.

One paragraph per method family (Broadnet, PPICA, ASAE, DDN): what the thesis concluded, what the
records of this build's profile find (the headline claims' verdicts by the ground truth and by the
thesis's own MI criterion, and whether the ruler could judge), what the thesis-scale evidence
finds and on which data, and a take-away computed from those verdicts. Then one compact table,
method x benchmark. Every number and verdict comes from the records; nothing is typed.
"""

from dataclasses import dataclass

VERDICT_WORDS = {
    "agrees": "agrees with the thesis",
    "partly": "agrees only in part",
    "does not agree": "does not agree",
    "not tested": "could not be tested",
}


@dataclass(frozen=True)
class Method:
    """A method family: its chapters, its headline claims (benchmark -> claim id), the evidence
    experiments that rerun them at the thesis's sizes (benchmark -> ``lib.evidence`` name; each
    has a record on real digits, ``NAME-digits``, and may have one on the stand-in, ``NAME``),
    and the thesis's own conclusion in words."""

    name: str
    chapters: tuple
    headline: dict
    evidence: dict
    thesis: str


METHODS = (
    Method(
        "Broadnet",
        ("ch03_broadnet", "ch04_understanding_broadnets"),
        {
            "5 + gradient": "3.4-five-gradient",
            "3 + rotated 7": "3.6-three-rot-seven",
            "exact gradient": "4.9-none-disentangle",
        },  # fmt: skip
        {},
        "the Broadnet learns entangled optima on real data; even exact training from the "
        "disentangled point does not keep it",
    ),
    Method(
        "PPICA",
        ("ch06_ppica",),
        {"50 sources": "6.4-ppica-50", "200 sources": "6.5-ppica-200"},
        {"50 sources": "ppica-50"},
        "post-processed ICA consistently separates an additive benchmark with 50 sources, but not with 200",
    ),
    Method(
        "ASAE",
        ("ch08_split_autoencoders",),
        {
            "Simple, 2 units": "8.3-simple-2-examples",
            "Simple, 10 units": "8.6-simple-10",
            "Additive, 10 units": "8.9-additive-10",
        },  # fmt: skip
        {
            "Simple, 2 units": "asae-simple-2",
            "Simple, 10 units": "asae-simple-10",
            "Additive, 10 units": "asae-additive",
        },  # fmt: skip
        "the additive split autoencoder disentangles only some runs, and rarely with larger codes",
    ),
    Method(
        "DDN",
        ("ch09_ddn",),
        {"Simple": "9.5-simple", "Additive": "9.9-additive", "Occlusive": "9.12-occlusive"},
        {"Simple": "ddn-simple", "Additive": "ddn-additive", "Occlusive": "ddn-occlusive"},
        "the Discriminative Disentangling Network disentangles every benchmark it was tried on, in every run",
    ),
)


def _claims(records, chapters):
    return {c["id"]: c for ch in chapters for c in records.get(ch, {}).get("claims", [])}


def _headline_sentence(name, claim):
    """One benchmark's verdicts in words: the ground truth's, the MI criterion's, the ruler."""
    gt = VERDICT_WORDS.get(claim["verdict"], claim["verdict"])
    text = f"{name}: {gt}"
    if claim.get("verdict_mi"):
        text += f" (by the thesis's MI criterion: {claim['verdict_mi']})"
    ruler = claim.get("controls") or {}
    if ruler and not ruler.get("testable", True):
        text += ", because the ground truth's controls fail at this size"
    return text


DATA_WORDS = {"-digits": "real digits", "": "the Fashion-MNIST stand-in"}


def _control_words(ev):
    """Whether the evidence's positive control passed, in words ('' when it has none)."""
    testable = ev["summary"].get("controls_testable")
    if testable is None:
        return ""
    return ", its positive control passing" if testable else ", its positive control failing"


def _evidence_sentence(evidence, benchmarks):
    """At the thesis's sizes, per benchmark: the verdict on real digits and on the stand-in."""
    parts = []
    for bench, name in benchmarks.items():
        found = [
            f"on {words} {ev['summary']['verdict']} ({ev['info']['runs']} runs{_control_words(ev)})"
            for suffix, words in DATA_WORDS.items()
            if (ev := evidence.get(name + suffix))
        ]
        if found:
            parts.append(f"{bench}: " + ", ".join(found))
    return "; ".join(parts)


def evidence_verdict(evidence, name, suffix):
    """The verdict of evidence record ``name + suffix``, or a dash when there is none."""
    ev = evidence.get(name + suffix) if name else None
    return ev["summary"]["verdict"] if ev else "–"


def takeaway(verdicts):
    """What a reader should take away, from the headline verdicts of one method."""
    if not verdicts:
        return "nothing was recorded at this profile"
    if all(v == "not tested" for v in verdicts):
        return "the ground truth cannot judge at this profile's sizes; the verdicts wait for a larger run"
    judged = [v for v in verdicts if v != "not tested"]
    if all(v == "agrees" for v in judged):
        return "the thesis's conclusion is reproduced where it could be tested"
    if all(v == "does not agree" for v in judged):
        return "the book finds no support for the thesis's conclusion where it could be tested"
    return "the thesis's conclusion holds in part: see the verdicts above benchmark by benchmark"


def method_paragraph(method, records, evidence):
    """The paragraph of one method family (Markdown)."""
    claims = _claims(records, method.chapters)
    shown = {b: claims[i] for b, i in method.headline.items() if i in claims}
    counts = {}
    for c in claims.values():
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    tally = ", ".join(f"{v} {n}" for v, n in sorted(counts.items())) or "none recorded"
    text = (
        f"**{method.name}.** The thesis concludes that {method.thesis}. Of this method's "
        f"{len(claims)} claims in the registry: {tally}. "
    )
    if shown:
        text += "By benchmark, " + "; ".join(_headline_sentence(b, c) for b, c in shown.items()) + ". "
    ev = _evidence_sentence(evidence, method.evidence)
    if ev:
        text += f"At the thesis's sizes, {ev}. "
    return text + f"Take-away: {takeaway([c['verdict'] for c in shown.values()])}."


def conclusion_markdown(records, evidence, profile):
    """The written conclusion: a banner at the smoke profile, then a paragraph per method."""
    banner = ""
    if profile == "smoke":
        banner = (
            "> **This page was built at the `smoke` profile.** Its runs are tiny, so the verdicts "
            "below exercise the code and say nothing about the thesis. Build at the `book` profile "
            "for results.\n\n"
        )
    return banner + "\n\n".join(method_paragraph(m, records, evidence) for m in METHODS)


def method_table_rows(records, evidence):
    """Method x benchmark: the thesis's statement, this profile's verdict by the ground truth and
    by the MI criterion, and the thesis-scale evidence's verdict where it reruns that claim."""
    rows = []
    for method in METHODS:
        claims = _claims(records, method.chapters)
        for bench, cid in method.headline.items():
            c = claims.get(cid)
            if c is None:
                continue
            name = method.evidence.get(bench)
            rows.append((
                method.name, bench, c["thesis"], c["verdict"], c.get("verdict_mi") or "–",
                evidence_verdict(evidence, name, "-digits"), evidence_verdict(evidence, name, ""),
            ))  # fmt: skip
    return rows


TABLE_HEADER = ["method", "benchmark", "the thesis", "ground truth", "MI criterion",
                "thesis sizes, digits", "thesis sizes, stand-in"]  # fmt: skip
