"""Catalog entries in the MCP Registry v0.1 ``server.json`` shape.

Standard fields carry what any registry client understands (packages for images and
``npx``/``uvx`` commands, remotes for endpoints, environment variables with ``isSecret``).
Hangar's complete definition rides along under ``_meta["dev.hangar/catalog"]`` so that a
document Hangar serves imports back into another Hangar's catalog unchanged. Secret values
(secret variables' defaults, env values whose names look secret) are never written.
"""

from __future__ import annotations

from typing import Any

import msgspec

from hangar.api.views import redact_env
from hangar.domain.catalog import entry_mode
from hangar.domain.catalog_events import CatalogEntryData, EnvVar
from hangar.domain.catalog_formats import HANGAR_META

SCHEMA = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"


def _env(v: EnvVar) -> dict[str, Any]:
    out: dict[str, Any] = {"name": v.name, "isRequired": v.required, "isSecret": v.secret}
    if v.description:
        out["description"] = v.description
    if v.default is not None and not v.secret:
        out["default"] = v.default
    return out


def _package(e: CatalogEntryData, mode: str | None) -> dict[str, Any] | None:
    args = [{"type": "positional", "value": a} for a in e.args]
    base: dict[str, Any]
    cmd = e.command or []
    if mode == "docker" and e.image:
        base = {"registryType": "oci", "identifier": e.image}
    elif mode == "subprocess" and len(cmd) == 3 and cmd[:2] == ["npx", "-y"]:
        at = cmd[2].rfind("@")  # a scoped name starts with '@' too
        ident, version = (cmd[2][:at], cmd[2][at + 1:]) if at > 0 else (cmd[2], "")
        base = {"registryType": "npm", "identifier": ident, **({"version": version} if version else {})}
    elif mode == "subprocess" and len(cmd) == 2 and cmd[0] == "uvx":
        ident, _, version = cmd[1].partition("==")
        base = {"registryType": "pypi", "identifier": ident, **({"version": version} if version else {})}
    else:
        return None
    base["transport"] = {"type": "stdio"}
    if args:
        base["packageArguments"] = args
    if e.env_vars:
        base["environmentVariables"] = [_env(v) for v in e.env_vars]
    return base


def _safe_entry(e: CatalogEntryData) -> dict[str, Any]:
    secret = {v.name for v in e.env_vars if v.secret}
    env = {k: v for k, v in redact_env(e.env).items() if k not in secret and v == e.env.get(k)}
    env_vars = [msgspec.structs.replace(v, default=None) if v.secret else v for v in e.env_vars]
    data = msgspec.structs.replace(e, env=env, env_vars=env_vars)
    return dict(msgspec.to_builtins(data))


def server_json(e: CatalogEntryData) -> dict[str, Any]:
    mode = entry_mode(e)
    out: dict[str, Any] = {
        "$schema": SCHEMA, "name": e.name, "description": e.description, "version": e.version or "0.0.0",
    }
    title = e.metadata.get("title") if isinstance(e.metadata, dict) else None
    if isinstance(title, str) and title:
        out["title"] = title
    if e.repository_url:
        out["repository"] = {"url": e.repository_url,
                             **({"source": "github"} if "github.com" in e.repository_url else {})}
    pkg = _package(e, mode)
    if pkg is not None:
        out["packages"] = [pkg]
    if mode == "remote" and e.endpoint:
        out["remotes"] = [{"type": e.transport or "streamable-http", "url": e.endpoint}]
    out["_meta"] = {HANGAR_META: _safe_entry(e)}
    return out
