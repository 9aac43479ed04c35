"""Event store: SQLAlchemy Core over SQLite (embedded default) or PostgreSQL (scale-out)."""

from __future__ import annotations

from .errors import DuplicateEventError, StoreClosedError
from .migrate import downgrade, migrate
from .sqlalchemy_store import SqlEventStore


def create_event_store(
    url: str,
    *,
    batch_max: int = 500,
    sqlite_synchronous: str = "FULL",
    poll_interval_s: float = 0.5,
) -> SqlEventStore:
    """An unstarted store for ``url`` (``sqlite+aiosqlite:///path`` or
    ``postgresql+asyncpg://...``, optionally ``?schema=NAME``); ``await store.start()``."""
    return SqlEventStore(
        url,
        batch_max=batch_max,
        sqlite_synchronous=sqlite_synchronous,
        poll_interval_s=poll_interval_s,
    )


__all__ = [
    "DuplicateEventError",
    "SqlEventStore",
    "StoreClosedError",
    "create_event_store",
    "downgrade",
    "migrate",
]
