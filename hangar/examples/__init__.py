"""Example MCP providers shipped with Hangar (``python -m hangar.examples.math_server``)."""
