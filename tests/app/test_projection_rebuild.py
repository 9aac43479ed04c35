"""Read models rebuilt from position 0 equal the live ones (real store file, real providers)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from hangar.app.bus import CommandContext
from hangar.app.invoke import InvokeTool
from hangar.app.lifecycle import StartProvider, StopProvider
from hangar.app.projections.providers import ProvidersProjection
from hangar.app.projector import Projector
from hangar.app.providers import DeregisterProvider, RegisterProvider, UpdateProvider
from hangar.bootstrap import Services
from hangar.config.schema import HangarConfig, McpConfig
from hangar.domain.provider_spec import ProviderSpec, ToolSpec
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate
from tests.support import STDIO_FIXTURE

CTX = CommandContext(principal="tester")


async def test_rebuild_from_zero_matches_live(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    # Started only when told to: a background discovery start would append while we compare.
    config = HangarConfig(mcp=McpConfig(discover_on_register=False))
    services = Services(create_event_store(url), RuntimeConnector(), config)
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

        # A runtime fact may still land after the last command (the provider's exit is reported
        # by the supervisor): compare at a moment the log and the live models agree on.
        for _ in range(50):
            last = await services.store.last_position()
            await services.projector.wait_for(last)
            records = await services.store.read_all(0, limit=100_000)
            if records[-1].position == services.projector.position == await services.store.last_position():
                break
            await asyncio.sleep(0.1)
        rebuilt = ProvidersProjection()
        projector = Projector(services.store, [rebuilt])
        for rec in records:
            projector.apply(rec)
        assert projector.position == services.projector.position
        assert rebuilt.dump() == services.providers.dump()
        assert rebuilt.list_json(None) == services.providers.list_json(None)
        assert rebuilt.total_tool_calls == 5
    finally:
        await services.close()


async def test_compacted_provider_survives_a_restart(tmp_path: Path) -> None:
    """Compaction deletes the registration event; the read model still knows the provider
    after a restart because compacted streams are seeded from their snapshot."""
    from hangar.app.maintenance import CompactStream

    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    # Nothing may start: the provider's state must stay what the log says across the restart.
    config = HangarConfig(mcp=McpConfig(discover_on_register=False))
    services = Services(create_event_store(url), RuntimeConnector(use_reaper=False), config)
    await services.start()
    spec = ProviderSpec(mode="remote", endpoint="http://127.0.0.1:9/mcp")
    try:
        await services.bus.execute(RegisterProvider(provider_id="keep", spec=spec), CTX)
        for i in range(130):  # crosses the snapshot at version 100
            await services.bus.execute(UpdateProvider(provider_id="keep", changes={"description": f"d{i}"}), CTX)
        deleted = await services.bus.execute(CompactStream("provider:keep"), CTX)
        assert deleted == 100
        live = services.providers.get("keep")
        assert live is not None
        live_row = services.providers.list_json(None)
        live_version = live.version
    finally:
        await services.close()

    again = Services(create_event_store(url), RuntimeConnector(use_reaper=False), config)
    await again.start()
    try:
        view = again.providers.get("keep")
        assert view is not None and view.spec.description == "d129" and view.version == live_version
        assert again.providers.list_json(None) == live_row
        # The aggregate still accepts changes at the right version after the restart.
        await again.bus.execute(UpdateProvider(provider_id="keep", changes={"description": "after"}), CTX)
        assert again.providers.get("keep").spec.description == "after"  # type: ignore[union-attr]
    finally:
        await again.close()
