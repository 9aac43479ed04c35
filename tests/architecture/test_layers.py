"""The dependency rule, checked on the source: every import of every module under ``hangar/``
(read by AST, lazy and type-checking imports included) must point down the layers, and no
set of modules may import each other in a circle.

    domain  <-  config  <-  app  <-  observability  <-  runtime / store / discovery / api

Only the composition root (``bootstrap.py``) and the entry points (``cli.py``, ``asgi.py``)
may import from every layer.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "hangar"

# ``serving`` runs the app under the chosen ASGI server (``hangar serve``); ``mcp_config`` is the
# body of ``hangar mcp-config``: both are parts of the entry points.
WIRING = {"hangar.bootstrap", "hangar.cli", "hangar.cli_log", "hangar.asgi", "hangar.__main__", "hangar.serving",
          "hangar.mcp_config"}
# The command-line client is part of the CLI entry point.
WIRING_PACKAGES = ("hangar.cli_client",)
LOWER = {
    "domain": set(),
    "config": {"domain"},
    "formats": {"domain"},
    "app": {"domain", "config", "formats"},
    "store": {"domain", "app"},
    "runtime": {"domain", "app", "config", "observability"},
    "discovery": {"domain", "app", "config", "formats"},
    "observability": {"domain", "app", "config"},
    "api": {"domain", "app", "config", "formats", "observability", "ui"},
    "ui": set(),
    "examples": set(),
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``hangar`` modules ``name`` imports (a package import counts as its ``__init__``)."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from pkg import mod`` imports the module ``pkg.mod`` when there is one.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t.startswith("hangar") and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def layer(name: str) -> str | None:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LOWER else None


def test_every_module_is_in_a_layer_or_wires() -> None:
    stray = [m for m in modules() if m != "hangar" and m not in WIRING and not m.startswith(WIRING_PACKAGES)
             and layer(m) is None]
    assert stray == []


def test_imports_point_down_the_layers() -> None:
    bad = []
    for name, targets in graph().items():
        own = layer(name)
        if own is None:
            continue
        allowed = LOWER[own] | {own}
        for t in sorted(targets):
            if t == "hangar" or layer(t) not in allowed:
                bad.append(f"{name} -> {t}")
    assert bad == []


def test_domain_imports_nothing_outside_itself() -> None:
    bad = [f"{n} -> {t}" for n, ts in graph().items() if layer(n) == "domain" for t in ts if layer(t) != "domain"]
    assert bad == []


def test_api_never_imports_the_runtime() -> None:
    bad = [f"{n} -> {t}" for n, ts in graph().items() if layer(n) == "api" for t in ts if layer(t) == "runtime"]
    assert bad == []


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for t in sorted(g.get(n, ())):
            if state.get(t) == 1:
                return [*stack[stack.index(t):], t]
            if t not in state and (found := visit(t)) is not None:
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state and (found := visit(n)) is not None:
            return found
    return None


def test_no_import_cycle() -> None:
    assert find_cycle(graph()) is None


@pytest.mark.parametrize("g,cyclic", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, True),
])
def test_the_cycle_finder_finds_cycles(g: dict[str, set[str]], cyclic: bool) -> None:
    assert (find_cycle(g) is not None) is cyclic


def test_the_domain_defines_no_adapter_settings() -> None:
    """How to reach a Docker Engine or an API server is an adapter's concern: such settings
    (``*Config``, ``*Settings``) are defined at the edge, never in ``hangar.domain``."""
    bad = []
    for name, path in modules().items():
        if layer(name) != "domain":
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef) and node.name.endswith(("Config", "Settings")):
                bad.append(f"{name}.{node.name}")
    assert bad == []
