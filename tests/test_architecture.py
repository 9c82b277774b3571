"""The architecture, checked on the source against ``docs/architecture.md``.

The import graph is read with :mod:`ast` from every ``import`` statement in ``translate/``,
including those inside functions (a lazy import is still an arrow); imports under
``if TYPE_CHECKING:`` are left out (they never run). From it: no cycle between files, no loop
between packages, and the imports between packages are exactly those the package table of
``docs/architecture.md`` allows, so the document cannot drift from the code. The hook list, the
built-in plugin list and the module table of the document are checked the same way; plugins
import only the public API; core and plugin modules alike have docstrings and stay within the
size limit unless listed below with the concept that makes them long.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

import translate
import translate.api

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "translate"
PLUGIN_SOURCES = [ROOT / "plugins", ROOT / "docs" / "examples" / "translate-example-plugin" / "translate_example_plugin"]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
MAX_LINES = 300
# Modules longer than MAX_LINES because one concept needs the room: path -> that concept. An entry
# that is no longer over the limit fails, so the list stays true.
LONG_MODULES: dict[str, str] = {
    "translate/engine/trainer.py": "the training run: train() and TrainingRun, whose named steps share one object",
    "translate/models/schema.py": "the model file's metadata format: every part a model file may carry (generators, "
                                  "training, evaluation, published numbers, provenance), one strict model each",
}


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


def package_of(module: str) -> str:
    """The package a module belongs to: ``translate.<first level>`` (a top-level module is its own)."""
    return ".".join(module.split(".")[:2])


PACKAGES = sorted({package_of(name) for name in MODULES})
PACKAGE_GRAPH = {pkg: {package_of(t) for name, targets in GRAPH.items() if package_of(name) == pkg
                       for t in targets} - {pkg} for pkg in PACKAGES}


def _doc_section(title: str) -> str:
    text = ARCHITECTURE.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start: end if end != -1 else len(text)]


def _table_rows(section: str) -> list[list[str]]:
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("|")]
    return [row for row in rows[2:]]  # past the header and the rule


def documented_packages() -> dict[str, set[str]]:
    """The package table of docs/architecture.md: package -> the packages it may import."""
    out = {}
    for row in _table_rows(_doc_section("The packages")):
        name = "translate" if row[0] == "`translate/__init__.py`" else \
            "translate." + re.sub(r"\.py$", "", row[0].strip("`").rstrip("/").removeprefix("translate/"))
        out[name] = {"translate." + m for m in re.findall(r"`([\w]+)`", row[2])}
    return out


def test_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_package_graph_sees_lazy_imports(tmp_path: Path) -> None:
    """A loop made only by an import inside a function is still a loop."""
    a = tmp_path / "a.py"
    a.write_text("def f():\n    from translate.engine import trainer\n")
    assert "translate.engine.trainer" in imported_modules(a, "translate.models.a", set(MODULES))
    assert find_cycle({**PACKAGE_GRAPH, "translate.models": PACKAGE_GRAPH["translate.models"] | {"translate.engine"}})


def test_no_import_cycles_between_files() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_no_loops_between_packages() -> None:
    cycle = find_cycle(PACKAGE_GRAPH)
    assert cycle is None, "packages import each other: " + " -> ".join(cycle or [])


def test_version_is_a_leaf() -> None:
    assert GRAPH["translate.version"] == set()
    users = sorted(name for name, targets in GRAPH.items() if "translate" in targets)
    assert users == [], f"modules importing the translate package itself (import translate.version instead): {users}"


def test_top_of_translate_is_only_the_face() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "api.py", "errors.py", "version.py"], top


def test_every_package_says_what_it_owns() -> None:
    missing = [pkg for pkg in PACKAGES if pkg.count(".") == 1 and (PACKAGE / pkg.split(".")[1]).is_dir()
               and len(ast.get_docstring(ast.parse(MODULES[pkg].read_text())) or "") < 80]
    assert missing == [], f"package __init__ without a docstring saying what it holds: {missing}"


def test_doc_lists_every_package() -> None:
    documented = documented_packages()
    assert sorted(documented) == PACKAGES, (
        f"docs/architecture.md 'The packages' lists {sorted(documented)}; the code has {PACKAGES}")


def test_imports_between_packages_are_the_documented_ones() -> None:
    """Each package imports exactly the packages its row of the table names: no more (an arrow the
    document does not show) and no fewer (a promise the code no longer keeps)."""
    documented = documented_packages()
    problems = []
    for pkg in PACKAGES:
        extra = PACKAGE_GRAPH[pkg] - documented.get(pkg, set())
        stale = documented.get(pkg, set()) - PACKAGE_GRAPH[pkg]
        for target in sorted(extra):
            where = sorted(name for name, targets in GRAPH.items() if package_of(name) == pkg
                           and any(package_of(t) == target for t in targets))
            problems.append(f"{pkg} imports {target} (in {', '.join(where)}), which the table does not allow")
        problems += [f"{pkg}: the table says it imports {t}, but it does not" for t in sorted(stale)]
    assert problems == [], "\n".join(problems)
    assert find_cycle(documented) is None


def _hook_names() -> list[str]:
    tree = ast.parse((PACKAGE / "plugin" / "hookspecs.py").read_text())
    return sorted(node.name for node in tree.body if isinstance(node, ast.FunctionDef)
                  and any(isinstance(d, ast.Name) and d.id == "hookspec" for d in node.decorator_list))


def test_doc_lists_every_hook() -> None:
    hooks = _hook_names()
    assert len(hooks) >= 8
    documented = sorted(row[0].strip("`") for row in _table_rows(_doc_section("The plugin core")))
    assert documented == hooks


def test_doc_lists_every_built_in_plugin() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry_points = project["entry-points"]["translate"]
    documented = {row[0].strip("`"): row[1].strip("`") for row in _table_rows(_doc_section("The built-in plugins"))}
    assert documented == entry_points


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


def _measured_modules() -> dict[str, Path]:
    """Core and plugin modules, measured by the same rules."""
    return {str(p.relative_to(ROOT)): p for p in [*MODULES.values(), *_plugin_files()]}


def test_modules_stay_within_the_limit_or_are_listed() -> None:
    long = {name: len(p.read_text().splitlines()) for name, p in _measured_modules().items()
            if len(p.read_text().splitlines()) > MAX_LINES}
    unlisted = {name: n for name, n in long.items() if name not in LONG_MODULES}
    stale = sorted(set(LONG_MODULES) - set(long))
    assert unlisted == {}, (f"modules over {MAX_LINES} lines: {unlisted}. Split them where they hold several "
                            "concepts; a module that holds one concept goes into LONG_MODULES with that concept")
    assert stale == [], f"LONG_MODULES lists modules that are no longer long: {stale}"


def test_modules_have_docstrings() -> None:
    missing = [name for name, p in _measured_modules().items()
               if p.read_text().strip() and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == [], f"modules without a docstring: {missing}"


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


def test_architecture_doc_places_every_module() -> None:
    """The table 'Where each concept lives' names every module of translate/ (``dir/{a,b}.py`` groups
    count), and names no module that does not exist."""
    text = _doc_section("Where each concept lives")
    named = set(re.findall(r"translate/[\w/]+\.py", text))
    for folder, group in re.findall(r"(translate/[\w/]+/)\{([\w,]+)\}\.py", text):
        named.update(f"{folder}{part}.py" for part in group.split(","))
    files = {str(p.relative_to(ROOT)) for p in MODULES.values()}
    missing = sorted(f for f in files if not f.endswith("__init__.py") and f not in named)
    unknown = sorted(named - files)
    assert missing == [], f"docs/architecture.md does not say where these modules belong: {missing}"
    assert unknown == [], f"docs/architecture.md names modules that do not exist: {unknown}"


def _translate_names(tree: ast.AST) -> set[str]:
    """Names bound to translate modules in a test file (imports and ``importlib.import_module``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {(a.asname or a.name.split(".")[0]) for a in node.names if a.name.startswith("translate")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("translate"):
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) \
                and ast.unparse(node.value.func).endswith("import_module") and node.value.args \
                and isinstance(node.value.args[0], ast.Constant) and str(node.value.args[0].value).startswith("translate"):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_tests_patch_no_private_names_of_translate() -> None:
    """Tests install plugins and fake failures through public names (fixtures, public functions of
    the libraries underneath), never by patching translate's private names."""
    problems = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text())
        ours = _translate_names(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "setattr"):
                continue
            args = node.args
            if args and isinstance(args[0], ast.Constant) and isinstance(args[0].value, str):
                target = args[0].value
                if target.startswith("translate") and any(_private(p) for p in target.split(".")):
                    problems.append(f"{path.name}:{node.lineno}: {target}")
            elif len(args) >= 2 and isinstance(args[1], ast.Constant) and _private(str(args[1].value)) \
                    and ast.unparse(args[0]).split(".")[0] in ours:
                problems.append(f"{path.name}:{node.lineno}: {ast.unparse(args[0])}.{args[1].value}")
    assert problems == [], "tests patch private names:\n" + "\n".join(problems)


