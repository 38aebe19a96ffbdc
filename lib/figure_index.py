"""The figure index: every thesis figure and table (63) -> the book's section, a thumbnail and the
``lib`` function that draws it. Generated from the chapters' text, so it cannot drift.

A chapter figure is a code cell with myst-nb figure options (``mystnb: figure: name: fig-C-N``);
its caption names the thesis figures it redraws ("Figure 8.6", "Figures 9.5-9.7"); its
``save_figure(fig, "figC_N", profile)`` call names the PNG the thumbnail is made from; the
functions it calls that the chapter imports from ``lib`` are the code that draws it. A thesis
table is a label line ``(tab-C-N)=``.
"""

from __future__ import annotations

import ast
import base64
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from PIL import Image

from lib.experiments import results_dir
from lib.profiles import ROOT, chapter_title, toc_chapters

# The thesis's figures and tables, with a short title from each caption (Butler-Yeoman 2017).
THESIS = {
    "2.1": "explaining away", "2.2": "the RBM", "2.3": "CD-k learning in an RBM",
    "3.1": "the Broadnet", "3.2": "CD-k learning in a Broadnet", "3.3": "toy datasets",
    "3.4": "a Broadnet on MNIST 5s plus a gradient", "3.5": "top 10 principal components of 3.4's data",
    "Table 3.1": "learning setups tried for disentangling", "3.6": "second Broadnet example",
    "3.7": "third Broadnet example", "4.1": "the most used dataset",
    "4.2": "training with incorrect anti-Hebbian initialisation", "4.3": "mean absolute weight",
    "4.4": "sensitivity to noise", "4.5": "true vs sampled posterior of a GRBM-initialised Broadnet",
    "4.6": "activity over the first 10 iterations", "4.7": "activity for various sigma",
    "4.8": "activity for various data magnitudes", "4.9": "small Broadnets from random starts",
    "4.10": "gradient descent from a GRBM-initialised Broadnet",
    "4.11": "the GRBM-initialised Broadnet used as reference",
    "4.12": "log probability of all 120 unit configurations",
    "4.13": "training each of the 120 configurations", "4.14": "disentangled optimum vs all configurations",
    "4.15": "distances between converged models", "4.16": "configurations' log probability in training",
    "4.17": "optima from interpolated initialisations", "5.1": "FastICA on linearly entangled data",
    "6.1": "the modified ICA model", "6.2": "the tested dataset", "6.3": "PPICA results",
    "6.4": "estimated MI across annealing iterations", "6.5": "PPICA results, second dataset",
    "7.1": "an autoencoder", "7.2": "an adversarial autoencoder", "7.3": "a GAN",
    "8.1": "the four benchmark datasets", "8.2": "the ASAE", "8.3": "two-unit ASAEs on Simple MNIST",
    "8.4": "MI over epochs, 30 two-unit runs", "8.5": "MI against reconstruction error",
    "8.6": "reconstructions of successful runs", "8.7": "reconstructions of failed runs",
    "8.8": "MI over epochs, 30 ten-unit runs", "8.9": "MI over epochs on Additive MNIST",
    "8.10": "reconstructions on Additive MNIST", "8.11": "a common failure",
    "9.1": "a GMMN approximating a code", "9.2": "the basic DDN", "9.3": "the extended DDN",
    "9.4": "equal learning rates", "9.5": "MI across 30 runs, Simple MNIST",
    "9.6": "generation, Simple MNIST", "9.7": "reconstructions, Simple MNIST",
    "9.8": "cross plot, Simple MNIST", "9.9": "MI across 30 runs, Additive MNIST",
    "9.10": "generation, Additive MNIST", "9.11": "reconstructions, Additive MNIST",
    "9.12": "MI across 30 runs, Occlusive MNIST", "9.13": "generation, Occlusive MNIST",
    "9.14": "reconstructions, Occlusive MNIST", "9.15": "generation on standard MNIST",
}  # fmt: skip

_CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```", re.S | re.M)
_OPTIONS = re.compile(r"\A---\n(.*?)^---\n", re.S | re.M)
_TABLE_LABEL = re.compile(r"^\(tab-(\d+)-(\d+)\)=", re.M)
_NUMBERS = re.compile(r"(?:Figures?|Fig\.)\s+((?:\d+\.\d+(?:\s*(?:-|–|/|,|and|&)\s*)?)+)")


COMPUTING = ("lib.chapters.", "lib.experiments.", "lib.data.")  # what a figure cell computes, not draws


@dataclass
class BookFigure:
    """One figure cell of a chapter."""

    chapter: str
    label: str
    caption: str
    files: list = field(default_factory=list)
    functions: list = field(default_factory=list)
    numbers: list = field(default_factory=list)


def figure_numbers(caption: str) -> list[str]:
    """The thesis figure numbers a caption names: "Figures 9.5-9.7" -> 9.5, 9.6, 9.7."""
    found = []
    for group in _NUMBERS.findall(caption):
        parts = re.findall(r"\d+\.\d+|-|–", group)
        for i, token in enumerate(parts):
            if token in "-–" and 0 < i < len(parts) - 1:
                (c, a), (_, b) = (p.split(".") for p in (parts[i - 1], parts[i + 1]))
                found += [f"{c}.{n}" for n in range(int(a) + 1, int(b))]
            elif token not in "-–":
                found.append(token)
    return list(dict.fromkeys(found))


def _lib_names(source: str) -> dict:
    """name -> ``lib.module.name`` for every ``from lib.x import name`` in the chapter."""
    names = {}
    for cell in _CELL.findall(source):
        code = _OPTIONS.sub("", cell)
        code = "\n".join(line for line in code.splitlines() if not line.startswith((":", "%", "!")))
        for node in ast.walk(ast.parse(code)):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib"):
                names.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
            elif isinstance(node, ast.Import):
                names.update({a.asname or a.name: a.name for a in node.names if a.name.startswith("lib")})
    return names


def _calls(code: str, names: dict) -> tuple[list, list]:
    """The lib functions a cell calls and the figure files it saves."""
    functions, files = [], []
    for node in ast.walk(ast.parse(code)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Name) and func.id in names:  # from lib.x import f; f(...)
            name = names[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
            name = f"{names[func.value.id]}.{func.attr}"  # from lib import x; x.f(...)
        else:
            continue
        if name.endswith(".save_figure") and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
            files.append(node.args[1].value)
        elif not name.endswith((".save_figure", ".glue")):
            functions.append(name)
    return list(dict.fromkeys(functions)), files


def chapter_figures(chapter: str) -> tuple[list[BookFigure], dict]:
    """The figure cells of a chapter, and its thesis table labels (table number -> label)."""
    source = (ROOT / "book" / f"{chapter}.md").read_text()
    names, figures = _lib_names(source), []
    for cell in _CELL.findall(source):
        options = _OPTIONS.match(cell)
        spec = (yaml.safe_load(options.group(1)) or {}) if options else {}
        figure = (spec.get("mystnb") or {}).get("figure")
        if not figure or "name" not in figure:
            continue
        code = "\n".join(line for line in cell[options.end() :].splitlines() if not line.startswith("%"))
        functions, files = _calls(code, names)
        caption = str(figure.get("caption", ""))
        numbers = figure_numbers(caption)
        own = re.fullmatch(r"fig-(\d+)-(\d+)", figure["name"])
        if own and f"{own[1]}.{own[2]}" not in numbers:
            numbers.insert(0, f"{own[1]}.{own[2]}")
        figures.append(BookFigure(chapter, figure["name"], caption, files, functions, numbers))
    tables = {f"Table {c}.{n}": f"tab-{c}-{n}" for c, n in _TABLE_LABEL.findall(source)}
    return figures, tables


def thumbnail(path: Path, width: int = 150) -> str | None:
    """A small PNG of a saved figure as a data URI (None when the figure was not saved)."""
    if not path.exists():
        return None
    with Image.open(path) as image:
        image = image.convert("RGB")
        image.thumbnail((width, 4 * width))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def index_rows(profile: str, chapters=None) -> list[dict]:
    """One row per thesis figure/table: where the book draws it, its thumbnail, its code."""
    where = {}
    for chapter in chapters or toc_chapters():
        figures, tables = chapter_figures(chapter)
        for fig in figures:
            for number in fig.numbers:
                where.setdefault(number, fig)
        for number, label in tables.items():
            where.setdefault(number, (chapter, label))
    rows = []
    for number, title in THESIS.items():
        found = where.get(number)
        row = {"thesis": number if number.startswith("Table") else f"Figure {number}", "title": title}
        if isinstance(found, BookFigure):
            png = results_dir(profile) / "figures" / f"{found.files[0]}.png" if found.files else None
            row.update(chapter=found.chapter, label=found.label, functions=found.functions,
                       thumbnail=thumbnail(png) if png else None)  # fmt: skip
        elif found:
            row.update(chapter=found[0], label=found[1], functions=[], thumbnail=None)
        rows.append(row)
    return rows


def _function_cell(name: str) -> str:
    """``lib.rbm_plots.cd_chain_diagram`` as its function name over its module (narrow)."""
    module, _, function = name.removeprefix("lib.").rpartition(".")
    return f"`{function}`<br><small>{module}</small>"


def index_markdown(rows: list[dict]) -> str:
    """The index as a MyST table: thesis number, title, the book's figure, thumbnail, code."""
    lines = ["| thesis | in the book | thumbnail | drawn by (in `lib`) |", "|---|---|---|---|"]
    for r in rows:
        said = f"{r['thesis']}: {r['title']}"
        if "chapter" not in r:
            lines.append(f"| {said} | not drawn | | |")
            continue
        short = r["thesis"].replace("Figure", "Fig.")
        link = f"{{ref}}`{short} <{r['label']}>` ({chapter_title(r['chapter']).split(':')[0]})"
        image = f'<img src="{r["thumbnail"]}" alt="{r["thesis"]}" width="110">' if r["thumbnail"] else ""
        drawing = [f for f in r["functions"] if not f.startswith(COMPUTING)] or r["functions"]
        code = "<br>".join(_function_cell(f) for f in drawing) or "(a table)"
        lines.append(f"| {said} | {link} | {image} | {code} |")
    return "\n".join(lines)
