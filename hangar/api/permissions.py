"""THE table of route → permission. Every route the app serves must have an entry here.

>>> ENGINEERS ADDING A ROUTE: add one line to ``ROUTE_PERMISSIONS`` below, keyed
>>> ``"<METHOD> <path as Litestar formats it>"`` (path parameters without their type:
>>> ``/api/groups/{group_id}``), ``"WS <path>"`` for a WebSocket and ``"ASGI <path>"`` for a
>>> mounted ASGI app. The value is a permission from ``hangar.domain.auth.PERMISSION_CATALOGUE``
>>> (add an action there if none fits) or ``PUBLIC`` for the rare route that must work without
>>> a key (health probes). ``tests/auth/test_permission_table.py`` fails for any registered
>>> route without an entry; at runtime such a route is refused to everyone but ``*:*`` holders.

With ``auth.enabled`` the guard (``hangar/api/guard.py``) requires a valid key on every route
and the permission named here; CORS preflight (``OPTIONS``) is always answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from hangar.domain.auth import Grant, parse_permission

if TYPE_CHECKING:
    from hangar.app.auth.service import AuthService

PUBLIC = "public"

ROUTE_PERMISSIONS: dict[str, str] = {
    # --- providers -----------------------------------------------------------------------------
    "GET /api/providers": "providers:read",
    "POST /api/providers": "providers:write",
    "GET /api/providers/{provider_id}": "providers:read",
    "PUT /api/providers/{provider_id}": "providers:write",
    "DELETE /api/providers/{provider_id}": "providers:write",
    "POST /api/providers/{provider_id}/start": "providers:start",
    "POST /api/providers/{provider_id}/stop": "providers:stop",
    "GET /api/providers/{provider_id}/tools": "providers:read",
    "GET /api/providers/{provider_id}/tools/history": "providers:read",
    "GET /api/providers/{provider_id}/health": "providers:read",
    "GET /api/providers/{provider_id}/logs": "providers:read",
    "POST /api/providers/{provider_id}/tools/{tool_name}/invoke": "tools:invoke",
    "WS /api/ws/providers/{provider_id}/logs": "providers:read",
    # --- groups --------------------------------------------------------------------------------
    "GET /api/groups": "groups:read",
    "POST /api/groups": "groups:write",
    "GET /api/groups/{group_id}": "groups:read",
    "PUT /api/groups/{group_id}": "groups:write",
    "DELETE /api/groups/{group_id}": "groups:write",
    "POST /api/groups/{group_id}/rebalance": "groups:write",
    "POST /api/groups/{group_id}/members": "groups:write",
    "DELETE /api/groups/{group_id}/members/{member_id}": "groups:write",
    "POST /api/groups/{group_id}/tools/{tool_name}/invoke": "tools:invoke",
    "GET /api/groups/{group_id}/tools": "groups:read",
    # --- MCP front door: tools/list is filtered per principal by the tool policies -------------
    "ASGI /mcp": "tools:invoke",  # also /mcp/providers/{id}, one provider alone
    # --- asynchronous calls --------------------------------------------------------------------
    "POST /api/providers/{provider_id}/tools/{tool_name}/invoke-async": "tools:invoke",
    "GET /api/tasks/{task_id}": "tools:invoke",
    "POST /api/tasks/{task_id}/cancel": "tools:invoke",
    # --- discovery -----------------------------------------------------------------------------
    "GET /api/discovery/pending": "discovery:read",
    "GET /api/discovery/quarantined": "discovery:read",
    "GET /api/discovery/sources": "discovery:read",
    "GET /api/discovery/sources/{source_id}": "discovery:read",
    "POST /api/discovery/sources": "discovery:write",
    "PUT /api/discovery/sources/{source_id}": "discovery:write",
    "DELETE /api/discovery/sources/{source_id}": "discovery:write",
    "PUT /api/discovery/sources/{source_id}/enable": "discovery:write",
    "POST /api/discovery/sources/{source_id}/scan": "discovery:scan",
    "POST /api/discovery/scan": "discovery:scan",
    "POST /api/discovery/approve/{name}": "discovery:approve",
    "POST /api/discovery/reject/{name}": "discovery:approve",
    # --- catalog -------------------------------------------------------------------------------
    "GET /api/catalog": "catalog:read",
    "POST /api/catalog": "catalog:write",
    "POST /api/catalog/import": "catalog:write",
    "GET /api/catalog/{entry_id}": "catalog:read",
    "DELETE /api/catalog/{entry_id}": "catalog:write",
    "POST /api/catalog/{entry_id}/deploy": "catalog:deploy",
    # --- config --------------------------------------------------------------------------------
    "GET /api/config": "config:read",
    "GET /api/config/diff": "config:read",
    "POST /api/config/export": "config:read",
    "POST /api/config/reload": "config:reload",
    "POST /api/config/import": "config:write",
    "POST /api/config/backup": "config:write",
    # --- observability -------------------------------------------------------------------------
    "GET /api/observability/metrics": "metrics:read",
    "GET /api/observability/metrics/history": "metrics:read",
    "GET /api/observability/metrics/per-provider": "metrics:read",
    "GET /api/observability/alerts": "metrics:read",
    "GET /api/observability/audit": "audit:read",
    "GET /api/observability/security": "audit:read",
    "GET /metrics": "metrics:read",
    # --- system and maintenance ----------------------------------------------------------------
    "GET /api/system": "system:read",
    "POST /api/maintenance/compact": "maintenance:write",
    # --- cluster: the internal endpoint is authenticated by the cluster token in its handler --
    "GET /api/cluster": "system:read",
    "POST /internal/cluster/commands": PUBLIC,
    # --- event streams -------------------------------------------------------------------------
    "WS /api/ws/events": "events:read",
    "WS /api/ws/state": "providers:read",
    # --- the log as a product: paging, following, history -------------------------------------
    "GET /api/events": "events:read",
    "GET /api/events/stream": "events:read",
    "GET /api/streams/{stream_id}": "events:read",
    "GET /api/streams/{stream_id}/events": "events:read",
    "GET /api/diff": "events:read",
    "GET /api/providers/{provider_id}/history": "providers:read",
    "GET /api/auth/policies": "auth:read",
    "POST /api/auth/policies/simulate": "auth:read",
    "GET /api/auth/principals/{principal_id}/tools": "auth:read",
    # --- auth ----------------------------------------------------------------------------------
    "POST /api/auth/keys": "auth:admin",
    "DELETE /api/auth/keys/{key_id}": "auth:admin",
    "GET /api/auth/keys/{principal_id}": "auth:read",
    "GET /api/auth/roles": "auth:read",
    "GET /api/auth/roles/builtin": "auth:read",
    "GET /api/auth/roles/{role_id}": "auth:read",
    "POST /api/auth/roles": "auth:admin",
    "PUT /api/auth/roles/{role_id}": "auth:admin",
    "DELETE /api/auth/roles/{role_id}": "auth:admin",
    "GET /api/auth/principals": "auth:read",
    "GET /api/auth/principals/{principal_id}/roles": "auth:read",
    "POST /api/auth/principals/{principal_id}/roles": "auth:admin",
    "DELETE /api/auth/principals/{principal_id}/roles/{role_id}": "auth:admin",
    "POST /api/auth/check-permission": "auth:read",
    "GET /api/auth/policies/{provider_id}/{tool_name}": "auth:read",
    "PUT /api/auth/policies/{provider_id}/{tool_name}": "auth:admin",
    "DELETE /api/auth/policies/{provider_id}/{tool_name}": "auth:admin",
    # --- ToolHive API (/api/v1beta): workloads are providers ----------------------------------
    "GET /health": PUBLIC,
    "GET /api/v1beta/version": "system:read",
    "GET /api/v1beta/workloads": "providers:read",
    "POST /api/v1beta/workloads": "providers:write",
    "GET /api/v1beta/workloads/upgrade-check": "providers:read",
    "POST /api/v1beta/workloads/stop": "providers:stop",
    "POST /api/v1beta/workloads/restart": "providers:start",
    "POST /api/v1beta/workloads/delete": "providers:write",
    "GET /api/v1beta/workloads/operations/{operation_id}": "providers:read",
    "GET /api/v1beta/workloads/{name}": "providers:read",
    "DELETE /api/v1beta/workloads/{name}": "providers:write",
    "POST /api/v1beta/workloads/{name}/edit": "providers:write",
    "POST /api/v1beta/workloads/{name}/stop": "providers:stop",
    "POST /api/v1beta/workloads/{name}/restart": "providers:start",
    "GET /api/v1beta/workloads/{name}/status": "providers:read",
    "GET /api/v1beta/workloads/{name}/logs": "providers:read",
    "GET /api/v1beta/workloads/{name}/export": "providers:read",
    "GET /api/v1beta/workloads/{name}/upgrade-check": "providers:read",
    "POST /api/v1beta/workloads/{name}/upgrade": "providers:write",
    "GET /api/v1beta/groups": "groups:read",
    "POST /api/v1beta/groups": "groups:write",
    "GET /api/v1beta/groups/{name}": "groups:read",
    "DELETE /api/v1beta/groups/{name}": "groups:write",
    "GET /api/v1beta/clients": "clients:read",
    "POST /api/v1beta/clients": "clients:write",
    "POST /api/v1beta/clients/register": "clients:write",
    "POST /api/v1beta/clients/unregister": "clients:write",
    "DELETE /api/v1beta/clients/{name}": "clients:write",
    "DELETE /api/v1beta/clients/{name}/groups/{group}": "clients:write",
    "GET /api/v1beta/discovery/clients": "clients:read",
    "POST /api/v1beta/secrets": "secrets:write",
    "GET /api/v1beta/secrets/default": "secrets:read",
    "GET /api/v1beta/secrets/default/keys": "secrets:read",
    "POST /api/v1beta/secrets/default/keys": "secrets:write",
    "PUT /api/v1beta/secrets/default/keys/{key}": "secrets:write",
    "DELETE /api/v1beta/secrets/default/keys/{key}": "secrets:write",
    "GET /api/v1beta/registry": "catalog:read",
    "POST /api/v1beta/registry": "catalog:write",
    "GET /api/v1beta/registry/{name}": "catalog:read",
    "PUT /api/v1beta/registry/{name}": "catalog:write",
    "DELETE /api/v1beta/registry/{name}": "catalog:write",
    "POST /api/v1beta/registry/{name}/refresh": "catalog:write",
    "GET /api/v1beta/registry/{name}/servers": "catalog:read",
    "GET /api/v1beta/registry/{name}/servers/{server_name}": "catalog:read",
    "GET /api/v1beta/skills": "skills:read",
    "POST /api/v1beta/skills": "skills:write",
    "POST /api/v1beta/skills/validate": "skills:read",
    "GET /api/v1beta/skills/{name}": "skills:read",
    "DELETE /api/v1beta/skills/{name}": "skills:write",
    # --- registries Hangar serves (/registry/{name}/v0.1) --------------------------------------
    "GET /registry/{registry_name}/v0.1/x/dev.toolhive/skills": "skills:read",
    "POST /registry/{registry_name}/v0.1/x/dev.toolhive/skills": "skills:publish",
    "GET /registry/{registry_name}/v0.1/x/dev.toolhive/skills/{namespace}/{name}": "skills:read",
    "GET /registry/{registry_name}/v0.1/x/dev.toolhive/skills/{namespace}/{name}/versions": "skills:read",
    "GET /registry/{registry_name}/v0.1/x/dev.toolhive/skills/{namespace}/{name}/versions/{version}": "skills:read",
    "DELETE /registry/{registry_name}/v0.1/x/dev.toolhive/skills/{namespace}/{name}/versions/{version}":
        "skills:publish",
    "POST /api/registries/{registry_name}/skills/import": "skills:publish",
    "GET /api/tools": "providers:read",
    "GET /registry/{registry_name}/v0.1/servers": "catalog:read",
    "GET /registry/{registry_name}/v0.1/servers/{rest}": "catalog:read",
    # --- probes and the dashboard (the page itself holds no data; its API calls need a key) ----
    "GET /health/live": PUBLIC,
    "GET /health/ready": PUBLIC,
    "GET /": PUBLIC,
    "GET /ui": PUBLIC,
    "GET /ui/{file_path}": PUBLIC,
    "HEAD /ui/{file_path}": PUBLIC,
    "GET /ui/vendor/swagger/{file_path}": PUBLIC,
    "HEAD /ui/vendor/swagger/{file_path}": PUBLIC,
    # --- generated API documentation -----------------------------------------------------------
    "GET /schema": "system:read",
    "GET /schema/openapi.json": "system:read",
    "GET /schema/openapi.yaml": "system:read",
    "GET /schema/openapi.yml": "system:read",
    "GET /schema/swagger": "system:read",
    "GET /schema/redoc": "system:read",
    "GET /schema/rapidoc": "system:read",
    "GET /schema/elements": "system:read",
    "GET /schema/oauth2-redirect.html": "system:read",
    "GET /schema/{path}": "system:read",
}

UNLISTED: Grant = ("*", "*")
"""What an unlisted route demands at runtime: only a full administrator passes."""


def compiled() -> dict[str, Grant | None]:
    """The table parsed once; None marks a public route."""
    return {k: (None if v == PUBLIC else parse_permission(v)) for k, v in ROUTE_PERMISSIONS.items()}


def route_keys(app: Any) -> Iterator[tuple[str, Any]]:
    """Every (table key, handler object) the Litestar app serves, CORS preflight excluded."""
    from litestar.routes import ASGIRoute, HTTPRoute, WebSocketRoute

    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                for method in sorted(handler.http_methods):
                    if method != "OPTIONS":
                        yield f"{method} {route.path_format}", handler
        elif isinstance(route, WebSocketRoute):
            yield f"WS {route.path_format}", route.route_handler
        elif isinstance(route, ASGIRoute):
            yield f"ASGI {route.path_format}", route.route_handler


# --- event frames (``/api/ws/events``, ``/api/ws/state``) ---------------------------------------
# A frame is sent to a principal only if it holds the permission of the REST routes that serve
# the same facts, chosen by the frame's stream (longest prefix first). A stream named nowhere
# here is shown to full administrators only, like an unlisted route.
STREAM_PERMISSIONS: dict[str, str] = {
    "provider:": "providers:read",
    "calls:": "providers:read",
    "group:": "groups:read",
    "discovery:": "discovery:read",
    "catalog:": "catalog:read",
    "auth:security": "audit:read",
    "audit:": "audit:read",
    "auth:": "auth:read",
    "system:config": "config:read",
    "system:alerts": "metrics:read",
    "system:maintenance": "maintenance:write",
    "skill:": "skills:read",
    "skillregistry:": "skills:read",
}
_STREAM_GRANTS = sorted(((p, parse_permission(v)) for p, v in STREAM_PERMISSIONS.items()),
                        key=lambda item: -len(item[0]))


def stream_permission(stream_id: str) -> Grant:
    for prefix, grant in _STREAM_GRANTS:
        if stream_id.startswith(prefix):
            return grant
    return UNLISTED


def stream_visibility(auth: AuthService, principal: str | None) -> Callable[[str], bool] | None:
    """Which streams ``principal`` may read through the log routes (events, streams, SSE, diff):
    those whose REST counterpart it may read, the rule the event WebSocket applies to frames.
    None when authentication is off: every stream."""
    if not auth.enabled:
        return None
    if principal is None:
        return lambda stream_id: False
    seen: dict[Grant, bool] = {}

    def visible(stream_id: str) -> bool:
        grant = stream_permission(stream_id)
        ok = seen.get(grant)
        if ok is None:
            ok = seen[grant] = auth.view.may(principal, grant)
        return ok

    return visible
