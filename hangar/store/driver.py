"""Hot-path execution: Core statements compiled once, run on the raw driver connection.

SQLAlchemy's async adapters cost several thread hops (aiosqlite) and a few hundred
microseconds of Python per statement. On the append path that tripled the time of a batch
(measured ~6 ms vs ~1.8 ms for 64 events on SQLite FULL) and on replay it dominated
(~4x slower than the driver's own fetch). So the writer and the bulk reads compile their Core
statements to SQL once per dialect and hand them to the DBAPI driver (aiosqlite or asyncpg)
underneath a pooled SQLAlchemy connection. Everything else stays ordinary SQLAlchemy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from asyncpg.exceptions import IntegrityConstraintViolationError as _PgIntegrityError
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

Rows = Sequence[Sequence[Any]]


class CompiledSql:
    """A Core statement rendered for one dialect, with its positional parameter order."""

    __slots__ = ("defaults", "names", "sql")

    def __init__(self, stmt: sa.ClauseElement, dialect: Dialect, *, expand: bool = False) -> None:
        # ``expand`` renders IN-lists for the values bound in ``stmt`` (one-off statements).
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True} if expand else {})
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(getattr(compiled, "positiontup", None) or ())
        self.defaults: dict[str, Any] = dict(compiled.params)

    def args(self, values: Mapping[str, Any] | None = None) -> list[Any]:
        if not values:
            return [self.defaults[name] for name in self.names]
        return [values[name] if name in values else self.defaults[name] for name in self.names]


def is_integrity_error(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError | _PgIntegrityError | sa.exc.IntegrityError)


class Driver:
    """The raw DBAPI driver connection beneath a checked-out SQLAlchemy connection.

    Transactions are driven by explicit BEGIN/COMMIT/ROLLBACK on the driver, so the
    SQLAlchemy connection above never believes one is open; whoever begins one ends it.
    """

    def __init__(self, conn: AsyncConnection, raw: Any, is_sqlite: bool) -> None:
        self.conn = conn
        self._raw = raw
        self._is_sqlite = is_sqlite

    @classmethod
    async def open(cls, conn: AsyncConnection, is_sqlite: bool) -> Driver:
        proxied = await conn.get_raw_connection()
        return cls(conn, proxied.driver_connection, is_sqlite)

    async def fetch(self, sql: str, args: Sequence[Any]) -> Rows:
        if self._is_sqlite:
            rows: Rows = await self._raw.execute_fetchall(sql, args)
            return rows
        # Plain tuples: splatting an asyncpg Record into a struct costs ~1.6x more per row.
        return list(map(tuple, await self._raw.fetch(sql, *args)))

    async def begin_write(self) -> None:
        # IMMEDIATE takes SQLite's write lock now rather than at the first INSERT, so
        # concurrent writers wait on busy_timeout instead of failing with SQLITE_BUSY.
        if self._is_sqlite:
            await self._raw.execute_fetchall("BEGIN IMMEDIATE")
        else:
            await self._raw.execute("BEGIN")

    async def commit(self) -> None:
        if self._is_sqlite:
            await self._raw.commit()
        else:
            await self._raw.execute("COMMIT")

    async def rollback(self) -> None:
        if self._is_sqlite:
            await self._raw.rollback()
        else:
            await self._raw.execute("ROLLBACK")