# What the core reads from a plugin's objects, and the one module that reads each (the declaration).
DECLARED_READS = {
    "size_multiple": "translate/nn/traits.py",
    "scale_factor": "translate/nn/traits.py",
    "trainable": "translate/components/losses.py",
    "rebuild_options": "translate/nn/traits.py",
    "infer_options_from_authors_state_dict": "translate/nn/traits.py",
    "from_authors_state_dict": "translate/nn/traits.py",
}


def _calls(path: Path) -> list[ast.Call]:
    return [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]


def test_plugin_attributes_are_read_only_where_they_are_declared() -> None:
    problems = []
    for path in MODULES.values():
        rel = str(path.relative_to(ROOT))
        for call in _calls(path):
            if isinstance(call.func, ast.Name) and call.func.id in ("getattr", "hasattr") and len(call.args) >= 2 \
                    and isinstance(call.args[1], ast.Constant) and call.args[1].value in DECLARED_READS \
                    and DECLARED_READS[call.args[1].value] != rel:
                problems.append(f"{rel}:{call.lineno}: {call.func.id}(..., {call.args[1].value!r}) "
                                f"(read it through {DECLARED_READS[call.args[1].value]})")
    assert problems == [], "\n".join(problems)


def test_the_core_glues_nothing_onto_objects() -> None:
    """What the core knows about a built object (its build record, its losses) is kept beside it
    (``BuiltMethod``), never set on it: no ``setattr`` and no ``translate_*`` attribute in the core."""
    problems = [f"{path.relative_to(ROOT)}:{call.lineno}: setattr" for path in MODULES.values()
                for call in _calls(path) if isinstance(call.func, ast.Name) and call.func.id == "setattr"]
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            problems += [f"{path.relative_to(ROOT)}:{node.lineno}: .{t.attr} =" for t in targets
                         if isinstance(t, ast.Attribute) and t.attr.startswith("translate_")]
    assert problems == [], "\n".join(problems)


