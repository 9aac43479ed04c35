"""An SDK-backed MCP server loaded off the event loop and served from one background task.

The SDK takes seconds of CPU to import, so the REST API never waits for it: the module is
imported in a worker thread once the app has started. The SDK's session manager owns a task
group that must be entered and left by one task, so the server lives inside that task until the
app stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import AsyncIterator, Callable
from types import ModuleType
from typing import Any, Protocol, TypeVar

import structlog

log = structlog.get_logger("hangar.mcp")


class Runnable(Protocol):
    def run(self) -> contextlib.AbstractAsyncContextManager[Any]: ...


S = TypeVar("S", bound=Runnable)


@contextlib.asynccontextmanager
async def served_in_background(
    module: str, build: Callable[[ModuleType], S], on_ready: Callable[[S | None], None], name: str,
) -> AsyncIterator[None]:
    """Serve ``build(import_module(module))`` while the context is open; ``on_ready`` is told of
    the server once it runs and of ``None`` once it has stopped (or failed to start)."""
    stop = asyncio.Event()

    async def serve() -> None:
        try:
            server = build(await asyncio.to_thread(importlib.import_module, module))
            async with server.run():
                on_ready(server)
                await stop.wait()
        except Exception:
            log.exception("mcp_server_failed", server=name)
        finally:
            on_ready(None)

    task = asyncio.create_task(serve(), name=name)
    try:
        yield
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(task), 10)
        if not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
