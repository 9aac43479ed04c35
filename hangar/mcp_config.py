"""``hangar mcp-config --client NAME``: the snippet that points an MCP client at Hangar's ``/mcp``.

Every client speaks Streamable HTTP to the same URL; they differ only in where the snippet goes
and how its keys are spelled. With auth on, the API key travels as ``Authorization: Bearer``;
the snippets reference an environment variable where the client can expand one, so the key
itself never lands in a file that may be shared.
"""

from __future__ import annotations

import json
from typing import Any

CLIENTS = ("claude-desktop", "claude-code", "cursor", "vscode")
WHERE = {
    "claude-desktop": "Claude Desktop: Settings → Developer → Edit Config (claude_desktop_config.json); "
                      "it launches a local bridge, mcp-remote, through npx",
    "claude-code": "Claude Code: run this command (or put the JSON in .mcp.json)",
    "cursor": "Cursor: ~/.cursor/mcp.json (or .cursor/mcp.json in a project)",
    "vscode": "VS Code: .vscode/mcp.json in the workspace",
}


def snippet(client: str, url: str, name: str = "hangar", api_key_env: str | None = None) -> str:
    """The text to paste for ``client``; ``api_key_env`` names the variable holding the key."""
    mcp_url = url.rstrip("/") + "/mcp"
    bearer = f"Bearer ${{{api_key_env}}}" if api_key_env else None
    if client == "claude-code":
        cmd = f"claude mcp add --transport http {name} {mcp_url}"
        if bearer:
            cmd += f' --header "Authorization: {bearer}"'
        return cmd
    entry: dict[str, Any]
    if client == "claude-desktop":
        args = ["-y", "mcp-remote", mcp_url]
        entry = {"command": "npx", "args": args}
        if api_key_env:
            args += ["--header", "Authorization:${HANGAR_AUTH_HEADER}"]
            entry["env"] = {"HANGAR_AUTH_HEADER": f"Bearer <value of {api_key_env}>"}
        return _json({"mcpServers": {name: entry}})
    if client == "cursor":
        entry = {"url": mcp_url}
        if bearer:
            entry["headers"] = {"Authorization": f"Bearer ${{env:{api_key_env}}}"}
        return _json({"mcpServers": {name: entry}})
    if client == "vscode":
        entry = {"type": "http", "url": mcp_url}
        doc: dict[str, Any] = {"servers": {name: entry}}
        if api_key_env:
            entry["headers"] = {"Authorization": "Bearer ${input:hangar-api-key}"}
            doc["inputs"] = [{"type": "promptString", "id": "hangar-api-key",
                              "description": "Hangar API key", "password": True}]
        return _json(doc)
    raise ValueError(f"unknown client '{client}': choose one of {', '.join(CLIENTS)}")


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)
