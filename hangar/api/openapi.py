"""The OpenAPI document made to describe the server as it really answers, in one pass over the
generated schema, so routes added later inherit it without per-handler annotations:

- every error answer is the contract's envelope (``ErrorBody``), never Litestar's ``{detail}``;
- every operation lists the statuses the shared layers can give it (auth 401/403/429, malformed
  or too deep JSON 400, slow requests 408, bodies 413/422, missing resources 404, conflicts and
  preconditions 409/412, a full disk 507, unavailable providers or deadlines 503);
- ``securitySchemes`` for the ``X-API-Key`` header and ``Authorization: Bearer``; public routes
  say ``security: []``;
- path parameters carry the id patterns and length limits the server enforces;
- ``/metrics`` is Prometheus text, not JSON;
- unions are ``anyOf`` (Litestar writes ``oneOf``, which a body matching two branches fails).
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hangar.api.permissions import PUBLIC, ROUTE_PERMISSIONS
from hangar.domain import limits as lim
from hangar.domain.auth import PRINCIPAL_ID_RE, ROLE_ID_RE
from hangar.domain.group import GROUP_ID_PATTERN
from hangar.domain.provider_spec import PROVIDER_ID_PATTERN

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_LIKE_REF = {"$ref": "#/components/schemas/ErrorLike"}
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The error envelope every /api error answers with",
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "status_code": {"type": "integer"},
    },
    "required": ["error", "message", "status_code"],
}
ERROR_LIKE: dict[str, Any] = {
    "type": "object",
    "description": "An error outside /api: the envelope, or the route family's own error body "
                   "({code, message} for the MCP Registry API, {error} for the skills API)",
    "properties": {"message": {"type": "string"}, "error": {"type": "string"}},
    "anyOf": [{"required": ["message"]}, {"required": ["error"]}],
}
SECURITY_SCHEMES = {
    "ApiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "BearerAuth": {"type": "http", "scheme": "bearer"},
}

REASONS = {
    400: "Malformed JSON, JSON nested too deeply, or a bad request",
    401: "No API key, or an invalid, expired or revoked one (auth enabled)",
    403: "The principal lacks the route's permission, or a path outside the allowed directories",
    404: "The resource does not exist",
    405: "Method not allowed",
    408: "The request was not received in time",
    409: "Conflict with the current state",
    412: "If-Match did not match the current version",
    413: "Request body too large",
    422: "Body or parameter validation failed",
    429: "Rate limited or locked out (Retry-After)",
    500: "Internal error",
    502: "The provider answered with an error",
    503: "A provider or the store is unavailable, or work missed its deadline",
    504: "The provider did not answer in time",
    507: "No space left in the data directory",
}

# Path parameters by name: what the server enforces, so fuzzers and clients know the shape.
_ID = {"type": "string", "minLength": 1}
PATH_PARAMETERS: dict[str, dict[str, Any]] = {
    "provider_id": {**_ID, "maxLength": 64, "pattern": PROVIDER_ID_PATTERN},
    "member_id": {**_ID, "maxLength": 64, "pattern": PROVIDER_ID_PATTERN},
    "group_id": {**_ID, "maxLength": 64, "pattern": GROUP_ID_PATTERN},
    "role_id": {**_ID, "maxLength": 64, "pattern": ROLE_ID_RE.pattern},
    "principal_id": {**_ID, "maxLength": 128, "pattern": PRINCIPAL_ID_RE.pattern},
    "tool_name": {**_ID, "maxLength": 128},
    "key_id": {**_ID, "maxLength": 128},
    "entry_id": {**_ID, "maxLength": 128},
    "source_id": {**_ID, "maxLength": 64, "pattern": PROVIDER_ID_PATTERN},
    "name": {**_ID, "maxLength": 256},
}

_PARAM = re.compile(r"\{([^}]+)\}")
# Statuses an operation can give beyond its own documented ones, by what it does.
_ALWAYS = (400, 401, 403, 408, 429, 503)
_WRITES = ("post", "put", "patch", "delete")


def _statuses(method: str, path: str, op: dict[str, Any]) -> set[int]:
    found = set(_ALWAYS)
    if _PARAM.search(path):
        found |= {404, 422}
    if op.get("parameters") or op.get("requestBody"):
        found.add(422)
    if method in _WRITES:
        found |= {404, 409, 412, 413, 422, 507}
    if path.endswith("/invoke"):
        found |= {404, 502, 504}
    if path == "/api/maintenance/compact":
        found.add(500)  # the contract documents this one
    return found


def _security(method: str, path: str) -> list[dict[str, list[str]]] | None:
    if ROUTE_PERMISSIONS.get(f"{method.upper()} {path}") == PUBLIC:
        return []
    return None


def _any_of(node: Any) -> Any:
    """Python unions are not exclusive (a struct body is also "an object"): ``anyOf``, never
    ``oneOf``, or a valid answer fails validation for matching two branches."""
    if isinstance(node, dict):
        return {("anyOf" if k == "oneOf" else k): _any_of(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_any_of(v) for v in node]
    return node


def finalize(schema: dict[str, Any]) -> dict[str, Any]:
    out = _any_of(copy.deepcopy(schema))
    components = out.setdefault("components", {})
    components.setdefault("schemas", {})["ErrorBody"] = ERROR_SCHEMA
    components["schemas"]["ErrorLike"] = ERROR_LIKE
    components["securitySchemes"] = SECURITY_SCHEMES
    _document_definition_limits(components["schemas"])
    out["security"] = [{"ApiKeyHeader": []}, {"BearerAuth": []}]
    for path, item in out.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict) or method in ("parameters", "summary", "description"):
                continue
            _fix_parameters(op)
            responses = op.setdefault("responses", {})
            _fix_success_bodies(responses)
            # /api answers the contract's envelope; other families (the registries) have their
            # own error bodies, of which only ``message`` is common.
            ref = ERROR_REF if path.startswith("/api/") or path == "/metrics" else ERROR_LIKE_REF
            for status, response in list(responses.items()):
                if status.isdigit() and int(status) >= 400 and _is_framework_default(response):
                    responses[status] = _error_response(int(status), ref, response.get("description"))
            for status in sorted(_statuses(method, path, op)):
                responses.setdefault(str(status), _error_response(status, ref))
            security = _security(method, path)
            if security is not None:
                op["security"] = security
    metrics = out.get("paths", {}).get("/metrics", {}).get("get")
    if metrics is not None:
        metrics["responses"]["200"] = {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    return out


def _document_definition_limits(schemas: dict[str, Any]) -> None:
    """The provider definition's size limits (one table, ``hangar.domain.limits``) on every body
    that carries a definition."""
    for name in ("CreateProviderRequest", "ProviderSpec"):
        props = schemas.get(name, {}).get("properties", {})
        for field, limit in lim.PROVIDER_TEXT_LIMITS.items():
            for node in _typed(props.get(field), "string"):
                node["maxLength"] = limit
        for field, limit in lim.PROVIDER_LIST_LIMITS.items():
            for node in _typed(props.get(field), "array") + _typed(props.get(field), "object"):
                node["maxItems" if node.get("type") == "array" else "maxProperties"] = limit


def _typed(node: Any, kind: str) -> list[dict[str, Any]]:
    if not isinstance(node, dict):
        return []
    if node.get("type") == kind:
        return [node]
    return [n for n in node.get("anyOf", []) if isinstance(n, dict) and n.get("type") == kind]


def _error_response(status: int, ref: dict[str, str], description: str | None = None) -> dict[str, Any]:
    return {"description": REASONS.get(status, description or "Error"),
            "content": {"application/json": {"schema": ref}}}


def _fix_success_bodies(responses: dict[str, Any]) -> None:
    """A 204 has no body (Litestar still documents one); a handler returning pre-encoded JSON
    bytes is documented as ``string`` although the body is a JSON document."""
    for status, response in responses.items():
        content = response.get("content")
        if status == "204":
            response.pop("content", None)
        elif status.startswith("2") and content and "application/json" in content:
            schema = content["application/json"].get("schema")
            if schema == {"type": "string"}:
                content["application/json"]["schema"] = {"description": "A JSON document"}


def _is_framework_default(response: dict[str, Any]) -> bool:
    """Litestar's generated ``{status_code, detail, extra}``, which Hangar never answers (a
    route that documents its own error body keeps it)."""
    content = response.get("content") or {}
    schema = (content.get("application/json") or {}).get("schema") or {}
    return not content or "detail" in (schema.get("properties") or {})


def _fix_parameters(op: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        if param.get("in") == "path" and param.get("name") in PATH_PARAMETERS:
            param["schema"] = dict(PATH_PARAMETERS[param["name"]])


def install(app: Any) -> None:
    """Serve :func:`finalize`'s document from ``/schema/openapi.json`` (and its siblings),
    built on the first request for it (building costs about a second: not at every start)."""
    from litestar._openapi.plugin import OpenAPIPlugin

    class FinalizingOpenAPIPlugin(OpenAPIPlugin):
        __slots__ = ()

        def provide_openapi_schema(self) -> dict[str, Any]:
            if not self._openapi_schema:
                self._openapi_schema = finalize(self.provide_openapi().to_schema())
            return self._openapi_schema

    plugin = app.plugins.get(OpenAPIPlugin)
    plugin.__class__ = FinalizingOpenAPIPlugin
