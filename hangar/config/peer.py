"""Bringing an mcp-hangar ``config.yaml`` over: its provider shape is accepted as far as Hangar
has the same concept, and every key it does not have is rejected with a message that says what
to do instead (never silently dropped, never a bare "unknown field").
"""

from __future__ import annotations

from typing import Any

# Provider keys of mcp-hangar that Hangar has no equivalent for, with the advice shown.
PEER_PROVIDER_KEYS: dict[str, str] = {
    "max_consecutive_failures": "not supported per provider; set runtime.health.dead_after",
    "build": "building images is not supported; build the image first and set 'image'",
    "resources": "container resource limits are not supported; remove it",
    "user": "not supported; run the container image as the user it declares",
    "auth": "per-provider auth is not supported; put credentials in 'env'",
    "tls": "not supported; use an https:// endpoint",
    "http": "HTTP client options are not supported; use call_timeout_s for timeouts",
    "max_concurrency": "per-provider concurrency limits are not supported; remove it",
}

# Top-level sections of mcp-hangar's file, with where the setting lives in Hangar.
PEER_TOP_LEVEL_KEYS: dict[str, str] = {
    "execution": "mcp-hangar setting; Hangar has no global concurrency limit, remove it",
    "config_reload": "mcp-hangar setting; use config.watch and config.watch_interval_s",
    "hot_loading": "mcp-hangar setting; register providers through /api/providers instead",
    "knowledge_base": "mcp-hangar setting; not supported",
    "truncation": "mcp-hangar setting; not supported",
    "catalog": "mcp-hangar setting; the catalog is stored in the event store",
}

# Group keys of mcp-hangar (``mode: group`` entries) that Hangar has no equivalent for.
PEER_GROUP_KEYS: dict[str, str] = {
    "health": "group health thresholds are not supported; member health follows runtime.health",
    "tools": "allow/deny lists are tool policies here (PUT /api/auth/policies/...); remove it",
}

TOOL_KEYS = {"name", "description", "input_schema", "inputSchema"}


class PeerConfigError(ValueError):
    """Raised with ``path: message``."""


def normalise(raw: dict[str, Any], sections: frozenset[str]) -> dict[str, Any]:
    """Rewrite the peer spellings Hangar understands into its own; raise on the rest.

    ``sections`` are the top-level keys Hangar's schema has (a peer key that another part of
    Hangar adopts is then validated by that section's schema instead).
    """
    for key, hint in PEER_TOP_LEVEL_KEYS.items():
        if key in raw and key not in sections:
            raise PeerConfigError(f"{key}: {hint}")
    has_groups_section = "groups" in sections
    providers = raw.get("providers")
    if not isinstance(providers, dict):
        return raw
    out = dict(raw)
    kept: dict[str, Any] = {}
    for name, body in providers.items():
        if not isinstance(body, dict):
            kept[name] = body
            continue
        if body.get("mode") == "group":
            if not has_groups_section:
                raise PeerConfigError(
                    f"providers.{name}.mode: groups are not providers here; declare '{name}' under 'groups:'"
                )
            groups = out.setdefault("groups", {})
            if not isinstance(groups, dict):
                raise PeerConfigError("groups: must be a mapping")
            if name in groups:
                raise PeerConfigError(f"providers.{name}: group '{name}' is also declared under 'groups:'")
            groups[name] = _group(name, body)
            continue
        kept[name] = _provider(name, body)
    out["providers"] = kept
    return out


def _provider(name: str, body: dict[str, Any]) -> dict[str, Any]:
    where = f"providers.{name}"
    for key, hint in PEER_PROVIDER_KEYS.items():
        if key in body:
            raise PeerConfigError(f"{where}.{key}: {hint}")
    body = dict(body)
    if "network_mode" in body:
        mode = body.pop("network_mode")
        if "network" in body and body["network"] != mode:
            raise PeerConfigError(f"{where}.network_mode: conflicts with 'network'; keep one of them")
        body["network"] = mode
    tools = body.get("tools")
    if isinstance(tools, dict):
        raise PeerConfigError(
            f"{where}.tools: allow/deny lists are tool policies here (PUT /api/auth/policies/...); "
            "'tools' lists predefined tools"
        )
    if isinstance(tools, list):
        body["tools"] = [_tool(f"{where}.tools[{i}]", t) for i, t in enumerate(tools)]
    return body


def _group(name: str, body: dict[str, Any]) -> dict[str, Any]:
    where = f"providers.{name}"
    for key, hint in PEER_GROUP_KEYS.items():
        if key in body:
            raise PeerConfigError(f"{where}.{key}: {hint}")
    members = body.get("members")
    if isinstance(members, list):
        for i, m in enumerate(members):
            if isinstance(m, dict) and "tools" in m:
                raise PeerConfigError(f"{where}.members[{i}].tools: {PEER_GROUP_KEYS['tools']}")
    return {k: v for k, v in body.items() if k != "mode"}


def _tool(where: str, tool: Any) -> Any:
    if not isinstance(tool, dict):
        return tool
    unknown = sorted(set(tool) - TOOL_KEYS)
    if unknown:
        raise PeerConfigError(f"{where}.{unknown[0]}: unknown field")
    if "inputSchema" in tool:
        if "input_schema" in tool:
            raise PeerConfigError(f"{where}.inputSchema: give either inputSchema or input_schema")
        tool = {("input_schema" if k == "inputSchema" else k): v for k, v in tool.items()}
    return tool
