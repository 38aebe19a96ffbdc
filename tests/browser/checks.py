"""Pure-Python rules of the browser check (no browser, no selenium): unit-tested in
tests/test_browser_checks.py and used by tests/browser/check_pages.py."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

# The checks a page can fail, in report order. Keep in step with check_pages.py and the README of
# known_failures.txt.
CHECKS = (
    "load",  # the page did not load, or the check itself crashed on it
    "offsite",  # the browser requested a URL outside the local server (CDN, fonts, analytics)
    "offsite-static",  # a script/link/img/iframe/source in the HTML points off-site
    "console",  # a console error or an uncaught JavaScript exception
    "math-not-typeset",  # the page has math but MathJax produced no mjx-container
    "math-error",  # MathJax typeset a TeX error (mjx-merror)
    "raw-tex",  # TeX delimiters left in the visible text (math MathJax never saw)
    "image",  # an <img> that did not load (naturalWidth 0)
    "overflow",  # an element inside the article sticks out past the article's right edge
    "wide-output",  # a cell output wider than its box: clipped, the reader must scroll sideways
    "wide-code",  # a code cell (input) wider than its box
    "wide-table",  # a table wider than its box
    "wide-math",  # a display equation wider than its box
    "wide-other",  # any other horizontally scrolling box inside the article
    "stray-output",  # a cell output that is only a bare number or an object's repr
    "missing-figure",  # a cell that shows a figure (plt.show(), display(fig)) has no image output
)

_NUMBER = r"[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
# A whole output that is one number, possibly wrapped as numpy/torch print scalars.
_BARE_NUMBER = re.compile(
    rf"^(?:(?:np\.|numpy\.)?(?:float|int|uint|complex|bool_)\d*\(\s*(?:{_NUMBER})\s*\)"
    rf"|tensor\(\s*(?:{_NUMBER})\s*\)|array\(\s*(?:{_NUMBER})\s*\)|(?:{_NUMBER}))$",
    re.IGNORECASE,
)
# Object reprs that a forgotten `;` leaves under a cell.
_STRAY_REPR = re.compile(
    r"^(?:<[\w.]+(?: [^<>]*)? (?:object )?at 0x[0-9a-f]+>"  # <Foo object at 0x7f...>
    r"|\[<matplotlib\.[^\]]*>\]"  # [<matplotlib.lines.Line2D ...>]
    r"|<(?:Figure|Axes)[^<>]*>"  # <Figure size 640x480 with 1 Axes>
    r"|(?:Text|Line2D)\(.*\)"  # Text(0.5, 1.0, 'title')
    r"|<matplotlib\.[^<>]*>)$",
    re.IGNORECASE | re.DOTALL,
)


def stray_output_reason(text: str) -> str | None:
    """Why a whole cell output is stray (a bare number, an object repr), or None when it is fine."""
    body = text.strip()
    if not body:
        return None
    if _BARE_NUMBER.match(body):
        return f"bare number {body[:60]!r}"
    if _STRAY_REPR.match(body):
        return f"object repr {body[:60]!r}"
    return None


# A cell whose source ends up showing a matplotlib figure. (With MPLBACKEND=Agg in the build's
# environment the kernel is not inline, and every such cell silently shows nothing.)
_SHOWS_FIGURE = re.compile(r"\bplt\.show\(\s*\)|\bdisplay\(\s*fig\w*\s*[,)]|\bfig\w*\.show\(\s*\)")


def _shows_figure_call(node) -> bool:
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr == "show":
        return isinstance(func.value, ast.Name) and (
            func.value.id == "plt" or func.value.id.startswith("fig")
        )
    if isinstance(func, ast.Name) and func.id == "display" and node.args:
        first = node.args[0]
        return isinstance(first, ast.Name) and first.id.startswith("fig")
    return False


def expects_figure(source: str) -> bool:
    """True when a code cell, run top to bottom, shows a figure (plt.show(), display(fig),
    fig.show()) outside any function or class it merely defines; its output must hold an image."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics and the like: fall back to the top-level lines
        top = "\n".join(line.split("#", 1)[0] for line in source.splitlines() if not line[:1].isspace())
        return bool(_SHOWS_FIGURE.search(top))
    todo = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call) and _shows_figure_call(node):
            return True
        todo.extend(ast.iter_child_nodes(node))
    return False


