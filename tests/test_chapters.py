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


def _glued(notebook):
    """The text each ``glue(name, ...)`` call of an executed notebook stored, by name."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    found = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            scrap = out.get("metadata", {}).get("scrapbook", {})
            if scrap.get("name"):
                text = out["data"].get(scrap.get("mime_prefix", "") + "text/plain", "")
                found[scrap["name"]] = text.strip("'\"")
    return found


def test_no_caption_states_a_profiles_planned_size():
    """Sizes in captions and prose come from the run (glue), never 'N at the book profile'."""
    for chapter in CHAPTERS:
        text = run.chapter_path(chapter).read_text()
        said = re.findall(r"\d[\d,]* at the (?:book|thesis|smoke)\s+profile", text)
        assert not said, f"{chapter} types a profile's size: {said}"


# Per chapter: (glue name, the smoke size it must start with, taken from the chapter's own sizes).
def _smoke_sizes():
    from lib.chapters import ch06_ppica, ch08_split_autoencoders, ch09_ddn

    s6 = ch06_ppica.sizes("smoke")["sizes"]
    s9 = ch09_ddn.chapter_sizes("smoke", None)
    s8 = ch08_split_autoencoders.sizes("smoke")
    return {
        "ch06_ppica": {"ch6-d0": f"{s6[0]} sources", "ch6-d1": f"{s6[1]} sources"},
        "ch08_split_autoencoders": {"ch8-n-best10": f"{min(4, s8['n_runs_10'])} of the {s8['n_runs_10']}"},
        "ch09_ddn": {"ch9-gmmn-hidden": str(s9["gmmn"]["hidden"])},
    }


@pytest.mark.chapters
@pytest.mark.parametrize("chapter", ["ch06_ppica", "ch08_split_autoencoders", "ch09_ddn"])
def test_captions_carry_the_sizes_the_smoke_build_ran(chapter):
    """The executed smoke notebook glues the sizes it ran into its captions (issue 26)."""
    notebook = run.ROOT / "_build" / "executed" / "smoke" / f"{chapter}.ipynb"
    if not notebook.exists() or notebook.stat().st_mtime < run.chapter_path(chapter).stat().st_mtime:
        assert run.main(["--profile", "smoke", chapter]) == 0
    glued = _glued(notebook)
    for name, size in _smoke_sizes()[chapter].items():
        assert glued.get(name, "").startswith(size), (name, glued.get(name))
        assert f"{{glue:text}}`{name}`" in run.chapter_path(chapter).read_text()
