"""A small, real MCP stdio server built with the official SDK.

Run it as a Hangar provider with ``command: [python, -m, hangar.examples.math_server]``.
"""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server: MCPServer = MCPServer(
    "hangar-math",
    instructions="Basic arithmetic on numbers: add, subtract, multiply, divide, power.",
    log_level="WARNING",
)


def note(text: str) -> None:
    # stdout carries the protocol; what a server has to say for humans goes to stderr, which
    # Hangar keeps in the provider's log buffer.
    print(text, file=sys.stderr, flush=True)


@server.tool()
async def add(a: float, b: float) -> float:
    """Return a + b."""
    note(f"add({a}, {b})")
    return a + b


@server.tool()
async def subtract(a: float, b: float) -> float:
    """Return a - b."""
    note(f"subtract({a}, {b})")
    return a - b


@server.tool()
async def multiply(a: float, b: float) -> float:
    """Return a * b."""
    note(f"multiply({a}, {b})")
    return a * b


@server.tool()
async def divide(a: float, b: float) -> float:
    """Return a / b; dividing by zero is an error."""
    if b == 0:
        # A ToolError becomes an isError result the model can read, not a protocol failure.
        raise ToolError("division by zero: the divisor 'b' must not be 0")
    return a / b


@server.tool()
async def power(base: float, exponent: float) -> float:
    """Return base raised to exponent."""
    try:
        result = base**exponent
    except (OverflowError, ZeroDivisionError) as exc:
        raise ToolError(f"cannot compute {base} ** {exponent}: {exc}") from exc
    if isinstance(result, complex):
        raise ToolError(f"{base} ** {exponent} has no real value")
    return result


def main() -> None:
    note("hangar-math ready: add, subtract, multiply, divide, power")
    server.run("stdio")


if __name__ == "__main__":
    main()
