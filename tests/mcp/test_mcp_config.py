"""``hangar mcp-config`` prints a snippet each client can load, pointing at ``/mcp``."""

from __future__ import annotations

import json

import pytest

from hangar.cli import main


@pytest.mark.parametrize("client", ["claude-desktop", "cursor", "vscode"])
def test_json_snippets_point_at_mcp(client: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp-config", "--client", client, "--url", "http://h:9/"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert "http://h:9/mcp" in json.dumps(doc)
    assert "Authorization" not in json.dumps(doc)


def test_api_key_is_referenced_never_inlined(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mcp-config", "--client", "claude-code", "--api-key-env", "HANGAR_API_KEY"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == ('claude mcp add --transport http hangar http://127.0.0.1:8000/mcp '
                   '--header "Authorization: Bearer ${HANGAR_API_KEY}"')
    assert main(["mcp-config", "--client", "cursor", "--api-key-env", "K"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["mcpServers"]["hangar"]["headers"] == {"Authorization": "Bearer ${env:K}"}
