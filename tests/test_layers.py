"""The package's three layers (book/design.md): models and estimators, experiments, presentation.

Read from the source (no imports run): no cycle among ``lib`` modules, no ``lib`` import hidden
inside a function, models never import experiments or presentation, and nothing imports the
command-line runner.
"""

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "lib"
MODELS = {
    "lib.data", "lib.checksums", "lib.fetch", "lib.mi", "lib.metrics", "lib.claims", "lib.nets",
    "lib.autoencoders", "lib.training", "lib.checkpoints", "lib.rbm", "lib.rbm_exact", "lib.ppica",
    "lib.ddn", "lib.ddn_alternatives", "lib.batched", "lib.identity", "lib.costs", "lib.controls",
    "lib.toys", "lib.adversarial",
}  # fmt: skip
PRESENTATION = {
    "lib.plots", "lib.rbm_plots", "lib.diagrams", "lib.ica_demos", "lib.pages", "lib.summary",
    "lib.run", "lib.book_stamps", "lib.book_assets", "lib.figure_index", "lib.lab", "lib.asae_plots",
    "lib.ruler_plots", "lib.conclusion",
}  # fmt: skip


def _modules():
    for path in sorted(LIB.rglob("*.py")):
        parts = path.relative_to(LIB.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(), filename=str(path))


def _lib_names(node):
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("lib.")]
    if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lib"):
        if node.module == "lib":
            return [f"lib.{a.name}" for a in node.names]
        return [node.module]
    return []


def _imports():
    """{module: ({imported lib modules}, [(line, module) imported inside a function])}."""
    graph = {}
    for name, tree in _modules():
        top, inner = set(), []
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for sub in ast.walk(node):
                    inner += [(sub.lineno, m) for m in _lib_names(sub)]
            top |= set(_lib_names(node))
        graph[name] = (top, inner)
    return graph


GRAPH = _imports()


def test_no_lib_import_inside_a_function():
    hidden = {name: inner for name, (_, inner) in GRAPH.items() if inner}
    assert hidden == {}, f"imports inside functions (move them to the top): {hidden}"


def test_no_import_cycle():
    edges = {name: {m for m in top if m in GRAPH and m != name} for name, (top, _) in GRAPH.items()}
    state, cycles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert cycles == [], f"import cycles: {cycles}"


def test_models_import_neither_experiments_nor_presentation():
    wrong = {
        name: sorted(m for m in top if m not in MODELS and m != "lib")
        for name, (top, _) in GRAPH.items()
        if name in MODELS
    }
    assert {k: v for k, v in wrong.items() if v} == {}


def test_experiments_import_no_presentation():
    experiments = {n for n in GRAPH if n not in MODELS | PRESENTATION | {"lib"}}
    wrong = {n: sorted(GRAPH[n][0] & PRESENTATION) for n in experiments if GRAPH[n][0] & PRESENTATION}
    assert wrong == {}, f"experiments importing figures or pages (move the figure code up): {wrong}"


def test_library_code_never_imports_the_runner():
    users = sorted(name for name, (top, _) in GRAPH.items() if "lib.run" in top and name != "lib.run")
    assert users == []


def test_every_module_has_a_layer():
    experiments = {n for n in GRAPH if n.startswith("lib.chapters") or n in {"lib.experiments",
                   "lib.evidence", "lib.cluster", "lib.planning", "lib.asae_runs",
                   "lib.toy_study", "lib.profiles", "lib.processes", "lib.ddn_runs"}}  # fmt: skip
    unplaced = set(GRAPH) - MODELS - PRESENTATION - experiments - {"lib"}
    assert unplaced == set(), f"modules in no layer (add them to tests/test_layers.py): {unplaced}"


def test_no_chapter_module_imports_another_chapter():
    """Chapters lean on lower layers, never on each other (shared helpers move down a layer)."""
    leaning = {
        name: sorted(m for m in imports if m.startswith("lib.chapters.") and m != name)
        for name, (imports, _) in GRAPH.items()
        if name.startswith("lib.chapters.")
    }
    assert {k: v for k, v in leaning.items() if v} == {}


def test_no_model_module_defines_a_run_function():
    """Sweep functions (``run_*``) are experiments: they build data, train and score."""
    runs = {
        name: [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("run_")]
        for name, tree in _modules()
        if name in MODELS
    }
    assert {k: v for k, v in runs.items() if v} == {}
