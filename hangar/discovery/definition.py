"""Reading one provider definition in the ``providers.d/`` format into a candidate.

The format mcp-hangar users keep, one provider per file::

    name: weather            # default: the file's stem
    enabled: true            # false: skipped
    mode: subprocess         # subprocess | docker (alias container) | remote
    description: ...
    connection:
      command: python -m weather   # a string or a list; ``args`` are appended
      args: [--verbose]
      env: {API_KEY: ...}
      # or endpoint: http://host:8080/mcp, or host + port (+ path, default /mcp)
    metadata: {team: data}

The body of ``POST /api/providers`` (``provider_id``, ``command`` as a list, ``image``,
``endpoint``, ``env``, ``idle_ttl_s``, ...) is accepted as well. Problems do not raise: they are
recorded on the candidate, which vetting then quarantines with them as reasons.
"""

from __future__ import annotations

import shlex
from typing import Any

import msgspec

from hangar.domain.discovery_events import Candidate


class SourceUnavailableError(Exception):
    """The source cannot be read at all (as opposed to one definition in it being invalid)."""


SPEC_OPTIONS = frozenset({
    "idle_ttl_s", "health_check_interval_s", "volumes", "network", "read_only", "tools", "call_timeout_s",
})
TOP_LEVEL = frozenset({
    "name", "provider_id", "enabled", "mode", "description", "connection", "metadata",
    "command", "args", "image", "endpoint", "env",
}) | SPEC_OPTIONS
CONNECTION = frozenset({"command", "args", "env", "endpoint", "url", "host", "port", "path", "scheme", "image"})


def plain(value: Any) -> Any:
    """JSON-plain data, so what is recorded reads back equal (YAML dates become strings)."""
    return msgspec.json.decode(msgspec.json.encode(value))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _str_list(value: Any, key: str, errors: list[str]) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            errors.append(f"{key}: cannot split '{value}': {exc}")
            return None
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return [str(v) for v in value]
    errors.append(f"{key}: expected a string or a list of strings")
    return None


def _env(value: Any, key: str, errors: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append(f"{key}: expected a mapping")
        return {}
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


def _opt_str(value: Any, key: str, errors: list[str]) -> str | None:
    if value is None or isinstance(value, str):
        return value
    errors.append(f"{key}: expected a string")
    return None


def parse_definition(data: Any, default_name: str, origin: str) -> Candidate | None:
    """A candidate for ``data``, or None when the definition says ``enabled: false``."""
    if not isinstance(data, dict):
        return Candidate(name=default_name, origin=origin, errors=["the definition must be a mapping"])
    if "enabled" in data and not _truthy(data["enabled"]):
        return None
    errors = [f"unknown field '{k}'" for k in sorted(map(str, data)) if k not in TOP_LEVEL]
    conn = data.get("connection") or {}
    if not isinstance(conn, dict):
        errors.append("connection: expected a mapping")
        conn = {}
    errors += [f"connection: unknown field '{k}'" for k in sorted(map(str, conn)) if k not in CONNECTION]

    name = data.get("name", data.get("provider_id", default_name))
    if not isinstance(name, str) or not name:
        errors.append("name: expected a non-empty string")
        name = default_name
    mode = data.get("mode", "")
    if not isinstance(mode, str):
        errors.append("mode: expected a string")
        mode = ""

    command = _str_list(conn.get("command", data.get("command")), "command", errors)
    args = _str_list(conn.get("args", data.get("args")), "args", errors) or []
    if command is not None:
        command = [*command, *args]
    elif args:
        errors.append("args given without a command")
    env = _env(data.get("env"), "env", errors) | _env(conn.get("env"), "connection.env", errors)

    endpoint = _opt_str(conn.get("endpoint", conn.get("url", data.get("endpoint"))), "endpoint", errors)
    if endpoint is None and conn.get("host") is not None:
        port = conn.get("port")
        if not isinstance(port, int | str) or not str(port).isdigit():
            errors.append("connection.port: required with host, as a number")
        else:
            path = str(conn.get("path", "/mcp"))
            path = path if path.startswith("/") else "/" + path
            endpoint = f"{conn.get('scheme', 'http')}://{conn['host']}:{port}{path}"
    image = _opt_str(conn.get("image", data.get("image")), "image", errors)
    description = _opt_str(data.get("description"), "description", errors)

    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        errors.append("metadata: expected a mapping")
        metadata = {}
    options = {k: data[k] for k in SPEC_OPTIONS if k in data}
    if not mode:
        # The mode is implied when only one way to reach the server is given.
        mode = "subprocess" if command else "docker" if image else "remote" if endpoint else ""
    return Candidate(
        name=name, mode=mode, command=command, image=image, endpoint=endpoint, env=env,
        description=description, options=plain(options), metadata=plain(metadata), origin=origin,
        errors=errors,
    )
