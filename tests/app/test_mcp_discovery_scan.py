"""Start-up discovery of never-started providers is separate from reacting to the log, so that in
a cluster the leader alone runs it (``Services`` adds ``McpDiscovery.scan`` as a leader duty)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from hangar.app.lifecycle import StartProvider
from hangar.app.mcp_discovery import McpDiscovery


class Bus:
    def __init__(self) -> None:
        self.started: list[str] = []

    async def execute(self, cmd: Any, ctx: Any) -> None:
        assert isinstance(cmd, StartProvider)
        self.started.append(cmd.provider_id)


def view(pid: str, **fields: Any) -> Any:
    base = {"provider_id": pid, "spec": SimpleNamespace(discover_on_register=True), "last_started": None,
            "state": "cold"}
    return SimpleNamespace(**(base | fields))


async def test_start_without_scan_reacts_only_and_scan_discovers_the_never_started() -> None:
    bus = Bus()
    providers = SimpleNamespace(views={
        "fresh": view("fresh"),
        "ran-before": view("ran-before", last_started=1.0),
        "opted-out": view("opted-out", spec=SimpleNamespace(discover_on_register=False)),
    })
    runtime = SimpleNamespace(connection=lambda *a, **k: asyncio.sleep(0))  # nothing to list offerings from
    discovery = McpDiscovery(bus, None, runtime, providers, None, "me")  # type: ignore[arg-type]
    await discovery.start(scan=False)  # a replica that is not the leader
    await discovery.settled(5)
    assert bus.started == []
    await discovery.scan()  # the leader's duty
    await discovery.settled(5)
    assert bus.started == ["fresh"]
    await discovery.close()
