"""Catalog documents in the registry formats Hangar imports, written for these tests."""

from __future__ import annotations

from typing import Any

TEST_IMAGE = "hangar-test-python:latest"
SECRET = "tok-9f8e7d6c5b4a"

TOOLHIVE_REGISTRY: dict[str, Any] = {
    "version": "1.0.0",
    "last_updated": "2026-01-01T00:00:00Z",
    "servers": {
        "th-echo": {
            "description": "Echo tools over stdio",
            "image": TEST_IMAGE,
            "args": ["python3", "-S", "/srv/echo.py"],
            "transport": "stdio",
            "tags": ["test", "echo"],
            "tools": ["echo", "add"],
            "repository_url": "https://example.invalid/echo",
            "status": "Active",
            "tier": "Community",
            "env_vars": [
                {"name": "ECHO_TOKEN", "description": "access token", "required": True, "secret": True},
                {"name": "ECHO_LEVEL", "description": "log level", "required": False, "default": "info"},
            ],
            "metadata": {"stars": 12, "pulls": 340, "last_updated": "2026-01-01T00:00:00Z"},
        },
        "th-web": {
            "description": "Fetches web pages",
            "image": "example/fetch:latest",
            "transport": "streamable-http",
            "target_port": 8080,
            "tags": ["web", "test"],
        },
    },
    "remote_servers": {
        "th-remote": {
            "description": "A hosted server",
            "url": "https://mcp.example.invalid/mcp",
            "transport": "streamable-http",
            "headers": [{"name": "X-Api-Key", "required": True, "secret": True}],
            "tags": ["remote"],
        },
    },
}

MCP_SERVER_JSON: dict[str, Any] = {
    "$schema": "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json",
    "name": "io.github.example/weather",
    "description": "Weather forecasts",
    "version": "1.2.0",
    "repository": {"url": "https://github.com/example/weather", "source": "github"},
    "packages": [{
        "registryType": "npm",
        "identifier": "@example/weather-mcp",
        "version": "1.2.0",
        "transport": {"type": "stdio"},
        "packageArguments": [{"type": "named", "name": "--units", "value": "metric"}],
        "environmentVariables": [
            {"name": "WEATHER_API_KEY", "description": "API key", "isRequired": True, "isSecret": True},
        ],
    }],
    "remotes": [{"type": "streamable-http", "url": "https://weather.example.invalid/mcp"}],
}

# The same registry's API answer, snake_case, wrapping each server.
MCP_REGISTRY_LIST: dict[str, Any] = {
    "servers": [
        {"server": {
            "name": "io.example/timekeeper",
            "description": "Time zones",
            "version": "0.3.0",
            "packages": [{"registry_type": "pypi", "identifier": "timekeeper-mcp", "version": "0.3.0",
                          "transport": {"type": "stdio"}}],
        }, "_meta": {"io.modelcontextprotocol.registry/official": {"status": "active"}}},
        {"server": {
            "name": "io.example/hosted",
            "description": "Only remote",
            "remotes": [{"type": "sse", "url": "https://hosted.example.invalid/sse"}],
        }},
    ],
    "metadata": {"count": 2},
}
