"""The conclusion's tables read the chapter records."""

import pytest

from lib.experiments import Record
from lib.summary import claims_rows, collect_records, markdown_table, missing_records


@pytest.fixture(autouse=True)
def results_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("BOOK_RESULTS_DIR", str(tmp_path))


def test_tables_from_records():
    rec = Record("ch09_ddn", "smoke")
    rec.metric("simple_final_mi_mean", 0.0312, thesis="near 0, every run")
    rec.metric("simple_final_mi_sd", 0.01)
    rec.metric("simple_share_disentangled_truth", 0.9)
    rec.metric("simple_share_disentangled_mi", 0.0)
    rec.metric("bias_share", 0.5, thesis=0.83)
    rec.save()
    records = collect_records("smoke", ["ch09_ddn", "ch03_broadnet"])
    assert list(records) == ["ch09_ddn"]
    assert missing_records("smoke", ["ch09_ddn", "ch03_broadnet"]) == ["ch03_broadnet"]
    claims = claims_rows(records)
    assert ("ch09_ddn", "bias_share", "0.5", "0.83") in claims
    assert ("ch09_ddn", "simple_final_mi_mean", "0.0312", "near 0, every run") in claims
    table = markdown_table(["a", "b"], [("x|y", 1)])
    assert table.splitlines()[2] == "| x\\|y | 1 |"


def test_conclusion_is_generated_from_claims():
    from lib.summary import claims_by_method_markdown, verdict_summary_markdown

    rec = Record("ch06_ppica", "smoke")
    rec.claim(
        "6.4-ppica-50",
        method="PPICA",
        thesis="consistently separates",
        ours="at chance",
        verdict="does not agree",
    )
    rec.claim("6.5-ppica-200", method="PPICA", thesis="no grouping", ours="no grouping", verdict="agrees")
    rec.save()
    records = collect_records("smoke", ["ch06_ppica"])
    tables = claims_by_method_markdown(records).splitlines()
    assert tables[0] == "**PPICA** (Chapter 6)"
    assert tables[4].startswith("| 6.4-ppica-50<br><small>6.4-ppica-50</small> | consistently separates")
    assert "✗ does not agree" in tables[4] and "✓ agrees" in tables[5]
    summary = verdict_summary_markdown(records)
    assert summary == "- **PPICA** (2 claims) - agrees: 6.5-ppica-200; does not agree: 6.4-ppica-50"


def test_metric_names_read_as_words():
    from lib.summary import metric_label

    assert metric_label("d200_final_mi_mean") == "200 sources final MI mean"
    assert metric_label("fig3_5_gradient_share_pc1_pc2") == "Fig. 3.5 gradient share PC1 PC2"
    assert metric_label("unknown_words_stay") == "unknown words stay"
