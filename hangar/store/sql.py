"""Statements of the hot paths, rendered once per dialect (see ``driver.py`` for why)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from .driver import CompiledSql
from .engine import PG_APPEND_LOCK_KEY
from .schema import EVENT_COLUMNS, events, snapshots

INSERT_COLUMNS = "stream_id, stream_version, event_id, event_type, data, metadata, recorded_at"
# Rows per INSERT: 7 parameters each stays below SQLite's 32766-variable limit.
INSERT_CHUNK = 2_000
SQLITE_SEQUENCE = "SELECT seq FROM sqlite_sequence WHERE name = 'events'"

# First statement of a PostgreSQL append transaction. The transaction-scoped advisory lock
# serialises appends from every process: a position is only assigned once the previous
# appender has committed (the lock is released after the commit is visible), so commit order
# equals position order and a reader can never skip an event that commits late. It also
# returns the highest position handed out, which tells whether cached heads are still exact.
# The volatile subquery is evaluated first, so the sequence is read under the lock.
PG_LOCK_AND_SEQUENCE = (
    "SELECT pg_sequence_last_value(pg_get_serial_sequence('events', 'position')::regclass) "
    f"FROM (SELECT pg_advisory_xact_lock({PG_APPEND_LOCK_KEY})) AS hangar_lock"
)

# PostgreSQL: one prepared statement for any batch size, the columns shipped as arrays.
PG_INSERT = (
    f"INSERT INTO events ({INSERT_COLUMNS}) "
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bytea[], "
    "$6::bytea[], $7::float8[]) RETURNING position, stream_id, stream_version"
)


@lru_cache(maxsize=512)
def sqlite_insert(rows: int, *, guarded: bool) -> str:
    """Multi-row INSERT ... RETURNING for SQLite.

    ``guarded`` adds a last parameter, the highest position this writer knows of: the insert
    then only happens if nobody else has inserted since. That lets one autocommitted statement
    (one thread hop, one fsync) stand in for BEGIN / check / INSERT / COMMIT while the head
    versions cached from our own commits are provably still exact.
    """
    values = ",".join(["(?,?,?,?,?,?,?)"] * rows)
    if not guarded:
        return f"INSERT INTO events ({INSERT_COLUMNS}) VALUES {values} RETURNING position, stream_id, stream_version"
    return (
        f"INSERT INTO events ({INSERT_COLUMNS}) SELECT * FROM (VALUES {values}) "
        f"WHERE coalesce(({SQLITE_SEQUENCE}), 0) = ? RETURNING position, stream_id, stream_version"
    )


def _head_select(stream: Any) -> sa.CompoundSelect[Any]:
    return sa.union_all(
        sa.select(events.c.stream_id, sa.func.max(events.c.stream_version))
        .where(events.c.stream_id.in_(stream) if isinstance(stream, list) else events.c.stream_id == stream)
        .group_by(events.c.stream_id),
        sa.select(snapshots.c.stream_id, snapshots.c.version).where(
            snapshots.c.stream_id.in_(stream) if isinstance(stream, list) else snapshots.c.stream_id == stream
        ),
    )


class Statements:
    """Compiled statements for one dialect. Head version of a stream = its newest stored event,
    or its snapshot when compaction removed every event (never derived from a count)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.read_all = CompiledSql(
            sa.select(*EVENT_COLUMNS)
            .where(events.c.position > sa.bindparam("after"))
            .order_by(events.c.position)
            .limit(sa.bindparam("limit")),
            dialect,
        )
        read_stream = (
            sa.select(*EVENT_COLUMNS)
            .where(events.c.stream_id == sa.bindparam("stream"), events.c.stream_version > sa.bindparam("after"))
            .order_by(events.c.stream_version)
        )
        self.read_stream = CompiledSql(read_stream, dialect)
        self.read_stream_limit = CompiledSql(read_stream.limit(sa.bindparam("limit")), dialect)
        self.stream_head = CompiledSql(_head_select(sa.bindparam("stream")), dialect)
        self.count_stream = CompiledSql(
            sa.select(sa.func.count()).where(
                events.c.stream_id == sa.bindparam("stream"), events.c.stream_version > sa.bindparam("after")
            ),
            dialect,
        )
        self.last_position = CompiledSql(sa.select(sa.func.max(events.c.position)), dialect)
        self.load_snapshot = CompiledSql(
            sa.select(snapshots.c.stream_id, snapshots.c.version, snapshots.c.state).where(
                snapshots.c.stream_id == sa.bindparam("stream")
            ),
            dialect,
        )
        self._heads: dict[int, CompiledSql] = {}

    def stream_heads(self, count: int) -> CompiledSql:
        """Heads of ``count`` streams, bound as s0..s{count-1}; cached per count."""
        compiled = self._heads.get(count)
        if compiled is None:
            if len(self._heads) > 256:
                self._heads.clear()
            params: list[sa.BindParameter[Any]] = [sa.bindparam(f"s{i}") for i in range(count)]
            compiled = self._heads[count] = CompiledSql(_head_select(params), self.dialect)
        return compiled

    def retry_check(self, stream_id: str, event_ids: Sequence[str]) -> CompiledSql:
        """(how many of ``event_ids`` the stream holds, the stream's last position)."""
        in_stream = events.c.stream_id == stream_id
        stmt = sa.select(
            sa.select(sa.func.count()).where(in_stream, events.c.event_id.in_(list(event_ids))).scalar_subquery(),
            sa.select(sa.func.max(events.c.position)).where(in_stream).scalar_subquery(),
        )
        return CompiledSql(stmt, self.dialect, expand=True)


def heads_from_rows(stream_ids: Sequence[str], rows: Sequence[Sequence[Any]]) -> dict[str, int]:
    heads = dict.fromkeys(stream_ids, 0)
    for stream_id, version in rows:
        if version is not None and version > heads[stream_id]:
            heads[stream_id] = int(version)
    return heads
