"""How controllers get what they use: each component is its own app-wide Litestar dependency,
declared by name and type by the handlers that use it; nothing in the API reaches for the
composition root."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute, WebSocketRoute

from hangar.asgi import COMPONENTS, create_app
from hangar.config.loader import parse_config

API = Path(__file__).resolve().parents[2] / "hangar" / "api"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Litestar:
    # Built, not started: the routes and their kwargs models exist from construction on.
    db = tmp_path_factory.mktemp("deps") / "hangar.db"
    return create_app(config=parse_config("providers: {}\n"), db_url=f"sqlite+aiosqlite:///{db}")


def handlers(app: Litestar) -> list[Any]:
    found: list[Any] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            found += route.route_handlers
        elif isinstance(route, WebSocketRoute):
            found.append(route.route_handler)
    return found


def kwargs_models(app: Litestar) -> list[Any]:
    models: list[Any] = []
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            models += [m for _, m in route.route_handler_map.values()]
        elif isinstance(route, WebSocketRoute):
            models.append(route.handler_parameter_model)
    return models


def test_every_component_is_a_cached_app_dependency(app: Litestar) -> None:
    for name in COMPONENTS:
        provide = app.dependencies[name]
        assert provide.use_cache and not provide.sync_to_thread, name


def test_a_component_has_one_name_and_one_type(app: Litestar) -> None:
    """A handler gets a component only under its registered name: a misspelt one would be
    taken for a query parameter."""
    types: dict[str, set[str]] = {}
    for h in handlers(app):
        for name, field in h.parsed_fn_signature.parameters.items():
            types.setdefault(name, set()).add(repr(field.annotation))
    used = {n: t for n, t in types.items() if n in COMPONENTS}
    assert set(used) == set(COMPONENTS), "a component no handler declares is not provided"
    assert all(len(t) == 1 for t in used.values()), used
    # The ports are ``Any`` at run time (see ``hangar.api.deps``), ``instance_id`` a ``str``.
    component_types = {next(iter(t)) for t in used.values()} - {repr(str), repr(Any)}
    strays = {n for n, t in types.items() if n not in COMPONENTS and t & component_types}
    assert strays == set()


def test_dependencies_resolve_one_after_the_other(app: Litestar) -> None:
    """No handler pays for a task group per request to fetch cached singletons."""
    models = kwargs_models(app)
    assert any(len(m.dependency_batches) > 1 for m in models)
    assert all(len(batch) == 1 for m in models for batch in m.dependency_batches)


def test_no_api_module_reads_the_composition_root() -> None:
    bad = []
    for path in sorted(API.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr == "services":
                bad.append(f"{path.name}:{node.lineno}")
            if isinstance(node, ast.Name) and node.id == "Services":
                bad.append(f"{path.name}:{node.lineno}")
    assert bad == []
