"""Sphinx extension: serve MathJax from the built book itself, so pages render offline.

Sphinx's default `mathjax_path` is a CDN URL, so a reader without internet (and any browser test)
sees raw LaTeX. This extension copies MathJax 3.2.2 from the pinned PyPI package
`sphinx-mathjax-offline` (see requirements.txt) into `_build/html/_static/mathjax/` and points
`mathjax_path` at that copy. MathJax's loader finds its fonts and components relative to the
script's own URL, so nothing is fetched from outside the built folder. It also removes two
console errors every page had (a duplicated sphinx-thebe script, an empty theme mode).

Enabled in `_config.yml` under `sphinx: extra_extensions: [lib.book_assets]`. The book's pages are
checked in a real browser by `tests/browser/check_pages.py`.
"""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

DIST = "sphinx-mathjax-offline"
MATHJAX_ENTRY = "tex-chtml.js"  # TeX input, CommonHTML output with the woff fonts, lazy UI menu
# `latest.js` fetches the newest MathJax from a CDN and `node-main.js` is for node: never served.
SKIPPED = {"latest.js", "node-main.js"}


def mathjax_source() -> Path:
    """The folder of MathJax files inside the installed, pinned package."""
    try:
        dist = importlib.metadata.distribution(DIST)
    except importlib.metadata.PackageNotFoundError as err:
        raise RuntimeError(f"{DIST} is not installed: pip install -r requirements.txt") from err
    folder = Path(dist.locate_file("sphinx-mathjax-offline/static/mathjax"))
    if not (folder / MATHJAX_ENTRY).is_file():
        raise RuntimeError(f"{DIST} has no {MATHJAX_ENTRY} under {folder}")
    return folder


def copy_mathjax(source: Path, dest: Path) -> int:
    """Copy MathJax (less SKIPPED) into dest, leaving files already up to date; count copied."""
    copied = 0
    for root, _dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        for name in files:
            if rel == Path(".") and name in SKIPPED:
                continue
            src, dst = Path(root) / name, dest / rel / name
            stat = src.stat()
            if dst.is_file() and dst.stat().st_size == stat.st_size and dst.stat().st_mtime >= stat.st_mtime:
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(src.read_bytes())
            copied += 1
    return copied


def _config_inited(app, config):
    # Sphinx's default is a CDN URL: replace any URL by the local copy (relative to _static/).
    if "://" in str(config.mathjax_path):
        config.mathjax_path = f"mathjax/{MATHJAX_ENTRY}"
    # pydata-sphinx-theme reads its default mode from html_context; left empty, a reader's first
    # page logs the console error "Got invalid theme mode: . Resetting to auto.". Say `auto`,
    # what the theme falls back to anyway.
    if isinstance(config.html_context, dict):
        config.html_context.setdefault("default_mode", "auto")


def _builder_inited(app):
    if app.builder.format != "html":
        return
    copy_mathjax(mathjax_source(), Path(app.outdir) / "_static" / "mathjax")


def _dedupe_scripts(app, pagename, templatename, context, doctree):
    # sphinx-thebe adds its inline `const THEBE_JS_URL = ...` script twice under jupyter-book, a
    # SyntaxError in every page's console: keep one copy of each identical script tag.
    scripts = context.get("script_files")
    if not scripts:
        return
    seen, kept = set(), []
    for js in scripts:
        # the same script is registered once with filename None and once with ''
        key = (getattr(js, "filename", str(js)) or "", repr(sorted(getattr(js, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept


def setup(app):
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _config_inited)
    app.connect("builder-inited", _builder_inited)
    app.connect("html-page-context", _dedupe_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
