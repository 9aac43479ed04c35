"""Discovery and catalog read models rebuilt from position 0 equal the live ones, and the
aggregates read back the same from snapshots (in process, real store file, real files)."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import yaml

from hangar.app.bus import CommandContext
from hangar.app.catalog import AddCatalogEntry, DeployCatalogEntry, ImportCatalog, RemoveCatalogEntry
from hangar.app.discovery import ApproveCandidate, RegisterSource, RejectCandidate, ScanSource, discovery_repository
from hangar.app.projections.catalog import CatalogProjection
from hangar.app.projections.discovery import DiscoveryProjection
from hangar.app.projector import Projector
from hangar.bootstrap import Services
from hangar.config.schema import EventStoreConfig, HangarConfig
from hangar.domain.catalog_events import CatalogEntryData, EnvVar
from hangar.formats.catalog import parse_document
from hangar.runtime.connector import RuntimeConnector
from hangar.store import create_event_store, migrate
from tests.catalog.documents import TOOLHIVE_REGISTRY

CTX = CommandContext(principal="tester")


def definition(path: Path, **extra: object) -> None:
    path.write_text(yaml.safe_dump({"mode": "subprocess", "connection": {"command": [sys.executable, "-V"]},
                                    **extra}))


async def test_rebuild_and_snapshots(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hangar.db'}"
    await migrate(url)
    cfg = HangarConfig(event_store=EventStoreConfig(snapshot_every=3))
    services = Services(create_event_store(url), RuntimeConnector(), cfg)
    await services.start()
    try:
        bus = services.bus
        defs = tmp_path / "defs"
        defs.mkdir()
        for name in ("r-one", "r-two", "r-three"):
            definition(defs / f"{name}.yaml")
        (defs / "r-bad.yaml").write_text("mode: [")
        await bus.execute(RegisterSource(source_id="fs", source_type="filesystem", mode="authoritative",
                                         enabled=False, config={"path": str(defs), "require_approval": True}), CTX)
        await bus.execute(ScanSource(source_id="fs"), CTX)
        await bus.execute(ApproveCandidate(name="r-one"), CTX)
        await bus.execute(RejectCandidate(name="r-two", reason="no"), CTX)
        (defs / "r-three.yaml").unlink()
        definition(defs / "r-one.yaml", description="changed")
        await bus.execute(ScanSource(source_id="fs"), CTX)

        added = await bus.execute(AddCatalogEntry(entry=CatalogEntryData(
            name="c-one", description="one", command=[sys.executable, "-V"], tags=["a"],
            env_vars=[EnvVar(name="K", required=True, secret=True)])), CTX)
        await bus.execute(DeployCatalogEntry(entry_id=added, env={"K": "v"}), CTX)
        fmt, entries = parse_document(TOOLHIVE_REGISTRY)
        await bus.execute(ImportCatalog(entries=entries, format=fmt), CTX)
        await bus.execute(RemoveCatalogEntry(entry_id=added), CTX)

        discovery, catalog = DiscoveryProjection(), CatalogProjection()
        projector = Projector(services.store, [discovery, catalog])
        for rec in await services.store.read_all(0, limit=100_000):
            projector.apply(rec)
        assert discovery.dump() == services.discovery_view.dump()
        assert catalog.dump() == services.catalog_view.dump()
        live = services.discovery_view.get("fs")
        assert live is not None and set(live.pending) == {"r-one"} and set(live.rejected) == {"r-two"}
        assert set(live.quarantined) == {"r-bad"} and set(live.owned) == {"r-one"}

        # A fresh repository loads from the latest snapshot plus the tail: the same state.
        fresh = discovery_repository(services.store, services.projector.wait_for)
        loaded = await fresh.load("fs")
        cached = await services.discovery.repo.load("fs")
        assert loaded.version == cached.version
        assert msgspec.json.decode(loaded.snapshot()) == msgspec.json.decode(cached.snapshot())
        assert await services.store.load_snapshot("discovery:fs") is not None
    finally:
        await services.close()
