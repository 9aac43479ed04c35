"""Auth read models: a rebuild from position 0 equals the live model, and compacted auth streams
come back from their snapshots after a restart (real SQLite store, the real Services graph)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from hangar.app.auth import commands as ac
from hangar.app.auth.audit import AuditLog, SecurityLog
from hangar.app.auth.projection import AuthProjection
from hangar.app.bus import CommandContext
from hangar.app.maintenance import CompactStream
from hangar.app.projector import Projector
from hangar.bootstrap import Services
from hangar.config.schema import AuthConfig, EventStoreConfig, HangarConfig
from hangar.domain import auth_events as ae
from hangar.domain.auth import key_digest
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate

CTX = CommandContext(principal="tester")


def config() -> HangarConfig:
    # Snapshot every event, so every auth stream can be compacted.
    return HangarConfig(event_store=EventStoreConfig(snapshot_every=1), auth=AuthConfig(enabled=True))


async def populate(services: Services) -> str:
    bus = services.bus
    created = await bus.execute(ac.CreateApiKey(principal_id="pat", name="k"), CTX)
    doomed = await bus.execute(ac.CreateApiKey(principal_id="pat", name="old"), CTX)
    await bus.execute(ac.RevokeApiKey(key_id=doomed.key_id, reason="rotated"), CTX)
    await bus.execute(ac.CreateRole(role_id="ops", permissions=["providers:*"]), CTX)
    await bus.execute(ac.UpdateRole(role_id="ops", description="Ops"), CTX)
    await bus.execute(ac.CreateRole(role_id="gone", permissions=["system:read"]), CTX)
    await bus.execute(ac.AssignRole(principal_id="pat", role_id="ops"), CTX)
    await bus.execute(ac.AssignRole(principal_id="pat", role_id="gone"), CTX)
    await bus.execute(ac.DeleteRole(role_id="gone"), CTX)
    await bus.execute(ac.SetToolPolicy(provider_id="math", tool_name="add", principal_id="pat", effect="deny"), CTX)
    await bus.execute(ac.SetToolPolicy(provider_id="math", tool_name="*", principal_id="*", effect="allow"), CTX)
    await bus.execute(ac.ClearToolPolicy(provider_id="math", tool_name="*"), CTX)
    await services.auth.record(ae.AuthenticationFailed(client="10.0.0.1", reason="invalid", path="/api/system"))
    return str(created.raw_key)


async def test_rebuild_from_zero_matches_live(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    services = Services(create_event_store(url), RuntimeConnector(), config())
    await services.start()
    try:
        await populate(services)
        await services.projector.wait_for(await services.store.last_position())
        rebuilt, audit, security = AuthProjection(), AuditLog(10_000), SecurityLog(10_000)
        projector = Projector(services.store, [rebuilt, audit, security])
        for rec in await services.store.read_all(0, limit=100_000):
            projector.apply(rec)
        live = services.auth
        assert rebuilt.dump() == live.view.dump()
        assert audit.dump() == live.audit_log.dump() and len(audit.records) >= 12
        assert security.dump() == live.security_log.dump()
        assert rebuilt.assignments["pat"] == ["ops"] and "gone" not in rebuilt.custom_roles
        assert rebuilt.policies == {("math", "add"): {"pat": "deny"}}
    finally:
        await services.close()


async def test_compacted_auth_streams_survive_a_restart(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    services = Services(create_event_store(url), RuntimeConnector(), config())
    await services.start()
    try:
        raw = await populate(services)
        before = services.auth.view.dump()
        streams = sorted({r.stream_id for r in await services.store.read_all(0, limit=100_000)
                          if r.stream_id.startswith("auth:") and r.stream_id != "auth:security"})
        assert any(s.startswith("auth:key:") for s in streams)
        deleted = 0
        for sid in streams:
            deleted += await services.bus.execute(CompactStream(sid), CTX)
        assert deleted >= len(streams)
    finally:
        await services.close()

    again = Services(create_event_store(url), RuntimeConnector(), config())
    await again.start()
    try:
        view = again.auth.view
        assert msgspec.json.encode(view.dump()) == msgspec.json.encode(before)
        key = view.key_for_digest(key_digest(raw))
        assert key is not None and key.principal_id == "pat" and key.status(0.0) == "active"
        assert view.may("pat", ("providers", "start")) and not view.may("pat", ("system", "read"))
    finally:
        await again.close()
