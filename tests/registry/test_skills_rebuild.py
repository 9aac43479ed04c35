"""The skills read model rebuilt from position 0 equals the live one, and a compacted skill
stream is seeded from its snapshot."""

from __future__ import annotations

from pathlib import Path

from hangar.app.bus import CommandContext
from hangar.app.maintenance import CompactStream
from hangar.app.projector import Projector
from hangar.app.services import Services
from hangar.app.skills import DeleteSkillVersion, MirrorSkills, PublishSkill, SkillsProjection
from hangar.config.schema import EventStoreConfig, HangarConfig
from hangar.domain.skills import parse_skill
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate

CTX = CommandContext(principal="tester")


def skill(name: str, version: str, **extra: object):  # type: ignore[no-untyped-def]
    return parse_skill({"namespace": "io.github.t", "name": name, "description": "d", "version": version, **extra})


async def test_rebuild_and_compaction(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    config = HangarConfig(event_store=EventStoreConfig(snapshot_every=5))
    services = Services(create_event_store(url), RuntimeConnector(use_reaper=False), config)
    await services.start()
    try:
        bus = services.bus
        for i in range(7):
            await bus.execute(PublishSkill(registry="default", skill=skill("many", f"1.{i}.0")), CTX)
        await bus.execute(DeleteSkillVersion(registry="default", namespace="io.github.t", name="many",
                                             version="1.3.0"), CTX)
        await bus.execute(PublishSkill(registry="default", skill=skill("other", "0.1.0", status="archived")), CTX)
        await bus.execute(MirrorSkills(registry="up", source="x", skills=[skill("m", "1.0.0")]), CTX)
        rebuilt = SkillsProjection()
        projector = Projector(services.store, [rebuilt])
        for rec in await services.store.read_all(0, limit=100_000):
            projector.apply(rec)
        assert rebuilt.dump() == services.skills_view.dump()
        assert rebuilt.keys == services.skills_view.keys
        assert await bus.execute(CompactStream("skill:default/io.github.t/many"), CTX) == 5
        live = services.skills_view.dump()
    finally:
        await services.close()
    again = Services(create_event_store(url), RuntimeConnector(use_reaper=False), config)
    await again.start()
    try:
        assert again.skills_view.dump() == live
        assert again.skills_view.latest("default", "io.github.t", "many").version == "1.6.0"  # type: ignore[union-attr]
    finally:
        await again.close()
