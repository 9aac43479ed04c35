"""Apply the Alembic migrations in ``<repo>/migrations`` under a cross-replica lock."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from .engine import BEGIN_OPTION, PG_MIGRATE_LOCK_KEY, create_engine

# hangar/store/migrate.py -> the repository root, which holds ``migrations/``.
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on a %-escaped password.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _upgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def _downgrade(connection: Connection, cfg: Config, revision: str) -> None:
    cfg.attributes["connection"] = connection
    command.downgrade(cfg, revision)


async def migrate(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``; safe to call from several replicas at once."""
    await _run(url, revision, upgrade=True)


async def downgrade(url: str, revision: str = "base") -> None:
    await _run(url, revision, upgrade=False)


async def _run(url: str, revision: str, *, upgrade: bool) -> None:
    if not MIGRATIONS_DIR.is_dir():
        raise RuntimeError(f"migrations directory not found: {MIGRATIONS_DIR}")
    cfg = alembic_config(url)
    step = _upgrade if upgrade else _downgrade
    engine, backend = create_engine(url, pool_size=1)
    try:
        if backend.is_sqlite:
            # The whole migration, including alembic's read of alembic_version, runs in one
            # exclusive transaction (SQLite DDL is transactional): a second process blocks on
            # the file lock (busy_timeout) and then finds the schema already at head.
            locked = engine.execution_options(**{BEGIN_OPTION: "EXCLUSIVE"})
            async with locked.begin() as conn:
                await conn.run_sync(step, cfg, revision)
            return
        async with engine.connect() as conn:
            # Session-level lock, held across the migration's own transaction.
            await conn.execute(sa.text(f"SELECT pg_advisory_lock({PG_MIGRATE_LOCK_KEY})"))
            await conn.commit()
            try:
                await conn.run_sync(step, cfg, revision)
                await conn.commit()
            finally:
                await conn.execute(sa.text(f"SELECT pg_advisory_unlock({PG_MIGRATE_LOCK_KEY})"))
                await conn.commit()
    finally:
        await engine.dispose()
