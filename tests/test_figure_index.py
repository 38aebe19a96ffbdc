"""The figure index is generated from the chapters: thesis numbers, labels, thumbnails, code."""

import numpy as np
from PIL import Image

from lib import figure_index
from lib.figure_index import THESIS, chapter_figures, figure_numbers, index_markdown, index_rows

CHAPTER = """# Chapter 8: test

```{code-cell} ipython3
from lib import asae_plots
from lib.plots import mi_curves, save_figure
```

```{code-cell} ipython3
---
tags: [hide-input]
mystnb:
  figure:
    name: fig-8-6
    caption: |
      **Figures 8.6-8.8 — runs.** Reconstructions.
---
fig = mi_curves(runs)
asae_plots.panel(fig, runs)
save_figure(fig, "fig8_6", profile)
```

(tab-3-1)=
A table.
"""


def test_caption_numbers_expand_ranges_and_lists():
    assert figure_numbers("**Figures 9.5-9.7 — MI**") == ["9.5", "9.6", "9.7"]
    assert figure_numbers("Figure 8.6 / 8.7 / 8.8 and Fig. 4.12") == ["8.6", "8.7", "8.8", "4.12"]
    assert figure_numbers("no figure here, 3.5 units") == []


def test_a_chapter_figure_is_found_with_its_code_and_file(tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch08_test.md").write_text(CHAPTER)
    monkeypatch.setattr(figure_index, "ROOT", tmp_path)
    figures, tables = chapter_figures("ch08_test")
    assert len(figures) == 1 and tables == {"Table 3.1": "tab-3-1"}
    fig = figures[0]
    assert fig.numbers == ["8.6", "8.7", "8.8"] and fig.files == ["fig8_6"]
    assert fig.functions == ["lib.plots.mi_curves", "lib.asae_plots.panel"]


def test_rows_cover_the_thesis_and_link_thumbnails(tmp_path, monkeypatch):
    (tmp_path / "book").mkdir()
    (tmp_path / "book" / "ch08_test.md").write_text(CHAPTER)
    monkeypatch.setattr(figure_index, "ROOT", tmp_path)
    monkeypatch.setattr(figure_index, "results_dir", lambda profile: tmp_path / profile)
    (tmp_path / "smoke" / "figures").mkdir(parents=True)
    Image.fromarray(np.zeros((300, 600, 3), np.uint8)).save(tmp_path / "smoke" / "figures" / "fig8_6.png")
    rows = index_rows("smoke", chapters=["ch08_test"])
    assert len(rows) == len(THESIS) == 63
    by = {r["thesis"]: r for r in rows}
    assert by["Figure 8.7"]["label"] == "fig-8-6" and by["Figure 8.7"]["thumbnail"].startswith(
        "data:image/png"
    )
    assert "chapter" not in by["Figure 2.1"]
    text = index_markdown(rows)
    assert "{ref}`Fig. 8.7 <fig-8-6>`" in text and "{ref}`Table 3.1 <tab-3-1>`" in text
    assert "| Figure 2.1: explaining away | not drawn |" in text


def test_every_thesis_figure_and_table_is_in_the_book():
    missing = [r["thesis"] for r in index_rows("smoke") if "chapter" not in r]
    assert missing == [], f"thesis figures with no captioned figure cell (fig-C-N) in the book: {missing}"
