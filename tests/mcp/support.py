"""What the MCP front-door tests share: a Hangar whose ``/mcp`` is up, and comparable results."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support import HangarProcess


def serving_mcp(proc: HangarProcess) -> HangarProcess:
    """Start ``proc`` and wait for ``/mcp``: the SDK loads in the background after start-up, and
    ``/mcp`` answers 503 until it is ready."""
    if proc.proc is None or proc.proc.poll() is not None:
        proc.start()
    deadline = time.monotonic() + 30
    while httpx.get(proc.base + "/mcp").status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.05)
    return proc


def dump(model: Any) -> Any:
    """A result as JSON, without what legitimately differs between two servers (cache hints,
    the result type of the 2026 envelope, ``_meta``)."""
    data = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    for key in ("_meta", "ttlMs", "cacheScope", "resultType"):
        data.pop(key, None)
    return data
