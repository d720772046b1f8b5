"""The structure the folders promise: no import cycles, and the pure packages (the log, the
complaint domain, the offline verifiers, the bundle builder) import with the database, web
framework and chain libraries unavailable. The layer order itself is the import-linter
contract in pyproject.toml, run by scripts/test.sh."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[2]
PURE = ("ledger.log", "ledger.complaints", "ledger.verify", "ledger.evidence")
UNAVAILABLE = ("sqlalchemy", "flask", "web3")


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
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
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_takes_part_in_an_import_cycle() -> None:
    # Imports inside functions count too: a lazy import hides a cycle, it does not remove it.
    graph = grimp.build_graph("ledger", "api")
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d")):
        graph.add_import(importer=a, imported=b)
    assert _cycles(graph) == [["p.a", "p.b", "p.c"]]


def test_pure_packages_import_without_database_web_or_chain_libraries() -> None:
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys

        class Unavailable:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {UNAVAILABLE!r}:
                    raise ImportError(f"{{name}} is not installed here")

        sys.meta_path.insert(0, Unavailable())
        imported = []
        for package in {PURE!r}:
            module = importlib.import_module(package)
            imported.append(package)
            for info in pkgutil.walk_packages(module.__path__, package + "."):
                importlib.import_module(info.name)
                imported.append(info.name)
        print(len(imported))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    on_disk = sum(len(list((ROOT / package.replace(".", "/")).rglob("*.py"))) for package in PURE)
    assert int(done.stdout) == on_disk  # every module of the four packages, not just roots
