"""Sphinx extension: a chapter page is re-executed exactly when what it is computed from changes.

Sphinx re-reads a page only when its source file changes, so after an edit to a ``lib`` module,
another data folder or another ``BOOK_PROFILE`` a rebuild would keep pages computed by older code,
other data or another profile. This extension stamps every notebook page, when it is read, with
the profile, the chapter's code fingerprint (its text and every ``lib`` module it imports,
transitively; ``lib.identity``) and the data fingerprint, and marks a page outdated when its
stamp differs. A page that reads the other chapters (one importing ``lib.summary``, the conclusion, or
``lib.figure_index``, the figure index) is re-read whenever any other page is, and when their
records change.

A page whose execution failed is never stamped, so the next build executes it again, and the
build ends with a non-zero status naming the page and its failing cell. Before anything runs,
the build's profile (``BOOK_PROFILE``) and data (``MNIST_DIR``) are checked: a bad one stops the
build with one line and exit status 2, as ``python -m lib.run`` does.

Enabled in ``_config.yml`` (``sphinx: extra_extensions: [lib.book_stamps]``).
"""

import hashlib
import sys
from pathlib import Path

from sphinx.util import logging

from lib.experiments import BadInputs, check_inputs, results_dir
from lib.identity import chapter_fingerprint, chapter_modules, data_fingerprint
from lib.profiles import resolve_profile

READS_RECORDS = {"lib.summary", "lib.figure_index"}  # pages importing these read other chapters


def _is_notebook(path):
    return path.suffix == ".md" and path.read_text().startswith("---\njupytext:")


def _records_fingerprint(profile):
    digest = hashlib.sha256()
    for path in sorted(results_dir(profile).glob("*.json")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:12]


def page_stamp(path, profile, data):
    """What a notebook page at ``path`` depends on, as a tuple that changes when any part does."""
    stamp = (profile, data, chapter_fingerprint(path))
    if READS_RECORDS & set(chapter_modules(path)):
        stamp += (_records_fingerprint(profile),)
    return stamp


def _build_inputs(app):
    """The profile and data fingerprint of this build (computed once per build)."""
    if not hasattr(app, "book_inputs"):
        app.book_inputs = (resolve_profile(None), data_fingerprint(None))
    return app.book_inputs


def _notebooks(env):
    paths = {d: Path(env.doc2path(d)) for d in env.found_docs}
    return {d: p for d, p in paths.items() if p.exists() and _is_notebook(p)}


def _outdated(app, env, added, changed, removed):
    """Pages whose stamp differs from the one they were last read with (Sphinx event)."""
    old = getattr(env, "book_stamps", {})
    notebooks = _notebooks(env)
    stale = {d for d, path in notebooks.items() if old.get(d) != page_stamp(path, *_build_inputs(app))}
    readers = {d for d, path in notebooks.items() if READS_RECORDS & set(chapter_modules(path))}
    if (stale | set(added) | set(changed)) - readers:
        stale |= readers
    return sorted(stale - set(added) - set(changed))


def _failed_cell(traceback):
    """The first line of the failing cell and the error, from myst-nb's execution traceback."""
    lines = [line for line in (traceback or "").splitlines() if line.strip()]
    dashes = [i for i, line in enumerate(lines) if set(line.strip()) == {"-"}]
    cell = lines[dashes[0] + 1].strip() if dashes and dashes[0] + 1 < len(lines) else "?"
    error = next((line.strip() for line in reversed(lines) if "Error" in line or "Exception" in line), "?")
    return cell, error


def _execution_failure(env, docname):
    """``(cell, error)`` when myst-nb executed the page and it failed, else None."""
    data = getattr(env, "nb_metadata", {}).get(docname, {}).get("exec_data")
    if not data or data.get("succeeded", True):
        return None
    return _failed_cell(data.get("traceback"))


def _stamp_read(app, doctree):
    """Remember the stamp a page was read (executed) with; a reader sees the records it read.

    A page whose execution failed gets no stamp (the next build executes it again) and is
    remembered for the build's end (``_fail_build``)."""
    env = app.env
    path = Path(env.doc2path(env.docname))
    if path.exists() and _is_notebook(path):
        if not hasattr(env, "book_stamps"):
            env.book_stamps = {}
        failure = _execution_failure(env, env.docname)
        if failure:
            env.book_stamps.pop(env.docname, None)
            app.book_failures = {**getattr(app, "book_failures", {}), env.docname: failure}
        else:
            env.book_stamps[env.docname] = page_stamp(path, *_build_inputs(app))


def _fail_build(app, exception):
    """End a build in which a page failed to execute with a non-zero status, naming each page."""
    failures = getattr(app, "book_failures", {})
    for docname, (cell, error) in sorted(failures.items()):
        logging.getLogger(__name__).error(
            f"{docname}: execution failed in the cell starting {cell!r}: {error} "
            "(the page is not kept: the next build executes it again)"
        )
    if failures:
        app.statuscode = 1


def _check_inputs(app):
    """Stop the build at once, with one line and exit status 2, on a bad profile or data."""
    try:
        check_inputs(resolve_profile(None))
    except (BadInputs, ValueError) as err:
        print(f"jupyter-book build: {err}", file=sys.stderr, flush=True)
        raise SystemExit(2) from None


def _purge(app, env, docname):
    getattr(env, "book_stamps", {}).pop(docname, None)


def setup(app):
    app.connect("env-get-outdated", _outdated)
    app.connect("doctree-read", _stamp_read)
    app.connect("env-purge-doc", _purge)
    app.connect("builder-inited", _check_inputs)
    app.connect("build-finished", _fail_build)
    return {"version": "1", "parallel_read_safe": False, "parallel_write_safe": True, "env_version": 1}