# TeX that MathJax should have consumed. `$...$` alone is too common in prose about money or
# shell code, so only the unambiguous delimiters and environments count.
_RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{[a-z*]+\}|\\end\{[a-z*]+\}")


def find_raw_tex(text: str, context: int = 30) -> list[str]:
    """Snippets of visible text that still hold TeX delimiters."""
    out = []
    for m in _RAW_TEX.finditer(text):
        lo, hi = max(0, m.start() - context), min(len(text), m.end() + context)
        out.append(" ".join(text[lo:hi].split()))
    return out


def is_offsite(url: str, origin: str) -> bool:
    """True for a request that leaves the local server (origin like 'http://127.0.0.1:8000')."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "javascript", "chrome", "chrome-extension", "devtools"):
        return False
    if parts.scheme == "file":
        return False
    if parts.scheme in ("http", "https", "ws", "wss"):
        here = urlsplit(origin)
        return (parts.hostname, parts.port) != (here.hostname, here.port)
    return True  # ftp:, anything unexpected


_RESOURCE_ATTRS = {
    "script": "src",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "link": "href",
    "video": "src",
    "audio": "src",
    "embed": "src",
    "object": "data",
}


class _ResourceLinks(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attr = _RESOURCE_ATTRS.get(tag)
        for name, value in attrs:
            if value and (name == attr or (tag == "img" and name == "srcset")):
                self.found.append(f"<{tag} {name}={value}>")


def offsite_resources(html: str) -> list[str]:
    """Resource tags (script/link/img/...) whose URL is absolute (http:, https: or //host)."""
    parser = _ResourceLinks()
    parser.feed(html)
    bad = []
    for tag in parser.found:
        value = tag.split("=", 1)[1].rstrip(">")
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:)?//", value, re.I) and not value.startswith("file:"):
            bad.append(tag)
    return bad


@dataclass(frozen=True)
class Known:
    page: str
    check: str
    reason: str


def parse_known_failures(text: str) -> list[Known]:
    """Lines `page | check | reason`; blank lines and `#` comments are skipped."""
    known = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"known failures line {n}: want 'page | check | reason', got {line!r}")
        page, check, reason = parts
        if check not in CHECKS:
            raise ValueError(f"known failures line {n}: unknown check {check!r} (one of {', '.join(CHECKS)})")
        known.append(Known(page, check, reason))
    return known


def load_known_failures(path: Path) -> list[Known]:
    return parse_known_failures(path.read_text()) if path.is_file() else []


def split_known(failures: dict[str, list[tuple[str, str]]], known: list[Known]):
    """Split {page: [(check, detail)]} into (new, allowed, stale): stale are listed entries that
    no longer fail."""
    listed = {(k.page, k.check) for k in known}
    new: dict[str, list[tuple[str, str]]] = {}
    allowed: dict[str, list[tuple[str, str]]] = {}
    seen = set()
    for page, items in failures.items():
        for check, detail in items:
            key = (page, check)
            if key in listed:
                allowed.setdefault(page, []).append((check, detail))
                seen.add(key)
            else:
                new.setdefault(page, []).append((check, detail))
    stale = [k for k in known if (k.page, k.check) not in seen]
    return new, allowed, stale


def condense(fails: list[tuple[str, str]], per_check: int = 8) -> list[tuple[str, str]]:
    """Drop repeated findings and keep at most per_check of each check (plus a count of the rest)."""
    out, count = [], {}
    for item in dict.fromkeys(fails):
        check = item[0]
        count[check] = count.get(check, 0) + 1
        if count[check] <= per_check:
            out.append(item)
    for check, n in count.items():
        if n > per_check:
            out.append((check, f"... and {n - per_check} more"))
    return out


def wide_check_name(kind: str) -> str:
    """Map the browser's classification of a scrolling box to a check name."""
    return {"output": "wide-output", "code": "wide-code", "table": "wide-table", "math": "wide-math"}.get(
        kind, "wide-other"
    )


def pages_in(build: Path) -> list[str]:
    """Every HTML page of a built book, relative to its root, skipping Sphinx's support folders."""
    skip = {"_static", "_sources", "_images", ".doctrees", "_downloads", "_sphinx_design_static"}
    pages = []
    for path in sorted(build.rglob("*.html")):
        rel = path.relative_to(build)
        if rel.parts[0] in skip:
            continue
        pages.append(rel.as_posix())
    return pages
