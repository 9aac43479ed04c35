"""Parsers for document formats Hangar reads and writes at its edges (ToolHive registry.json,
MCP Registry server.json, legacy configs): they turn outside shapes into domain values."""
