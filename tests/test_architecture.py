"""The architecture, checked on the source: no import cycles, imports point down the layers,
plugins use only the public API, modules stay small.

The import graph is read with :mod:`ast` from every ``import`` statement in ``translate/``,
including those inside functions (a lazy import is still an arrow); imports under
``if TYPE_CHECKING:`` are left out (they never run). ``docs/architecture.md`` draws the layers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import translate
import translate.api

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "translate"
PLUGIN_SOURCES = [ROOT / "plugins", ROOT / "docs" / "examples" / "translate-example-plugin" / "translate_example_plugin"]
MAX_LINES = 300

# Lower layers never import higher ones. A new module must be placed here (the test says so).
LAYERS: dict[str, int] = {}
LAYER_NAMES = ["leaves and contracts", "plugin core, recipes, data and model files", "engine", "features",
               "command line"]
_LAYER_OF_PREFIX: list[tuple[str, int]] = [
    # 0: leaves and contracts: no translate imports but each other
    ("translate.version", 0), ("translate.errors", 0), ("translate.options", 0), ("translate.atomic", 0),
    ("translate.markdown", 0), ("translate.data", 0), ("translate.method", 0), ("translate.losses", 0),
    ("translate.nn", 0), ("translate.hookspecs", 0), ("translate.preprocess", 0), ("translate.data_source", 0),
    ("translate.shapes", 0), ("translate.factories", 0), ("translate.disk", 0), ("translate.metric", 0), ("translate.scale", 0),
    ("translate.reachability", 0), ("translate.gemm_conv", 0),
    # 1: the plugin core, recipes, data helpers, model files, and the public API that gathers them
    ("translate.registry", 1), ("translate.plugins", 1), ("translate.recipe", 1), ("translate.build", 1),
    ("translate.imageio", 1), ("translate.augment", 1), ("translate.data_options", 1), ("translate.generated", 1),
    ("translate.device_augment", 1),
    ("translate.modelfile", 1), ("translate.api", 1), ("translate.weights", 1),
    # 2: the training engine
    ("translate.evaluation.cli", 3), ("translate.model_evaluation", 3),  # before the layer-2 prefix below
    ("translate.engine", 2), ("translate.evaluation", 2),
    # 3: features built on the engine and the registry
    ("translate.model_card", 3), ("translate.export", 3), ("translate.hub", 3),
    ("translate.onnx", 3), ("translate.model_source", 3), ("translate.input_kinds", 3), ("translate.pipeline", 3), ("translate.inference", 3),
    ("translate.download", 3), ("translate.docs", 3), ("translate.check", 3), ("translate.plugin_list", 3),
    ("translate.report", 3), ("translate.convert", 3), ("translate.serve", 3), ("translate.demo", 3),
    # the plugin authors' kit drives the engine and translate.load (check_loss, check_method)
    ("translate.testing", 3), ("translate.testing_losses", 3), ("translate.testing_methods", 3),
    # 4: the command line
    ("translate.cli", 4),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return out


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The ``translate`` modules that the file imports (a name imported from a package counts as
    that submodule when it is one)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        base = package
        for _ in range(node.level - 1):
            base = base.rpartition(".")[0]
        module = node.module if node.level == 0 else ".".join(p for p in (base, node.module) if p)
        for alias in node.names:
            sub = f"{module}.{alias.name}"
            targets.add(sub if sub in known else module)
    return {t for t in targets if t == "translate" or t.startswith("translate.")}


GRAPH = {name: imported_modules(path, name, set(MODULES)) - {name} for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def layer(name: str) -> int | None:
    for prefix, value in _LAYER_OF_PREFIX:
        if name == prefix or name.startswith(prefix + "."):
            return value
    return None


def test_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycles_in_translate() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_version_is_a_leaf() -> None:
    assert GRAPH["translate.version"] == set()
    users = sorted(name for name, targets in GRAPH.items() if "translate" in targets)
    assert users == [], f"modules importing the translate package itself (import translate.version instead): {users}"


def test_every_module_has_a_layer() -> None:
    missing = sorted(name for name in MODULES if name != "translate" and layer(name) is None)
    assert missing == [], f"place these modules in a layer of tests/test_architecture.py: {missing}"


def test_imports_point_down_the_layers() -> None:
    upward = []
    for name, targets in GRAPH.items():
        if name == "translate":  # the package facade re-exports the API and `load`
            continue
        for target in sorted(targets):
            if layer(target) is not None and layer(name) is not None and layer(target) > layer(name):
                upward.append(f"{name} ({LAYER_NAMES[layer(name)]}) imports {target} ({LAYER_NAMES[layer(target)]})")
    assert upward == [], "imports that point up:\n" + "\n".join(upward)


def _plugin_files() -> list[Path]:
    return [p for base in PLUGIN_SOURCES for p in sorted(base.rglob("*.py"))]


def test_plugins_import_only_the_public_api() -> None:
    assert _plugin_files(), "no plugin sources found"
    public = set(translate.api.__all__)
    problems = []
    for path in _plugin_files():
        for node in _import_nodes(ast.parse(path.read_text(), str(path))):
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(node, ast.Import):
                problems += [f"{where}: import {a.name}" for a in node.names
                             if a.name.startswith("translate.") and a.name != "translate.api"]
            elif node.level == 0 and node.module and (node.module == "translate" or node.module.startswith("translate.")):
                if node.module not in ("translate", "translate.api"):
                    problems.append(f"{where}: from {node.module} import ...")
                problems += [f"{where}: {a.name} is not in translate.api.__all__" for a in node.names
                             if a.name not in public]
    assert problems == [], "plugins must import only translate / translate.api:\n" + "\n".join(problems)


def test_plugins_attribute_access_stays_in_the_public_api() -> None:
    """``translate.X`` attribute uses in plugin code name public API entries only."""
    public = set(translate.__all__)
    problems = []
    for path in _plugin_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "translate" \
                    and node.attr not in public:
                problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: translate.{node.attr}")
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("name", sorted(translate.api.__all__))
def test_public_api_names_resolve(name: str) -> None:
    assert getattr(translate.api, name) is getattr(translate, name)


def test_core_never_names_a_plugin_package() -> None:
    plugin_packages = sorted(p.name for p in (ROOT / "plugins").iterdir() if (p / "__init__.py").exists())
    assert plugin_packages
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, plugin_packages)) + r")\b")
    hits = [f"{path.relative_to(ROOT)}: {m.group(0)}" for path in MODULES.values()
            for m in pattern.finditer(path.read_text())]
    assert hits == [], "the core names plugin packages:\n" + "\n".join(hits)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_are_small_or_say_why(name: str) -> None:
    path = MODULES[name]
    lines = len(path.read_text().splitlines())
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    assert lines <= MAX_LINES or "longer than 300 lines" in doc.lower(), (
        f"{path.relative_to(ROOT)} has {lines} lines: split it by concern, or say in its docstring why it is "
        "longer than 300 lines")


def test_third_party_imports_are_declared() -> None:
    """Every package that translate/ or the built-in plugins import is a declared dependency."""
    import sys
    import tomllib
    from importlib import metadata

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
                for d in project["dependencies"] + [d for ds in project["optional-dependencies"].values() for d in ds]}
    dists = metadata.packages_distributions()
    own = {"translate"} | {p.name for p in (ROOT / "plugins").iterdir()}
    undeclared = set()
    for path in [*MODULES.values(), *(p for p in sorted((ROOT / "plugins").rglob("*.py")))]:
        for node in _import_nodes(ast.parse(path.read_text(), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] if node.level == 0 and node.module else []
            for top in {n.split(".")[0] for n in names} - own - set(sys.stdlib_module_names):
                if not {d.lower().replace("_", "-") for d in dists.get(top, [top])} & declared:
                    undeclared.add(f"{top} ({path.relative_to(ROOT)})")
    assert undeclared == set(), f"imported but not declared in pyproject.toml: {sorted(undeclared)}"


def test_architecture_doc_names_every_module() -> None:
    """docs/architecture.md places every module of translate/ (``dir/{a,b}.py`` groups count)."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    named = set(re.findall(r"translate/[\w/]+\.py", text))
    for folder, group in re.findall(r"(translate/[\w/]+/)\{([\w,]+)\}\.py", text):
        named.update(f"{folder}{part}.py" for part in group.split(","))
    missing = sorted(str(p.relative_to(ROOT)) for p in MODULES.values()
                     if p.name != "__init__.py" and str(p.relative_to(ROOT)) not in named)
    assert missing == [], f"docs/architecture.md does not say where these modules belong: {missing}"
