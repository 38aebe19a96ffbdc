"""Every chapter in _toc.yml: stored as a text notebook without outputs, runs at smoke, matches."""

import re

import pytest

from lib import run

CHAPTERS = run.toc_chapters()


def test_toc_lists_chapters():
    assert CHAPTERS, "_toc.yml lists no chapters"


def test_no_stored_notebooks():
    stored = sorted(p.name for p in run.BOOK.rglob("*.ipynb"))
    assert stored == [], f"book/ must hold MyST text notebooks only, found {stored}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_is_a_parameterised_text_notebook(chapter):
    text = run.chapter_path(chapter).read_text()
    assert text.startswith("---\njupytext:"), "missing the jupytext header"
    assert "format_name: myst" in text
    params = re.search(r"```\{code-cell\}[^\n]*\n:tags: \[parameters\]\n(.*?)```", text, re.S)
    assert params, "no cell tagged `parameters`"
    for name in ("profile", "seed", "data_dir"):
        assert re.search(rf"^{name} = ", params.group(1), re.M), f"parameters cell lacks {name}"


@pytest.mark.chapters
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_at_smoke_and_matches_its_reference(chapter, capsys):
    code = run.main(["--profile", "smoke", "--check", chapter])
    out = capsys.readouterr().out
    assert code == 0, out
