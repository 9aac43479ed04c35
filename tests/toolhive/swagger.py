"""Validates responses against ToolHive's pinned OpenAPI document (the reference copy)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

SWAGGER = Path(__file__).resolve().parents[3] / "shared" / "reference" / "toolhive-swagger.yaml"
_SWAGGER_CANDIDATES = [SWAGGER, Path("/work/shared/reference/toolhive-swagger.yaml")]


@cache
def document() -> dict[str, Any] | None:
    for p in _SWAGGER_CANDIDATES:
        if p.is_file():
            return yaml.safe_load(p.read_text())  # type: ignore[no-any-return]
    return None


def _match(path: str, template: str) -> bool:
    pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
    if template.endswith("{serverName}"):
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template[: -len("{serverName}")]) + ".+$"
    return re.match(pattern, path) is not None


def operation(method: str, path: str) -> dict[str, Any]:
    doc = document()
    assert doc is not None
    # Literal paths beat templated ones (``/workloads/stop`` before ``/workloads/{name}``).
    paths = sorted(doc["paths"], key=lambda t: (t.count("{"), -len(t)))
    for template in paths:
        if _match(path, template) and method.lower() in doc["paths"][template]:
            return doc["paths"][template][method.lower()]  # type: ignore[no-any-return]
    raise AssertionError(f"{method} {path} is not in ToolHive's document")


def check(r: httpx.Response) -> httpx.Response:
    """Assert that the response's status is documented and its body matches the schema."""
    doc = document()
    if doc is None:
        pytest.skip("the pinned ToolHive swagger (shared/reference/toolhive-swagger.yaml) is missing")
    path = r.request.url.path
    op = operation(r.request.method, path)
    responses = op["responses"]
    assert str(r.status_code) in responses, f"{r.request.method} {path}: {r.status_code} undocumented: {r.text}"
    content = responses[str(r.status_code)].get("content")
    if not content or r.status_code == 204:
        return r
    spec = next(iter(content.values()))
    schema = spec["schema"]
    body: Any = r.text if schema.get("type") == "string" and "json" not in r.headers.get("content-type", "") \
        else r.json()
    if schema.get("type") == "string" and not isinstance(body, str):
        body = r.text
    validate(body, schema)
    return r


def validate(body: Any, schema: dict[str, Any]) -> None:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    doc = document()
    assert doc is not None
    # The document's refs are "#/components/schemas/...": host the schema inside a copy of the
    # document so they resolve against it.
    contents = {"components": doc["components"], "x-response": schema}
    registry: Registry[Any] = Registry().with_resource("urn:thv", Resource.from_contents(contents, DRAFT202012))
    jsonschema.Draft202012Validator({"$ref": "urn:thv#/x-response"}, registry=registry).validate(body)


def check_as(r: httpx.Response, component: str) -> httpx.Response:
    """For Hangar's additions ToolHive does not serve (it answers 501): the body has the shape
    of the named component."""
    if document() is None:
        pytest.skip("the pinned ToolHive swagger (shared/reference/toolhive-swagger.yaml) is missing")
    validate(r.json(), {"$ref": f"#/components/schemas/{component}"})
    return r
