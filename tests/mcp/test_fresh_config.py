"""A fresh server from the shipped ``config/hangar.yaml``: an MCP client's first ``tools/list``
lists every tool of both example providers before anything was started or called, and again
after a restart with no provider running."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.mcp.support import serving_mcp
from tests.support import REPO, HangarProcess

MATH = {"add", "subtract", "multiply", "divide", "power"}


async def listed(base: str) -> set[str]:
    async with streamable_http_client(base + "/mcp") as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return {t.name for t in (await session.list_tools()).tools}


def test_shipped_config_lists_every_tool_before_first_use_and_after_restart(tmp_path: Path) -> None:
    shutil.copytree(REPO / "config", tmp_path / "config")
    proc = HangarProcess(tmp_path, config=tmp_path / "config" / "hangar.yaml", discover=True)
    want = {f"{p}__{t}" for p in ("math", "math-backup", "math-pool") for t in MATH}
    try:
        serving_mcp(proc)
        assert want <= asyncio.run(listed(proc.base))
    finally:
        proc.stop()
    try:
        serving_mcp(proc)
        states = {p["provider_id"]: p["state"] for p in httpx.get(proc.base + "/api/providers").json()["providers"]}
        assert states == {"math": "cold", "math-backup": "cold"}
        assert want <= asyncio.run(listed(proc.base))
        states = {p["provider_id"]: p["state"] for p in httpx.get(proc.base + "/api/providers").json()["providers"]}
        assert states == {"math": "cold", "math-backup": "cold"}  # learned from the log, nothing started
    finally:
        proc.stop()
