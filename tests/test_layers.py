"""The layout's rules, checked on the code itself (AST): one home per concern, no upward imports, no cycles.

Layers, lowest first: core (newsetl/{config,models,errors,rules,runs,durations}.py) < warehouse/ (all SQL) < library
concerns (newsetl/posts, feeds, images, http, reporting, runtime) < tasks/ (Prefect task adapters) < flows/
(flows and orchestration) < newsetl/cli/ (the command line, the only library code that may import flows).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"newsetl": "newsetl", "flows": "newsetl.flows", "tasks": "newsetl.tasks", "warehouse": "newsetl.warehouse"}
CORE = {"newsetl", "newsetl.config", "newsetl.models", "newsetl.errors", "newsetl.rules", "newsetl.runs",
        "newsetl.durations"}
SQL_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|WITH|COPY|ATTACH|DETACH|PRAGMA|BEGIN"
                       r"|COMMIT|ROLLBACK|CHECKPOINT|INSTALL|LOAD|EXPORT|IMPORT|SET|RESET|SUMMARIZE|DESCRIBE)\b")
DB_CALLS = {"execute", "executemany", "sql", "query", "register", "unregister", "from_arrow", "read_csv"}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    parts[0] = FOLDERS[parts[0]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def code_files() -> dict[str, Path]:
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = code_files()


def layer(module: str) -> str:
    if module in CORE:
        return "core"
    for prefix, name in (("newsetl.warehouse", "warehouse"), ("newsetl.tasks", "tasks"), ("newsetl.flows", "flows"),
                         ("newsetl.cli", "cli")):
        if module == prefix or module.startswith(prefix + "."):
            return name
    return "library"


ORDER = {"core": 0, "warehouse": 1, "library": 2, "tasks": 3, "flows": 4, "cli": 5}


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, top level or inside functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names
                      if f"{node.module}.{a.name}" in MODULES]
    return found


def project_target(name: str) -> str | None:
    """The project module an import refers to (the longest known prefix), if any."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def test_no_bare_top_level_import_names() -> None:
    """Only `newsetl` is an import name: flows/tasks/warehouse are reached as newsetl.flows etc."""
    bad = []
    for path in [*MODULES.values(), *ROOT.glob("tests/*.py"), *ROOT.glob("bench/*.py"), *ROOT.glob("examples/*.py")]:
        for line, name in imports(path):
            if name.split(".")[0] in {"flows", "tasks", "warehouse"}:
                bad.append(f"{path.relative_to(ROOT)}:{line}: import {name}")
    assert bad == []


def test_nothing_imports_upwards() -> None:
    bad = []
    for module, path in MODULES.items():
        mine = layer(module)
        for line, name in imports(path):
            if mine in {"core", "warehouse", "library"} and name.split(".")[0] == "prefect":
                bad.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports prefect")
            target = project_target(name)
            if target is None or target == module:
                continue
            theirs = layer(target)
            if ORDER[theirs] > ORDER[mine]:
                bad.append(f"{path.relative_to(ROOT)}:{line}: {mine} imports {theirs} ({target})")
    assert bad == []


def test_no_import_cycles() -> None:
    graph = {m: {t for _, n in imports(p) if (t := project_target(n)) and t != m and not
                 m.startswith(t + ".")} for m, p in MODULES.items()}  # a module's own package is not a cycle
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert cycles == []


def sql_outside_warehouse(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if SQL_START.match(node.value) and len(node.value.split()) > 1:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: SQL text {node.value.strip()[:40]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DB_CALLS:
            if _looks_like_db(node.func.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}: database call .{node.func.attr}()")
    return bad


def _looks_like_db(value: ast.expr) -> bool:
    """`con.execute(...)`, `duckdb.sql(...)`, `self.con.execute(...)`: a connection by its usual names."""
    name = value.attr if isinstance(value, ast.Attribute) else getattr(value, "id", "")
    return name in {"con", "conn", "connection", "duckdb", "cursor", "cur", "db", "reader", "writer"}


def test_no_sql_outside_warehouse() -> None:
    bad = []
    for module, path in MODULES.items():
        if layer(module) != "warehouse":
            bad += sql_outside_warehouse(path)
    assert bad == []


def test_views_one_per_file() -> None:
    views = sorted((ROOT / "warehouse" / "views").glob("*.sql"))
    assert views, "warehouse/views/ holds the views"
    for path in views:
        text = path.read_text(encoding="utf-8")
        assert len(re.findall(r"CREATE\s+OR\s+REPLACE\s+VIEW", text, re.I)) == 1, path.name
        assert re.search(rf"VIEW\s+{re.escape(path.stem)}\b", text, re.I), f"{path.name} names its view"
    for path in (ROOT / "warehouse" / "migrations").glob("*.sql"):
        assert not re.search(r"CREATE\s+(OR\s+REPLACE\s+)?VIEW", path.read_text(encoding="utf-8"), re.I), path.name


def test_the_checks_catch_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above are not vacuous: a planted Prefect import and SQL in a library module are found."""
    planted = tmp_path / "newsetl" / "planted.py"
    planted.parent.mkdir()
    planted.write_text('import prefect\nimport tasks.load\n\n'
                       'def f(con):\n    con.execute("SELECT 1 FROM articles")\n')
    monkeypatch.setitem(globals(), "ROOT", tmp_path)
    assert [name for _, name in imports(planted)] == ["prefect", "tasks.load"]
    assert [line.split(": ", 1)[1] for line in sql_outside_warehouse(planted)] == [
        "database call .execute()", "SQL text 'SELECT 1 FROM articles'"]


def test_the_distribution_claims_only_the_newsetl_import_name() -> None:
    """Every package the wheel installs is under `newsetl`, and every code folder is mapped into it."""
    import tomllib

    setup = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert {p.split(".")[0] for p in setup["packages"]} == {"newsetl"}
    assert setup["package-dir"] == {"newsetl": "newsetl", "newsetl.flows": "flows", "newsetl.tasks": "tasks",
                                    "newsetl.warehouse": "warehouse"}
    packages = {module_name(p.parent / "__init__.py") for p in (ROOT / "newsetl").rglob("*.py")
                if (p.parent / "__init__.py").exists()}
    assert packages - {"newsetl.reporting.templates"} <= set(setup["packages"]) | {"newsetl.flows"}


def test_prefect_yaml_entrypoints_load_from_a_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    """`prefect deploy` reads `flows/<file>.py:<flow>` paths: they still load after the move into newsetl.flows."""
    import yaml
    from prefect.flows import load_flow_from_entrypoint

    monkeypatch.chdir(ROOT)
    deployments = yaml.safe_load((ROOT / "prefect.yaml").read_text(encoding="utf-8"))["deployments"]
    names = {load_flow_from_entrypoint(d["entrypoint"]).name for d in deployments}
    assert names == {"newsetl-scheduled"}
