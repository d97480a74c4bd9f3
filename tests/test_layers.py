"""The layers of docs/design.md ("Layers"), checked on the source.

Every module of ``engine/`` and ``rules/`` is parsed with ``ast`` (nothing is imported, so
a package that does not exist yet, such as ``engine.freeswitch``, changes nothing) and
every import is collected, at any depth: module level, inside functions, under ``if``
or ``try``. The table, as docs/design.md draws it:

=================================  ==============================================
importing modules                  must not import
=================================  ==============================================
``rules.*``                        ``engine.*``
``engine.steps.*``, ``engine.runner``  ``engine.esl.*``, ``engine.freeswitch.*``
``engine.esl.*``                   ``engine.steps.*``, ``engine.runner``
=================================  ==============================================

and no import cycle among the ``rules`` modules, counting module-level and
function-level imports alike (a lazy import inside a function is still a dependency).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "rules")

# (what the rule is called, importers, forbidden): a module is covered when its dotted
# name equals a prefix or starts with "prefix."; the same for an imported name.
RULES = [
    ("rules imports no engine", ("rules",), ("engine",)),
    ("steps and runner stay switch-neutral", ("engine.steps", "engine.runner"),
     ("engine.esl", "engine.freeswitch", "engine.agi", "engine.asterisk")),
    ("the event socket knows no steps", ("engine.esl",), ("engine.steps", "engine.runner")),
    ("FastAGI knows no steps", ("engine.agi",), ("engine.steps", "engine.runner")),
    ("one switch's adapter knows nothing of the other's",
     ("engine.freeswitch", "engine.esl"), ("engine.asterisk", "engine.agi")),
    ("one switch's adapter knows nothing of the other's (Asterisk)",
     ("engine.asterisk", "engine.agi"), ("engine.freeswitch", "engine.esl")),
]


@dataclass(frozen=True)
class Import:
    importer: str        # dotted name of the importing module
    path: str            # its file, relative to the repository
    line: int
    names: tuple[str, ...]   # every dotted name the statement may bring in
    resolved: str        # the module it depends on, as far as the tree shows


def module_name(root: Path, file: Path) -> str:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages=PACKAGES) -> dict[str, Path]:
    found = {}
    for package in packages:
        for file in sorted((root / package).rglob("*.py")):
            found[module_name(root, file)] = file
    return found


def covered(name: str, prefixes) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _base(importer: str, file: Path, node: ast.ImportFrom) -> str:
    """The absolute module of ``from <base> import ...``, relative forms included."""
    if not node.level:
        return node.module or ""
    package = importer.split(".") if file.name == "__init__.py" else importer.split(".")[:-1]
    package = package[:len(package) - (node.level - 1)]
    return ".".join(package + ([node.module] if node.module else []))


def imports(root: Path, known: dict[str, Path]) -> list[Import]:
    found = []
    for importer, file in known.items():
        rel = file.relative_to(root).as_posix()
        tree = ast.parse(file.read_text(), filename=rel)
        for node in ast.walk(tree):            # every depth: functions, if, try, classes
            if isinstance(node, ast.Import):
                for alias in node.names:
                    found.append(Import(importer, rel, node.lineno, (alias.name,), alias.name))
            elif isinstance(node, ast.ImportFrom):
                base = _base(importer, file, node)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    # "from engine import esl" brings in engine.esl, whether it exists yet or not
                    names = (base, sub) if alias.name != "*" else (base,)
                    resolved = sub if sub in known else base
                    found.append(Import(importer, rel, node.lineno, names, resolved))
    return found


def violations(found: list[Import], rules=RULES) -> list[str]:
    problems = []
    for title, importers, forbidden in rules:
        for imp in found:
            if not covered(imp.importer, importers):
                continue
            bad = [n for n in imp.names if covered(n, forbidden)]
            if bad:
                # the module as the tree resolves it; a name not in the tree as written
                shown = imp.resolved if covered(imp.resolved, forbidden) else bad[-1]
                problems.append(f"{imp.path}:{imp.line}: imports {shown} "
                                f"(rule '{title}': {', '.join(importers)} must not import "
                                f"{', '.join(forbidden)})")
    return problems


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components in no particular order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    index[succ] = low[succ] = counter
                    counter += 1
                    stack.append(succ)
                    on_stack.add(succ)
                    work.append((succ, iter(sorted(graph.get(succ, ())))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    result.append(sorted(component))
    return result


def cycles(found: list[Import], package: str) -> list[str]:
    graph: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    for imp in found:
        if not covered(imp.importer, (package,)) or not covered(imp.resolved, (package,)):
            continue
        graph.setdefault(imp.importer, set()).add(imp.resolved)
        graph.setdefault(imp.resolved, set())
        where.setdefault((imp.importer, imp.resolved), f"{imp.path}:{imp.line}")
    problems = []
    for component in strongly_connected(graph):
        members = set(component)
        if len(component) == 1 and component[0] not in graph[component[0]]:
            continue
        edges = [f"{where[(a, b)]} -> {b}" for a in component for b in sorted(graph[a])
                 if b in members]
        problems.append(f"import cycle among {', '.join(component)}: {'; '.join(edges)}")
    return problems


@pytest.fixture(scope="module")
def found() -> list[Import]:
    return imports(REPO, modules(REPO))


def test_the_tree_is_seen(found):
    names = {imp.importer for imp in found}
    assert {"rules.store", "rules.redis_store", "engine.runner", "engine.steps.forward"} <= names
    assert any(imp.line > 1 and imp.importer == "rules.store" for imp in found)


@pytest.mark.parametrize("rule", RULES, ids=[r[0] for r in RULES])
def test_allowed_imports(found, rule):
    problems = violations(found, [rule])
    assert not problems, "forbidden imports (docs/design.md, \"Layers\"):\n" + "\n".join(problems)


def test_no_import_cycle_among_rules_modules(found):
    problems = cycles(found, "rules")
    assert not problems, ("rules modules import each other in a circle (docs/design.md, "
                          "\"Layers\"):\n" + "\n".join(problems))


# The checker itself, on a small tree: a test that cannot fail proves nothing.

def _tree(tmp_path: Path, files: dict[str, str]) -> list[Import]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return imports(tmp_path, modules(tmp_path))


def test_checker_finds_forbidden_imports_at_any_depth(tmp_path):
    found = _tree(tmp_path, {
        "rules/__init__.py": "",
        "rules/a.py": "def f():\n    if True:\n        from engine import metrics\n",
        "engine/__init__.py": "",
        "engine/metrics.py": "",
        "engine/steps/__init__.py": "",
        "engine/steps/play.py": "from engine import freeswitch\n",
        "engine/runner.py": "import os\ntry:\n    from .esl.framing import Message\nexcept ImportError:\n    pass\n",
        "engine/esl/__init__.py": "from .connection import X\n",
        "engine/esl/connection.py": "class C:\n    def m(self):\n        import engine.runner\n",
    })
    problems = "\n".join(violations(found))
    assert "rules/a.py:3: imports engine.metrics" in problems
    assert "engine/steps/play.py:1: imports engine.freeswitch" in problems   # need not exist
    assert "engine/runner.py:3: imports engine.esl.framing" in problems      # relative form
    assert "engine/esl/connection.py:3: imports engine.runner" in problems
    assert "engine/esl/__init__.py" not in problems


def test_checker_reports_cycles_with_their_members(tmp_path):
    found = _tree(tmp_path, {
        "rules/__init__.py": "",
        "rules/a.py": "from rules import b\n",
        "rules/b.py": "def lazy():\n    from rules.c import x\n",
        "rules/c.py": "from rules.a import y\n",
        "rules/d.py": "from rules import a\n",
        "rules/e.py": "from rules import e\n",
    })
    problems = cycles(found, "rules")
    assert len(problems) == 2, problems
    first = next(p for p in problems if "rules.a" in p)
    assert first.startswith("import cycle among rules.a, rules.b, rules.c:")
    assert "rules/b.py:2 -> rules.c" in first and "rules.d" not in first
    assert any(p.startswith("import cycle among rules.e:") for p in problems)
