"""``hangar mcp-config`` prints a snippet each client can load, pointing at ``/mcp``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hangar.mcp_config import CLIENTS, snippet


@pytest.mark.parametrize("client", ["claude-desktop", "cursor", "vscode"])
def test_json_snippets_point_at_mcp(client: str) -> None:
    doc = json.loads(snippet(client, "http://h:9/"))
    assert "http://h:9/mcp" in json.dumps(doc)
    assert "Authorization" not in json.dumps(doc)


def test_api_key_is_referenced_never_inlined() -> None:
    assert snippet("claude-code", "http://127.0.0.1:8000", api_key_env="HANGAR_API_KEY") == (
        'claude mcp add --transport http hangar http://127.0.0.1:8000/mcp '
        '--header "Authorization: Bearer ${HANGAR_API_KEY}"')
    doc = json.loads(snippet("cursor", "http://x", api_key_env="K"))
    assert doc["mcpServers"]["hangar"]["headers"] == {"Authorization": "Bearer ${env:K}"}


def test_the_command_prints_the_snippet_and_where_it_goes() -> None:
    for client in CLIENTS:
        res = subprocess.run([sys.executable, "-m", "hangar.cli", "mcp-config", "--client", client,
                              "--url", "http://h:9"], capture_output=True, text=True, timeout=60, check=True)
        assert res.stdout.strip() == snippet(client, "http://h:9")
        assert res.stderr.startswith("# ")
