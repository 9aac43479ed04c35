"""The groups read model rebuilt from position 0 equals the live one, and the deletion reaction
leaves an event in the group's stream (real store file, in-process services)."""

from __future__ import annotations

from pathlib import Path

from hangar.app import codec
from hangar.app.bus import CommandContext
from hangar.app.group_invoke import RebalanceGroup
from hangar.app.groups import AddGroupMember, CreateGroup, DeleteGroup, RemoveGroupMember, UpdateGroup
from hangar.app.projections.groups import GroupsProjection
from hangar.app.projector import Projector
from hangar.app.providers import DeregisterProvider, RegisterProvider
from hangar.bootstrap import Services
from hangar.config.schema import HangarConfig
from hangar.domain import group_events as ge
from hangar.domain.group_events import GroupMember, GroupSpec
from hangar.domain.provider_spec import ProviderSpec, ToolSpec
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate

CTX = CommandContext(principal="tester")


async def test_rebuild_from_zero_matches_live_and_deletion_is_an_event(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    services = Services(create_event_store(url), RuntimeConnector(), HangarConfig())
    await services.start()
    try:
        bus = services.bus
        for i in range(4):
            spec = ProviderSpec(mode="remote", endpoint=f"http://127.0.0.1:9/{i}", tools=[ToolSpec(name="t")])
            await bus.execute(RegisterProvider(provider_id=f"p{i}", spec=spec), CTX)
        for g in ("a", "b", "c"):
            await bus.execute(CreateGroup(group_id=g, spec=GroupSpec(min_healthy=2)), CTX)
            for i in range(3):
                await bus.execute(AddGroupMember(group_id=g, member=GroupMember(provider_id=f"p{i}", weight=i + 1)),
                                  CTX)
        await bus.execute(UpdateGroup(group_id="a", changes={"strategy": "priority", "description": "x"}), CTX)
        await bus.execute(AddGroupMember(group_id="a", member=GroupMember(provider_id="p0", weight=9), upsert=True),
                          CTX)
        await bus.execute(RemoveGroupMember(group_id="b", provider_id="p2"), CTX)
        await bus.execute(RebalanceGroup(group_id="b"), CTX)
        await bus.execute(DeleteGroup(group_id="c"), CTX)
        await bus.execute(DeregisterProvider(provider_id="p1"), CTX)
        await services.group_module.reactions.idle()

        live = services.groups
        assert [m.provider_id for m in live.views["a"].members] == ["p0", "p2"]
        assert live.views["a"].members[0].weight == 9 and "c" not in live.views
        assert live.groups_of("p1") == set() and live.groups_of("p0") == {"a", "b"}

        removed = [codec.decode(r) for r in await services.store.read_stream("group:a")]
        gone = [e for e in removed if isinstance(e, ge.GroupMemberRemoved)]
        assert [(e.provider_id, e.reason) for e in gone] == [("p1", "provider_deleted")]

        rebuilt = GroupsProjection()
        projector = Projector(services.store, [rebuilt])
        for rec in await services.store.read_all(0, limit=100_000):
            projector.apply(rec)
        assert rebuilt.dump() == live.dump()
    finally:
        await services.close()
