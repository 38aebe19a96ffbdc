"""A book build never shows stale pages: ``lib.book_stamps`` re-executes exactly what changed.

Built on a one-chapter book in a temporary copy of ``lib`` (the copy is edited, never the repo).
"""

import os
import re
import shutil
import subprocess

import pytest

from lib import run

CONFIG = """title: stamps
only_build_toc_files: true
execute:
  execute_notebooks: force
sphinx:
  extra_extensions: [lib.book_stamps]
"""
TOC = "format: jb-book\nroot: intro\nchapters:\n  - file: ch01_probe\n"
CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# Probe

```{code-cell} ipython3
import uuid

import lib.identity

print("EXECUTION", uuid.uuid4().hex)
```
"""


def _build(book, **env):
    env = dict(os.environ, PYTHONPATH=str(book), **env)
    done = subprocess.run(
        [shutil.which("jupyter-book"), "build", str(book)],
        cwd=book,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    html = (book / "_build" / "html" / "ch01_probe.html").read_text()
    return re.search(r"EXECUTION ([0-9a-f]{32})", html).group(1)


@pytest.mark.chapters
def test_rebuild_re_executes_only_after_a_code_data_or_profile_change(tmp_path):
    book = tmp_path / "book"
    shutil.copytree(run.ROOT / "lib", book / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    (book / "_config.yml").write_text(CONFIG)
    (book / "_toc.yml").write_text(TOC)
    (book / "intro.md").write_text("# Intro\n")
    (book / "ch01_probe.md").write_text(CHAPTER)
    smoke = {"BOOK_PROFILE": "smoke"}
    first = _build(book, **smoke)
    assert _build(book, **smoke) == first, "nothing changed: the page must not re-execute"
    with open(book / "lib" / "rbm.py", "a") as f:
        f.write("\nNOT_IMPORTED_BY_THE_CHAPTER = 1\n")
    assert _build(book, **smoke) == first, "an edit outside the chapter's imports changes nothing"
    with open(book / "lib" / "data.py", "a") as f:
        f.write("\n# a comment changes no code\n")
    assert _build(book, **smoke) == first, "a comment or docstring edit changes nothing"
    with open(book / "lib" / "data.py", "a") as f:
        f.write("\nIMPORTED_THROUGH_LIB_IDENTITY = 1\n")
    second = _build(book, **smoke)
    assert second != first, "an edit to a module the chapter imports must re-execute it"
    third = _build(book, BOOK_PROFILE="book")
    assert third != second, "another profile must re-execute the page"
    mnist = tmp_path / "mnist"
    from tests.idx_files import other_mnist

    other_mnist(mnist)
    assert _build(book, BOOK_PROFILE="book", MNIST_DIR=str(mnist)) != third, (
        "another data folder must re-execute the page"
    )
