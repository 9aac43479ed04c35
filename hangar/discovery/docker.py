"""Docker source: containers that carry ``mcp.hangar.*`` labels, through the Docker Engine API.

Labels (the prefix mcp-hangar users already put on their containers):

- ``mcp.hangar.enabled=true``: required; others are ignored
- ``mcp.hangar.name``: provider name (default: the container's name)
- ``mcp.hangar.mode``: ``docker`` (Hangar runs the image itself over stdio; the default without
  a port), ``remote`` (the default with a port: the container already serves MCP over HTTP) or
  ``subprocess``
- ``mcp.hangar.command``: the command (split like a shell would)
- ``mcp.hangar.image``: the image for docker mode (default: the container's image)
- ``mcp.hangar.port``, ``mcp.hangar.host``, ``mcp.hangar.path`` (default ``/mcp``) or
  ``mcp.hangar.endpoint``: where a remote one listens; a published port is preferred, since the
  host can reach it
- ``mcp.hangar.group``, ``mcp.hangar.description``, ``mcp.hangar.network``,
  ``mcp.hangar.read_only``, ``mcp.hangar.volumes`` (comma-separated), ``mcp.hangar.env.NAME``
"""

from __future__ import annotations

import asyncio
from typing import Any

from hangar.config.discovery_sources import DockerConfig
from hangar.discovery.definition import SourceUnavailableError, parse_definition
from hangar.domain.discovery_events import Candidate

PREFIX = "mcp.hangar."


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _container_ip(attrs: dict[str, Any]) -> str | None:
    net = attrs.get("NetworkSettings") or {}
    if net.get("IPAddress"):
        return str(net["IPAddress"])
    for n in (net.get("Networks") or {}).values():
        if n and n.get("IPAddress"):
            return str(n["IPAddress"])
    return None


def _published(attrs: dict[str, Any], port: str) -> str | None:
    bindings = ((attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for b in bindings:
        if b.get("HostPort"):
            return str(b["HostPort"])
    return None


def container_candidate(attrs: dict[str, Any]) -> Candidate | None:
    """The candidate a container's inspect data describes, or None when it is not opted in."""
    cfg = attrs.get("Config") or {}
    labels: dict[str, str] = cfg.get("Labels") or {}
    if not _truthy(labels.get(PREFIX + "enabled")):
        return None
    cname = str(attrs.get("Name", "")).lstrip("/") or str(attrs.get("Id", ""))[:12]
    image = labels.get(PREFIX + "image") or cfg.get("Image") or None
    port = labels.get(PREFIX + "port")
    endpoint = labels.get(PREFIX + "endpoint")
    mode = labels.get(PREFIX + "mode") or ("remote" if port or endpoint else "docker")
    conn: dict[str, Any] = {}
    if labels.get(PREFIX + "command"):
        conn["command"] = labels[PREFIX + "command"]
    if mode in ("docker", "container"):
        conn["image"] = image
    if endpoint:
        conn["endpoint"] = endpoint
    elif port and mode == "remote":
        host_port = _published(attrs, port)
        host = labels.get(PREFIX + "host") or ("127.0.0.1" if host_port else _container_ip(attrs))
        conn.update(host=host or cname, port=host_port or port, path=labels.get(PREFIX + "path", "/mcp"))
    env = {k[len(PREFIX + "env."):]: v for k, v in labels.items() if k.startswith(PREFIX + "env.")}
    if env:
        conn["env"] = env
    data: dict[str, Any] = {
        "name": labels.get(PREFIX + "name") or cname,
        "mode": mode,
        "connection": conn,
        "metadata": {
            "container_id": str(attrs.get("Id", ""))[:12], "container_name": cname, "image": image,
            **({"group": labels[PREFIX + "group"]} if labels.get(PREFIX + "group") else {}),
        },
    }
    if labels.get(PREFIX + "description"):
        data["description"] = labels[PREFIX + "description"]
    if labels.get(PREFIX + "network"):
        data["network"] = labels[PREFIX + "network"]
    if labels.get(PREFIX + "volumes"):
        data["volumes"] = [v.strip() for v in labels[PREFIX + "volumes"].split(",") if v.strip()]
    if PREFIX + "read_only" in labels:
        data["read_only"] = _truthy(labels[PREFIX + "read_only"])
    return parse_definition(data, cname, f"container {cname} ({str(attrs.get('Id', ''))[:12]})")


def docker_client(base_url: str | None, timeout_s: float) -> Any:
    import docker

    if base_url:
        return docker.DockerClient(base_url=base_url, timeout=int(timeout_s))
    return docker.from_env(timeout=int(timeout_s))


class DockerScanner:
    async def scan(self, config: DockerConfig) -> list[Candidate]:
        return await asyncio.to_thread(self._scan, config)

    def _scan(self, config: DockerConfig) -> list[Candidate]:
        from docker.errors import DockerException

        try:
            client = docker_client(config.base_url, config.timeout_s)
        except DockerException as exc:
            raise SourceUnavailableError(f"Docker engine not reachable: {exc}") from None
        try:
            containers = client.containers.list(
                all=config.include_stopped, filters={"label": PREFIX + "enabled"}
            )
            out = []
            for c in sorted(containers, key=lambda c: c.name or ""):
                cand = container_candidate(c.attrs)
                if cand is not None:
                    out.append(cand)
            return out
        except DockerException as exc:
            raise SourceUnavailableError(f"Docker engine error: {exc}") from None
        finally:
            client.close()

    def signature(self, config: DockerConfig) -> None:
        return None