def test_components_are_built_in_one_place() -> None:
    """Every build goes through ``Component.build`` / ``Registry.create`` (options parsed there, networks
    checked there); the command line runs a command's registered function."""
    allowed = {"translate/plugin/registry.py", "translate/commands/main.py"}
    problems = [f"{path.relative_to(ROOT)}:{call.lineno}" for path in MODULES.values()
                if str(path.relative_to(ROOT)) not in allowed for call in _calls(path)
                if isinstance(call.func, ast.Attribute) and call.func.attr == "factory"]
    assert problems == [], "factories called directly:\n" + "\n".join(problems)


WHOLE_PROJECT_TESTS = {"test_architecture.py", "test_docs.py", "test_benchmarks.py"}


def test_tests_mirror_the_packages() -> None:
    """A test of ``translate/<package>/`` lives in ``tests/translate/<package>/``, a test of
    ``plugins/<plugin>/`` in ``tests/plugins/<plugin>/``; only whole-project checks stay at the top."""
    tests = ROOT / "tests"
    misplaced = []
    for path in sorted(tests.rglob("test_*.py")):
        parts = path.relative_to(tests).parts
        ok = (len(parts) == 1 and parts[0] in WHOLE_PROJECT_TESTS) or (
            len(parts) == 3 and parts[0] == "translate" and (PACKAGE / parts[1] / "__init__.py").is_file()) or (
            len(parts) == 3 and parts[0] == "plugins" and (ROOT / "plugins" / parts[1] / "__init__.py").is_file())
        if not ok:
            misplaced.append(str(path.relative_to(ROOT)))
    assert misplaced == [], f"tests outside the mirror of translate/ and plugins/: {misplaced}"
    folders = [p for p in tests.rglob("*") if p.is_dir() and p.name != "__pycache__"]
    assert all((p / "__init__.py").is_file() for p in folders), "every test folder is a package (unique module names)"


MAX_ENGINE_PARAMETERS = 6


def test_engine_functions_take_few_parameters() -> None:
    """The training run keeps what its steps share on one object (``TrainingRun``), so no function of
    the engine needs a long parameter list (``self`` not counted)."""
    long = []
    for path in sorted((PACKAGE / "engine").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                a = node.args
                names = [x.arg for x in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
                count = len(names) - (names[:1] == ["self"]) + bool(a.vararg) + bool(a.kwarg)
                if count > MAX_ENGINE_PARAMETERS:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({count} parameters)")
    assert long == [], "\n".join(long)
