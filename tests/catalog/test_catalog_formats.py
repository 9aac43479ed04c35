"""Reading ToolHive, MCP Registry and Hangar documents (pure)."""

from __future__ import annotations

import pytest

from hangar.domain.catalog import deploy_spec
from hangar.domain.errors import ValidationError
from hangar.formats.catalog import default_provider_id, parse_document
from tests.catalog.documents import MCP_REGISTRY_LIST, MCP_SERVER_JSON, TOOLHIVE_REGISTRY


def test_toolhive_registry() -> None:
    fmt, entries = parse_document(TOOLHIVE_REGISTRY)
    assert fmt == "toolhive"
    by = {e.name: e for e in entries}
    echo = by["th-echo"]
    assert echo.mode == "docker" and echo.image == "hangar-test-python:latest" and echo.args[0] == "python3"
    assert [(v.name, v.required, v.secret, v.default) for v in echo.env_vars] == [
        ("ECHO_TOKEN", True, True, None), ("ECHO_LEVEL", False, False, "info")]
    assert echo.tools == ["echo", "add"] and echo.transport == "stdio" and echo.verified
    assert echo.repository_url == "https://example.invalid/echo" and echo.metadata["tier"] == "Community"
    assert by["th-remote"].mode == "remote" and by["th-remote"].endpoint == "https://mcp.example.invalid/mcp"
    # The API's single-server answer reads the same.
    assert parse_document({"server": {**TOOLHIVE_REGISTRY["servers"]["th-echo"], "name": "th-echo"}})[1] == [echo]


def test_mcp_registry_server_json_and_api_list() -> None:
    fmt, [w] = parse_document(MCP_SERVER_JSON)
    assert fmt == "mcp-registry" and w.name == "io.github.example/weather"
    assert w.command == ["npx", "-y", "@example/weather-mcp@1.2.0"] and w.args == ["--units", "metric"]
    assert w.env_vars[0].name == "WEATHER_API_KEY" and w.env_vars[0].required and w.env_vars[0].secret
    assert w.repository_url == "https://github.com/example/weather" and w.version == "1.2.0"
    assert default_provider_id(w.name) == "weather"
    fmt, [t, h] = parse_document(MCP_REGISTRY_LIST)
    assert fmt == "mcp-registry" and t.command == ["uvx", "timekeeper-mcp==0.3.0"]
    assert h.mode == "remote" and h.endpoint == "https://hosted.example.invalid/sse"


def test_deploy_fills_and_refuses_env() -> None:
    [w] = parse_document(MCP_SERVER_JSON)[1]
    with pytest.raises(ValidationError, match="WEATHER_API_KEY"):
        deploy_spec(w, {})
    spec = deploy_spec(w, {"WEATHER_API_KEY": "k"})
    assert spec.mode == "subprocess" and spec.command == ["npx", "-y", "@example/weather-mcp@1.2.0", "--units",
                                                          "metric"]
    web = next(e for e in parse_document(TOOLHIVE_REGISTRY)[1] if e.name == "th-web")
    with pytest.raises(ValidationError, match="streamable-http"):
        deploy_spec(web, {})


@pytest.mark.parametrize("doc", [
    {"foo": 1}, 42, {"entries": "x"}, {"entries": [{"name": "x"}]}, {"servers": {"a": {"description": "no image"}}},
    {"servers": {}}, {"servers": [{"name": "dup", "image": "i"}, {"name": "dup", "image": "j"}]},
    {"packages": [], "description": "nameless"},
])
def test_bad_documents_are_refused(doc: object) -> None:
    with pytest.raises(ValidationError):
        parse_document(doc)
