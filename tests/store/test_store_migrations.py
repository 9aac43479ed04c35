"""Schema management: Alembic only, idempotent, serialised between concurrent migrators."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hangar.store import create_event_store, downgrade, migrate
from hangar.store.engine import create_engine
from hangar.store.migrate import MIGRATIONS_DIR


async def _tables(url: str) -> set[str]:
    engine, _ = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
    finally:
        await engine.dispose()


def test_migrations_live_at_repo_top_level() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert not (MIGRATIONS_DIR.parent / "alembic.ini").exists()


async def test_migrate_is_idempotent(unmigrated_url: str) -> None:
    await migrate(unmigrated_url)
    await migrate(unmigrated_url)
    assert {"events", "snapshots", "alembic_version"} <= await _tables(unmigrated_url)


async def test_concurrent_migrations_serialise(unmigrated_url: str) -> None:
    await asyncio.gather(*(migrate(unmigrated_url) for _ in range(3)))
    assert {"events", "snapshots"} <= await _tables(unmigrated_url)


async def test_start_without_schema_fails_clearly(unmigrated_url: str) -> None:
    store = create_event_store(unmigrated_url)
    with pytest.raises(RuntimeError, match="migrate"):
        await store.start()
    await store.close()


async def test_downgrade_and_upgrade_again(unmigrated_url: str) -> None:
    db_url = unmigrated_url
    await migrate(db_url)
    await downgrade(db_url)
    assert not {"events", "snapshots"} & await _tables(db_url)
    await migrate(db_url)
    store = create_event_store(db_url)
    await store.start()
    try:
        assert await store.last_position() == 0
    finally:
        await store.close()
