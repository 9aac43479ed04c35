"""``hangar mcp-config --client NAME``: the snippet that points an MCP client at Hangar's ``/mcp``.

The entry itself is the one Hangar's client registration writes into each client's file
(``hangar.app.toolhive.clients``); this prints it for pasting, wrapped in the client's servers
object, or, for Claude Code, as its ``claude mcp add`` command. With auth on, the API key travels
as ``Authorization: Bearer``; the snippets reference an environment variable (or VS Code's
secret input) so the key itself never lands in a file that may be shared.
"""

from __future__ import annotations

import json
from typing import Any

from hangar.app.toolhive.clients import CLIENTS as FORMATS

CLIENTS = tuple(FORMATS)


def where(client: str) -> str:
    if client == "claude-code":
        return "Claude Code: run this command (or merge the JSON form into ~/.claude.json)"
    return f"merge into ~/{FORMATS[client].path} (or the client's project-level file)"


def snippet(client: str, url: str, name: str = "hangar", api_key_env: str | None = None) -> str:
    """The text to paste for ``client``; ``api_key_env`` names the variable holding the key."""
    if client not in FORMATS:
        raise ValueError(f"unknown client '{client}': choose one of {', '.join(CLIENTS)}")
    mcp_url = url.rstrip("/") + "/mcp"
    if client == "claude-code":
        cmd = f"claude mcp add --transport http {name} {mcp_url}"
        return cmd + (f' --header "Authorization: Bearer ${{{api_key_env}}}"' if api_key_env else "")
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if api_key_env and client == "claude-desktop":
        # mcp-remote splits its arguments on spaces on some systems: the header comes from env.
        headers = {"Authorization": "${HANGAR_AUTH_HEADER}"}
    elif api_key_env and client.startswith("vscode"):
        headers = {"Authorization": "Bearer ${input:hangar-api-key}"}
        extra["inputs"] = [{"type": "promptString", "id": "hangar-api-key",
                            "description": "Hangar API key", "password": True}]
    elif api_key_env:
        headers = {"Authorization": f"Bearer ${{env:{api_key_env}}}"}
    entry = FORMATS[client].entry(client, mcp_url, headers)
    if api_key_env and client == "claude-desktop":
        entry["env"] = {"HANGAR_AUTH_HEADER": f"Bearer <value of {api_key_env}>"}
    return json.dumps({FORMATS[client].key: {name: entry}, **extra}, indent=2, ensure_ascii=False)
