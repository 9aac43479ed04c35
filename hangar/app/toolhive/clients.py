"""MCP client registration: each client's own configuration file, in its documented format and
location under ``clients.home``, gets one entry (``hangar``) pointing at Hangar's ``/mcp``.

Writes are atomic (temp file in the same directory, then rename), keep every entry Hangar did not
write, and unregistering removes only Hangar's. The registration itself is an event.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.repository import Repository
from hangar.domain.errors import ValidationError
from hangar.domain.toolhive import ClientRegistration

ENTRY = "hangar"


class ClientFormat(msgspec.Struct, frozen=True, kw_only=True):
    path: str
    """Relative to the home directory."""
    key: str
    """The object holding the servers."""
    detect: str
    """A directory whose presence means the client is installed."""
    skills_dir: str | None = None

    def entry(self, client: str, url: str, headers: dict[str, str]) -> dict[str, Any]:
        match client:
            case "vscode" | "vscode-insider" | "claude-code":
                out: dict[str, Any] = {"type": "http", "url": url}
            case "windsurf":
                out = {"serverUrl": url}
            case "cline":
                out = {"type": "streamableHttp", "url": url, "disabled": False}
            case "roo-code":
                out = {"type": "streamable-http", "url": url}
            case "claude-desktop":
                # Claude Desktop's file launches stdio servers only: bridge with mcp-remote.
                args = ["-y", "mcp-remote", url]
                for k, v in headers.items():
                    args += ["--header", f"{k}:{v}"]
                return {"command": "npx", "args": args}
            case _:
                out = {"url": url}
        if headers:
            out["headers"] = dict(headers)
        return out


_VSCODE = ".config/Code/User"
CLIENTS: dict[str, ClientFormat] = {
    "claude-code": ClientFormat(path=".claude.json", key="mcpServers", detect=".claude", skills_dir=".claude/skills"),
    "claude-desktop": ClientFormat(path=".config/Claude/claude_desktop_config.json", key="mcpServers",
                                   detect=".config/Claude"),
    "cursor": ClientFormat(path=".cursor/mcp.json", key="mcpServers", detect=".cursor"),
    "vscode": ClientFormat(path=f"{_VSCODE}/mcp.json", key="servers", detect=".config/Code"),
    "vscode-insider": ClientFormat(path=".config/Code - Insiders/User/mcp.json", key="servers",
                                   detect=".config/Code - Insiders"),
    "windsurf": ClientFormat(path=".codeium/windsurf/mcp_config.json", key="mcpServers", detect=".codeium/windsurf"),
    "cline": ClientFormat(
        path=f"{_VSCODE}/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        key="mcpServers", detect=f"{_VSCODE}/globalStorage/saoudrizwan.claude-dev"),
    "roo-code": ClientFormat(
        path=f"{_VSCODE}/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
        key="mcpServers", detect=f"{_VSCODE}/globalStorage/rooveterinaryinc.roo-cline"),
}
TOOLHIVE_CLIENTS = tuple(c for c in CLIENTS if c != "claude-desktop")
"""The clients ToolHive's schema names (its enum has no Claude Desktop)."""


def client_format(client: str) -> ClientFormat:
    fmt = CLIENTS.get(client)
    if fmt is None:
        raise ValidationError(f"unsupported client type '{client}'")
    return fmt


class RegisterClient(msgspec.Struct, frozen=True, kw_only=True):
    client: str
    groups: list[str]
    url: str
    headers: dict[str, str] = {}

    def __repr__(self) -> str:  # headers may carry an API key
        return f"RegisterClient(client={self.client!r}, groups={self.groups!r})"


class UnregisterClient(msgspec.Struct, frozen=True, kw_only=True):
    client: str
    groups: list[str] | None = None
    """None: every group (the whole registration)."""


class ClientFiles:
    def __init__(self, repo: Repository[ClientRegistration], home: Callable[[], Path]) -> None:
        self.repo = repo
        self.home = home

    def register_with(self, bus: CommandBus) -> None:
        bus.register(RegisterClient, self.register)
        bus.register(UnregisterClient, self.unregister)

    def path(self, client: str) -> Path:
        return self.home() / client_format(client).path

    def installed(self, client: str) -> bool:
        return (self.home() / client_format(client).detect).is_dir()

    async def register(self, cmd: RegisterClient, ctx: CommandContext, meta: EventMetadata) -> None:
        fmt = client_format(cmd.client)
        path = self.path(cmd.client)
        doc = read_config(path)
        servers = doc.setdefault(fmt.key, {})
        if not isinstance(servers, dict):
            raise ValidationError(f"{path.name}: '{fmt.key}' is not an object")
        wanted = fmt.entry(cmd.client, cmd.url, cmd.headers)
        if servers.get(ENTRY) != wanted:
            servers[ENTRY] = wanted
            write_atomic(path, doc)
        await self.repo.execute(cmd.client, lambda c: c.register(cmd.groups, str(path)), meta)

    async def unregister(self, cmd: UnregisterClient, ctx: CommandContext, meta: EventMetadata) -> None:
        fmt = client_format(cmd.client)
        path = self.path(cmd.client)
        agg = await self.repo.check(cmd.client, None)
        left = [] if cmd.groups is None else [g for g in agg.s.groups if g not in cmd.groups]
        await self.repo.execute(cmd.client, lambda c: c.unregister(cmd.groups, str(path)), meta)
        if left:
            return
        doc = read_config(path)
        servers = doc.get(fmt.key)
        if isinstance(servers, dict) and ENTRY in servers:
            del servers[ENTRY]
            write_atomic(path, doc)


def read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"{path.name} is not valid JSON ({exc.msg}); it was left unchanged") from None
    if not isinstance(doc, dict):
        raise ValidationError(f"{path.name} does not hold a JSON object; it was left unchanged")
    return doc


def write_atomic(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
