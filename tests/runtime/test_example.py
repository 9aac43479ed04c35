"""The example provider shipped in the package, driven through the stdio client."""

from __future__ import annotations

import sys

from .conftest import StdioFactory


async def test_math_server(stdio_client: StdioFactory) -> None:
    client = await stdio_client(command=[sys.executable, "-m", "hangar.examples.math_server"])
    assert client.server_info is not None and client.server_info.name == "hangar-math"
    assert {t.name for t in await client.list_tools()} == {"add", "subtract", "multiply", "divide", "power"}

    async def value(tool: str, **args: float) -> object:
        result = await client.call_tool(tool, args)
        assert not result.is_error, result.content
        assert result.structured_content is not None
        return result.structured_content["result"]

    assert await value("add", a=2, b=3) == 5
    assert await value("subtract", a=2, b=3) == -1
    assert await value("multiply", a=4, b=2.5) == 10
    assert await value("divide", a=1, b=4) == 0.25
    assert await value("power", base=2, exponent=10) == 1024
    by_zero = await client.call_tool("divide", {"a": 1, "b": 0})
    assert by_zero.is_error
    assert "division by zero" in by_zero.content[0]["text"]
    negative_root = await client.call_tool("power", {"base": -8, "exponent": 0.5})
    assert negative_root.is_error
