"""``EventStore`` over SQLAlchemy Core: SQLite (aiosqlite, WAL) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from itertools import starmap
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hangar.app.log.ports import EventQuery, StreamInfo
from hangar.app.ports import NewEvent, RecordedEvent, Snapshot
from hangar.domain.errors import ConcurrencyError, NoSnapshotError

from . import log_reads
from .driver import CompiledSql, Driver
from .engine import BEGIN_OPTION, Backend, create_engine, pg_schema
from .errors import StoreClosedError
from .schema import EVENT_COLUMNS, events, read_model_checkpoints, snapshots
from .sql import Statements, heads_from_rows
from .subscription import LiveTail, Notifier, subscription
from .writer import GroupCommitWriter, Rider

log = logging.getLogger(__name__)


class SqlEventStore:
    """The event store. Create with ``create_event_store``; ``await start()`` before use."""

    def __init__(
        self,
        url: str,
        *,
        batch_max: int = 500,
        sqlite_synchronous: str = "FULL",
        poll_interval_s: float = 0.5,
        tail_capacity: int = 10_000,
        subscribe_page_size: int = 5_000,
        pool_size: int = 10,
    ) -> None:
        self._url = url
        self._batch_max = batch_max
        self._sqlite_synchronous = sqlite_synchronous
        self._poll_interval_s = poll_interval_s
        self._page_size = subscribe_page_size
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._backend = Backend(is_sqlite=True)
        self._sql: Statements | None = None
        self._writer: GroupCommitWriter | None = None
        self._tail = LiveTail(tail_capacity)
        self._notifier = Notifier()
        self._closed = False
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._before_commit: Callable[[], Awaitable[None]] | None = None
        self._listener: asyncio.Task[None] | None = None
        self._log_sql: dict[tuple[Any, ...], CompiledSql] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._engine is not None:
            return
        if self._closed:
            raise StoreClosedError("a closed event store cannot be restarted")
        engine, backend = create_engine(
            self._url, sqlite_synchronous=self._sqlite_synchronous, pool_size=self._pool_size
        )
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.select(sa.func.max(events.c.position)))
        except BaseException as exc:
            await engine.dispose()
            if isinstance(exc, DBAPIError) and not exc.connection_invalidated:
                raise RuntimeError(
                    "event store tables are missing or unreadable; run hangar.store.migrate() first"
                ) from exc
            raise
        self._engine, self._backend = engine, backend
        self._sql = Statements(engine.dialect)
        self._writer = GroupCommitWriter(
            engine, backend, self._sql, batch_max=self._batch_max, on_commit=self._on_commit
        )
        self._writer.before_commit = self._before_commit
        self._writer.start()
        if not backend.is_sqlite:
            self._listener = asyncio.create_task(self._listen_for_commits(), name="hangar-event-listener")

    async def close(self) -> None:
        if self._closed:
            return
        if self._writer is not None:
            await self._writer.close()  # pending appends are written or failed, never dropped
        self._closed = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(BaseException):
                await self._listener
        self._notifier.notify()  # subscribers see _closed and end
        await self._idle.wait()  # a connection returned to a disposed pool would leak
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def transactions(self) -> int:
        """Append transactions committed so far (a group-committed batch counts once)."""
        return self._writer.transactions if self._writer else 0

    @property
    def before_commit(self) -> Callable[[], Awaitable[None]] | None:
        """Test seam: awaited inside each append transaction just before its COMMIT."""
        return self._before_commit

    @before_commit.setter
    def before_commit(self, hook: Callable[[], Awaitable[None]] | None) -> None:
        self._before_commit = hook
        if self._writer is not None:
            self._writer.before_commit = hook

    def _on_commit(self, batch: list[RecordedEvent]) -> None:
        self._tail.extend(batch)
        self._notifier.notify()

    def _on_external_commit(self, position: int) -> None:
        self._tail.note_external(position)
        self._notifier.notify()

    async def _listen_for_commits(self) -> None:
        """PostgreSQL: wake subscribers when any replica commits (see migration 0012's trigger).

        Without it a replica would still see other replicas' events, but only at its next quiet
        poll; with it they arrive within a round trip. A lost connection is re-established;
        the poll covers the gap meanwhile.
        """
        assert self._engine is not None
        channel = f"hangar_events_{pg_schema(self._url)}"

        def on_notify(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            with contextlib.suppress(ValueError):
                self._on_external_commit(int(payload))

        while not self._closed:
            try:
                async with self._engine.connect() as conn:
                    raw: Any = (await conn.get_raw_connection()).driver_connection
                    lost = asyncio.Event()
                    raw.add_termination_listener(lambda _conn, lost=lost: lost.set())
                    await raw.add_listener(channel, on_notify)
                    try:
                        await lost.wait()  # until the connection dies (or close() cancels us)
                    finally:
                        with contextlib.suppress(Exception):
                            await raw.remove_listener(channel, on_notify)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("listening for commits failed; retrying", exc_info=True)
                await asyncio.sleep(1.0)

    @asynccontextmanager
    async def _connect(self, begin: str = "DEFERRED") -> AsyncIterator[AsyncConnection]:
        if self._closed or self._engine is None:
            raise StoreClosedError("event store is closed" if self._closed else "event store not started")
        self._in_flight += 1
        self._idle.clear()
        try:
            async with self._engine.connect() as conn:
                if begin != "DEFERRED" and self._backend.is_sqlite:
                    await conn.execution_options(**{BEGIN_OPTION: begin})
                yield conn
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._idle.set()

    async def _fetch(self, name: str, values: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """One read statement straight on the driver (autocommit, no BEGIN/ROLLBACK trips)."""
        assert self._sql is not None
        compiled = getattr(self._sql, name)
        async with self._connect() as conn:
            db = await Driver.open(conn, self._backend.is_sqlite)
            return await db.fetch(compiled.sql, compiled.args(values))

    # -- writes --------------------------------------------------------------------------------

    async def append(
        self, stream_id: str, expected_version: int | None, events: Sequence[NewEvent], *, rider: Rider | None = None
    ) -> tuple[int, int]:
        if self._writer is None:
            raise StoreClosedError("event store not started")
        batch = tuple(events)
        if not batch:
            version = await self.stream_version(stream_id)
            if expected_version is not None and expected_version != version:
                raise ConcurrencyError(stream_id, expected_version, version)
            return version, await self.last_position()
        if rider is not None and rider[0] == stream_id:
            raise ValueError("a rider must go to another stream")
        return await self._writer.submit(stream_id, expected_version, batch, rider)

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        dialect_insert: Any = sqlite.insert if self._backend.is_sqlite else postgresql.insert
        stmt = dialect_insert(snapshots).values(
            stream_id=snapshot.stream_id, version=snapshot.version, state=snapshot.state
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[snapshots.c.stream_id],
            set_={"version": stmt.excluded.version, "state": stmt.excluded.state},
            # An older snapshot arriving late must not replace a newer one.
            where=stmt.excluded.version > snapshots.c.version,
        )
        async with self._connect("IMMEDIATE") as conn:
            await conn.execute(stmt)
            await conn.commit()

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        rows = await self._fetch("load_snapshot", {"stream": stream_id})
        return Snapshot(rows[0][0], int(rows[0][1]), bytes(rows[0][2])) if rows else None

    async def compact(self, stream_id: str) -> int:
        async with self._connect("IMMEDIATE") as conn:
            version = await conn.scalar(sa.select(snapshots.c.version).where(snapshots.c.stream_id == stream_id))
            if version is None:
                raise NoSnapshotError(stream_id)
            result = await conn.execute(
                sa.delete(events).where(events.c.stream_id == stream_id, events.c.stream_version <= version)
            )
            await conn.commit()
        return int(result.rowcount)

    # -- reads ---------------------------------------------------------------------------------

    async def read_stream(self, stream_id: str, from_version: int = 0, limit: int | None = None) -> list[RecordedEvent]:
        values = {"stream": stream_id, "after": from_version, "limit": limit}
        rows = await self._fetch("read_stream" if limit is None else "read_stream_limit", values)
        return list(starmap(RecordedEvent, rows))

    async def count_stream(self, stream_id: str, from_version: int = 0) -> int:
        rows = await self._fetch("count_stream", {"stream": stream_id, "after": from_version})
        return int(rows[0][0])

    async def stream_version(self, stream_id: str) -> int:
        rows = await self._fetch("stream_head", {"stream": stream_id})
        return heads_from_rows([stream_id], rows)[stream_id]

    async def read_all(self, from_position: int = 0, limit: int = 1000) -> list[RecordedEvent]:
        # Rows go straight into the struct: this is the replay hot path.
        rows = await self._fetch("read_all", {"after": from_position, "limit": limit})
        return list(starmap(RecordedEvent, rows))

    async def last_position(self) -> int:
        rows = await self._fetch("last_position", {})
        return int(rows[0][0] or 0)

    def subscribe(self, from_position: int = 0) -> AsyncIterator[RecordedEvent]:
        return subscription(
            from_position,
            tail=self._tail,
            notifier=self._notifier,
            read_all=self.read_all,
            is_closed=lambda: self._closed,
            page_size=self._page_size,
            poll_interval_s=self._poll_interval_s,
        )

    # -- reading the log as a product (events API, time travel) ---------------------------------

    async def _fetch_stmt(self, stmt: sa.Select[Any]) -> Sequence[Sequence[Any]]:
        """A one-off statement, its values inlined as parameters, run on the raw driver."""
        compiled = CompiledSql(stmt, self._engine_dialect(), expand=True)
        async with self._connect() as conn:
            db = await Driver.open(conn, self._backend.is_sqlite)
            return await db.fetch(compiled.sql, compiled.args())

    def _engine_dialect(self) -> Any:
        if self._engine is None:
            raise StoreClosedError("event store not started")
        return self._engine.dialect

    async def read_events(self, query: EventQuery) -> list[RecordedEvent]:
        return list(starmap(RecordedEvent, await self._read_events(query, EVENT_COLUMNS)))

    async def read_frame_rows(self, query: EventQuery) -> Sequence[Sequence[Any]]:
        return await self._read_events(query, log_reads.FRAME_COLUMNS)

    async def _read_events(self, query: EventQuery, columns: tuple[Any, ...]) -> Sequence[Sequence[Any]]:
        # Compiling a statement costs about as much as framing 100 events: once per query shape.
        shape = log_reads.events_shape(query)
        key = (shape, columns is log_reads.FRAME_COLUMNS)
        compiled = self._log_sql.get(key)
        if compiled is None:
            if len(self._log_sql) >= 256:  # shapes are few, but any count of event types is one
                self._log_sql.clear()
            compiled = self._log_sql[key] = CompiledSql(log_reads.events_select(shape, columns), self._engine_dialect())
        async with self._connect() as conn:
            db = await Driver.open(conn, self._backend.is_sqlite)
            return await db.fetch(compiled.sql, compiled.args(log_reads.events_values(query, query.limit)))

    async def stream_info(self, stream_id: str) -> StreamInfo:
        (version, count, first, last, snap), = await self._fetch_stmt(log_reads.stream_info_select(stream_id))
        head = max(int(version or 0), int(snap or 0))
        return StreamInfo(stream_id, head, int(count), None if snap is None else int(snap),
                          None if first is None else int(first), None if last is None else int(last))

    async def position_at(self, moment: float) -> int:
        rows = await self._fetch_stmt(log_reads.position_at_select(moment))
        return int(rows[0][0] or 0)

    async def checkpoint_positions(self, fmt: str) -> list[int]:
        return [int(r[0]) for r in await self._fetch_stmt(log_reads.checkpoint_positions_select(fmt))]

    async def load_checkpoint(self, position: int, fmt: str) -> bytes | None:
        rows = await self._fetch_stmt(log_reads.checkpoint_select(position, fmt))
        return bytes(rows[0][0]) if rows else None

    async def save_checkpoint(self, position: int, fmt: str, recorded_at: float, state: bytes) -> None:
        dialect_insert: Any = sqlite.insert if self._backend.is_sqlite else postgresql.insert
        # One checkpoint per position. Replicas writing the same one keep the first copy; a copy
        # in an older format (written before an upgrade changed the read models) is replaced, or
        # the position would stay listed for the new format with nothing loadable behind it.
        ins = dialect_insert(read_model_checkpoints).values(
            position=position, format=fmt, recorded_at=recorded_at, state=state
        )
        stmt = ins.on_conflict_do_update(
            index_elements=[read_model_checkpoints.c.position],
            set_={"format": ins.excluded.format, "recorded_at": ins.excluded.recorded_at, "state": ins.excluded.state},
            where=read_model_checkpoints.c.format != ins.excluded.format,
        )
        async with self._connect("IMMEDIATE") as conn:
            await conn.execute(stmt)
            await conn.commit()
