"""Read models rebuilt from position 0 equal the live ones (real store file, real providers)."""

from __future__ import annotations

import sys
from pathlib import Path

from hangar.app.bus import CommandContext
from hangar.app.invoke import InvokeTool
from hangar.app.lifecycle import StartProvider, StopProvider
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.providers import DeregisterProvider, RegisterProvider, UpdateProvider
from hangar.app.services import Services
from hangar.config.schema import HangarConfig
from hangar.domain.provider_spec import ProviderSpec, ToolSpec
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate
from tests.support import STDIO_FIXTURE

CTX = CommandContext(principal="tester")


async def test_rebuild_from_zero_matches_live(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    services = Services(create_event_store(url), RuntimeConnector(), HangarConfig())
    await services.start()
    try:
        bus = services.bus
        fixture = ProviderSpec(mode="subprocess", command=[sys.executable, str(STDIO_FIXTURE)])
        for i in range(20):
            spec = ProviderSpec(mode="remote", endpoint=f"http://127.0.0.1:9/{i}",
                                tools=[ToolSpec(name="t", description=str(i))])
            await bus.execute(RegisterProvider(provider_id=f"p{i}", spec=spec), CTX)
        for i in range(0, 20, 3):
            await bus.execute(UpdateProvider(provider_id=f"p{i}", changes={"description": f"d{i}"}), CTX)
        for i in range(1, 20, 5):
            await bus.execute(DeregisterProvider(provider_id=f"p{i}"), CTX)
        await bus.execute(RegisterProvider(provider_id="live", spec=fixture), CTX)
        await bus.execute(StartProvider("live"), CTX)
        for n in range(5):
            await bus.execute(InvokeTool(provider_id="live", tool="add", arguments={"a": n, "b": 1}), CTX)
        await bus.execute(StopProvider("live", "done"), CTX)

        rebuilt = ProvidersProjection()
        projector = Projector(services.store, [rebuilt])
        for rec in await services.store.read_all(0, limit=100_000):
            projector.apply(rec)
        assert projector.position == services.projector.position
        assert rebuilt.dump() == services.providers.dump()
        assert rebuilt.list_json(None) == services.providers.list_json(None)
        assert rebuilt.total_tool_calls == 5
    finally:
        await services.close()
