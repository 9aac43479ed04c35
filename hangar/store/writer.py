"""The group-commit writer: the only code path that inserts events.

One task owns a queue of append requests. Each turn it takes whatever is waiting (up to
``batch_max`` requests), validates them in arrival order against the stream heads as they
stand after the earlier requests of the same batch, inserts every accepted event with one
statement and commits once, so N concurrent appenders share one fsync. Callers are answered
only after the COMMIT returned. If the batch as a whole fails (a duplicate event id, a row
written by another replica, an I/O error) each request is retried in a transaction of its
own, so every caller gets its own answer and a bad request cannot sink its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hangar.app.ports import NewEvent, RecordedEvent
from hangar.domain.errors import ConcurrencyError, HangarError

from .driver import Driver, is_integrity_error
from .engine import Backend
from .errors import DuplicateEventError, StoreClosedError
from .sql import (
    INSERT_CHUNK,
    PG_INSERT,
    PG_LOCK_AND_SEQUENCE,
    SQLITE_SEQUENCE,
    Statements,
    heads_from_rows,
    sqlite_insert,
)

log = logging.getLogger(__name__)

# The head cache is a convenience, not a source of truth: dropping it costs one SELECT.
_HEAD_CACHE_MAX = 100_000

Row = tuple[str, int, str, str, bytes, bytes, float]
Answer = tuple[int, int] | HangarError


Rider = tuple[str, tuple[NewEvent, ...]]
"""Events for another stream (no version check) that are written in the same transaction as a
request's own events, and only if those are accepted: a command's audit record."""


class _Append:
    __slots__ = ("events", "expected", "future", "rider", "stream_id")

    def __init__(
        self,
        stream_id: str,
        expected: int | None,
        events: tuple[NewEvent, ...],
        future: asyncio.Future[tuple[int, int]],
        rider: Rider | None = None,
    ) -> None:
        self.stream_id = stream_id
        self.expected = expected
        self.events = events
        self.future = future
        self.rider = rider

    def parts(self, head: int, rider_head: int) -> list[tuple[str, int, tuple[NewEvent, ...]]]:
        """(stream, head before, events) of what this request writes."""
        out = [(self.stream_id, head, self.events)]
        if self.rider is not None:
            out.append((self.rider[0], rider_head, self.rider[1]))
        return out


class _Plan:
    """A batch validated against the head versions: what to insert, whom to turn away."""

    def __init__(self, batch: list[_Append], cached: dict[str, int]) -> None:
        self.heads: dict[str, int] = {}  # heads as this batch moves them
        self.accepted: list[tuple[_Append, int, int]] = []  # (request, head before it, rider's head)
        self.rejected: list[tuple[_Append, int]] = []  # (request, head at its turn)
        self.rows: list[Row] = []
        self.recorded_at = time.time()
        for item in batch:
            head = self._head(item.stream_id, cached)
            if item.expected is not None and item.expected != head:
                self.rejected.append((item, head))
                continue
            self.heads[item.stream_id] = head + len(item.events)
            self.rows.extend(_rows(item.stream_id, head, item.events, self.recorded_at))
            rider_head = 0
            if item.rider is not None:
                rider_stream, rider_events = item.rider
                rider_head = self._head(rider_stream, cached)
                self.heads[rider_stream] = rider_head + len(rider_events)
                self.rows.extend(_rows(rider_stream, rider_head, rider_events, self.recorded_at))
            self.accepted.append((item, head, rider_head))

    def _head(self, stream_id: str, cached: dict[str, int]) -> int:
        head = self.heads.get(stream_id)
        return cached[stream_id] if head is None else head


class GroupCommitWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        backend: Backend,
        statements: Statements,
        *,
        batch_max: int,
        on_commit: Callable[[list[RecordedEvent]], None],
    ) -> None:
        if batch_max < 1:
            raise ValueError("batch_max must be >= 1")
        self._engine = engine
        self._backend = backend
        self._sql = statements
        self._batch_max = batch_max
        self._on_commit = on_commit
        self._begin_sql = SQLITE_SEQUENCE if backend.is_sqlite else PG_LOCK_AND_SEQUENCE
        # A deque plus one wake-up event: cheaper per request than asyncio.Queue, and the
        # writer takes everything waiting in one go anyway.
        self._pending: deque[_Append] = deque()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._db: Driver | None = None
        # Head versions as of our last commit: exact as long as nobody else inserts, which the
        # sequence checks below detect (another process on the SQLite file, another replica).
        self._heads: dict[str, int] = {}
        # Highest position handed out when we last looked; None: unknown, check before trusting.
        self._seen_seq: int | None = None
        self.before_commit: Callable[[], Awaitable[None]] | None = None
        """Test seam: awaited inside the append transaction just before COMMIT."""
        self.transactions = 0
        """Append transactions committed (a batch counts once)."""

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="hangar-event-writer")

    async def close(self) -> None:
        if self._task is None:
            return
        self._closing = True
        self._wakeup.set()
        try:
            await asyncio.shield(self._task)
        finally:
            _fail(list(self._pending), StoreClosedError("event store closed"))
            self._pending.clear()
            await self._drop_connection(broken=False)

    def submit(
        self, stream_id: str, expected: int | None, events: tuple[NewEvent, ...], rider: Rider | None = None
    ) -> asyncio.Future[tuple[int, int]]:
        """Queue an append; the answer is (stream version, highest position written, the
        rider's included)."""
        if self._task is None or self._closing:
            raise StoreClosedError("event store is not running")
        future: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(stream_id, expected, events, future, rider))
        self._wakeup.set()
        return future

    async def _run(self) -> None:
        pending = self._pending
        while True:
            if not pending:
                if self._closing:  # drained: everything submitted before close() is answered
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch: list[_Append] = []
            while pending and len(batch) < self._batch_max:
                item = pending.popleft()
                if not item.future.done():  # the caller gave up before we started: skip it
                    batch.append(item)
            if batch:
                try:
                    await self._process(batch)
                except Exception as exc:  # the writer must survive: callers would hang
                    log.exception("event writer failed")
                    _fail(batch, exc)
                # Let the callers just answered run first: those that append again at once
                # join the next batch instead of forming a second, smaller group that would
                # pay its own fsync (with 64 appenders: one batch of 64, not two of 32).
                await asyncio.sleep(0)

    async def _connection(self) -> Driver:
        # A dedicated connection: no pool checkout or reset per batch.
        if self._db is None:
            conn = await self._engine.connect()
            try:
                self._db = await Driver.open(conn, self._backend.is_sqlite)
            except BaseException:
                await conn.close()
                raise
        return self._db

    async def _drop_connection(self, *, broken: bool = True) -> None:
        db, self._db = self._db, None
        if db is None:
            return
        try:
            if broken:  # it may sit inside a transaction: never hand it back to the pool
                await db.conn.invalidate()
            else:
                await db.conn.close()
        except Exception:
            log.warning("releasing the writer connection failed", exc_info=True)

    # -- batches -----------------------------------------------------------------------------

    async def _process(self, batch: list[_Append]) -> None:
        try:
            if not await self._write_autocommit(batch):
                await self._write_locked(batch)
            return
        except Exception as exc:
            if not is_integrity_error(exc):
                await self._drop_connection()
                if len(batch) == 1:
                    _fail(batch, exc)
                    return
            log.debug("batch of %d failed (%r); retrying one by one", len(batch), exc)
        for item in batch:
            if item.future.done():
                continue
            try:
                await self._write_single(item)
            except HangarError as exc:
                _fail([item], exc)
            except Exception as exc:
                _fail([item], exc)
                await self._drop_connection()

    async def _write_autocommit(self, batch: list[_Append]) -> bool:
        """SQLite fast path: the batch as ONE autocommitted, guarded INSERT (one thread hop).

        Returns False, having written nothing, when it cannot vouch for the cached heads; the
        caller then takes the locked path, which reads them afresh.
        """
        if not self._backend.is_sqlite or self.before_commit is not None or self._seen_seq is None:
            return False
        db = await self._connection()
        # Heads read outside a transaction are still exact here: the guard below fails if any
        # insert happened after ``_seen_seq``, and only inserts move a head.
        await self._fill_heads(db, batch)
        plan = _Plan(batch, self._heads)
        if len(plan.rows) > INSERT_CHUNK:
            return False
        positions: dict[tuple[str, int], int] = {}
        if plan.rows:
            args: list[Any] = [value for row in plan.rows for value in row]
            args.append(self._seen_seq)
            returned = await db.fetch(sqlite_insert(len(plan.rows), guarded=True), args)
            if not returned:
                self._forget_heads()
                return False
            positions = _positions(returned, len(plan.rows))
        elif plan.rejected:
            rows = await db.fetch(SQLITE_SEQUENCE, ())
            if (rows[0][0] if rows else 0) != self._seen_seq:
                self._forget_heads()
                return False
        answers = [(item, await self._reject(db, item, head)) for item, head in plan.rejected]
        self._committed(plan, positions, answers)
        return True

    async def _write_locked(self, batch: list[_Append]) -> None:
        db = await self._connection()
        await self._begin(db)
        try:
            await self._fill_heads(db, batch)
            plan = _Plan(batch, self._heads)
            positions = await self._insert(db, plan.rows) if plan.rows else {}
            answers = [(item, await self._reject(db, item, head)) for item, head in plan.rejected]
            await self._commit(db)
        except BaseException:
            await _rollback(db)
            raise
        self._committed(plan, positions, answers)

    def _committed(
        self, plan: _Plan, positions: dict[tuple[str, int], int], answers: list[tuple[_Append, Answer]]
    ) -> None:
        self.transactions += 1
        self._heads.update(plan.heads)
        if positions:
            self._seen_seq = max(positions.values())
        committed: list[RecordedEvent] = []
        for item, head, rider_head in plan.accepted:
            position = 0
            for sid, before, events in item.parts(head, rider_head):
                committed.extend(_recorded(sid, before, events, positions, plan.recorded_at))
                position = max(position, positions[(sid, before + len(events))])
            answers.append((item, (head + len(item.events), position)))
        self._publish(committed)
        for item, answer in answers:
            _answer(item, answer)

    async def _write_single(self, item: _Append) -> None:
        """Slow path: one request, its head read afresh under the write lock."""
        db = await self._connection()
        answer: Answer
        committed: list[RecordedEvent] = []
        await self._begin(db)
        try:
            streams = [item.stream_id] if item.rider is None else [item.stream_id, item.rider[0]]
            heads = await self._read_heads(db, streams)
            head = heads[item.stream_id]
            retry = await self._retry_answer(db, item, head)
            if retry is not None:
                answer = retry
            elif item.expected is not None and item.expected != head:
                answer = ConcurrencyError(item.stream_id, item.expected, head)
            else:
                recorded_at = time.time()
                parts = item.parts(head, heads[streams[-1]])
                try:
                    positions = await self._insert(
                        db, [row for sid, before, evs in parts for row in _rows(sid, before, evs, recorded_at)]
                    )
                except Exception as exc:
                    if not is_integrity_error(exc):
                        raise
                    # The head was read under the lock, so this can only be an event id clash.
                    answer = DuplicateEventError(item.stream_id, [e.event_id for e in item.events], head)
                else:
                    for sid, before, evs in parts:
                        committed.extend(_recorded(sid, before, evs, positions, recorded_at))
                    answer = (head + len(item.events), max(positions.values()))
            if committed:
                await self._commit(db)
            else:
                await db.rollback()
        except BaseException:
            await _rollback(db)
            raise
        if committed:
            self.transactions += 1
            for ev in committed:
                self._heads[ev.stream_id] = ev.stream_version
            self._seen_seq = max(ev.position for ev in committed)
            self._publish(committed)
        _answer(item, answer)

    # -- statements --------------------------------------------------------------------------

    async def _begin(self, db: Driver) -> None:
        """Start an append transaction holding the write lock (SQLite: BEGIN IMMEDIATE;
        PostgreSQL: an advisory lock, see ``PG_LOCK_AND_SEQUENCE``)."""
        await db.begin_write()
        rows = await db.fetch(self._begin_sql, ())
        seq = int(rows[0][0] or 0) if rows else 0
        if seq != self._seen_seq:
            # Someone else inserted, or a failed transaction of ours used up sequence values.
            self._forget_heads()
            self._seen_seq = seq

    def _forget_heads(self) -> None:
        self._heads.clear()
        self._seen_seq = None

    async def _commit(self, db: Driver) -> None:
        if self.before_commit is not None:
            await self.before_commit()
        await db.commit()

    async def _fill_heads(self, db: Driver, batch: list[_Append]) -> None:
        streams = {item.stream_id for item in batch}
        streams.update(item.rider[0] for item in batch if item.rider is not None)
        missing = [sid for sid in streams if sid not in self._heads]
        if missing:
            if len(self._heads) + len(missing) > _HEAD_CACHE_MAX:
                self._heads.clear()
            self._heads.update(await self._read_heads(db, missing))

    async def _read_heads(self, db: Driver, stream_ids: list[str]) -> dict[str, int]:
        compiled = self._sql.stream_heads(len(stream_ids))
        rows = await db.fetch(compiled.sql, compiled.args({f"s{i}": s for i, s in enumerate(stream_ids)}))
        return heads_from_rows(stream_ids, rows)

    async def _insert(self, db: Driver, rows: list[Row]) -> dict[tuple[str, int], int]:
        positions: dict[tuple[str, int], int] = {}
        for start in range(0, len(rows), INSERT_CHUNK):
            chunk = rows[start : start + INSERT_CHUNK]
            if self._backend.is_sqlite:
                sql = sqlite_insert(len(chunk), guarded=False)
                args: list[Any] = [value for row in chunk for value in row]
            else:
                sql = PG_INSERT
                args = [list(column) for column in zip(*chunk, strict=True)]
            positions.update(_positions(await db.fetch(sql, args), len(chunk)))
        return positions

    async def _reject(self, db: Driver, item: _Append, head: int) -> Answer:
        # ``head`` is the version at this request's turn in the batch: what it would have met
        # had the requests been committed one by one.
        retry = await self._retry_answer(db, item, head)
        return retry if retry is not None else ConcurrencyError(item.stream_id, item.expected, head)

    async def _retry_answer(self, db: Driver, item: _Append, head: int) -> tuple[int, int] | None:
        """A request whose event ids are all already in its stream is a retry: succeed."""
        ids = list({ev.event_id for ev in item.events})
        compiled = self._sql.retry_check(item.stream_id, ids)
        count, last = (await db.fetch(compiled.sql, compiled.args()))[0]
        return (head, int(last)) if count == len(ids) else None

    def _publish(self, committed: list[RecordedEvent]) -> None:
        if committed:
            committed.sort(key=_position)
            self._on_commit(committed)


def _position(ev: RecordedEvent) -> int:
    return ev.position


def _positions(returned: Any, expected: int) -> dict[tuple[str, int], int]:
    # Keyed by (stream, version), the unique key, so no assumption about RETURNING order.
    positions = {(stream_id, version): position for position, stream_id, version in returned}
    if len(positions) != expected:
        raise RuntimeError(f"INSERT RETURNING gave {len(positions)} rows for {expected}")
    return positions


def _rows(sid: str, head: int, events: tuple[NewEvent, ...], recorded_at: float) -> list[Row]:
    return [
        (sid, head + i, ev.event_id, ev.event_type, ev.data, ev.metadata, recorded_at)
        for i, ev in enumerate(events, 1)
    ]


def _recorded(
    sid: str, head: int, events: tuple[NewEvent, ...], positions: dict[tuple[str, int], int], recorded_at: float
) -> list[RecordedEvent]:
    return [
        RecordedEvent(
            positions[(sid, head + i)], sid, head + i, ev.event_id, ev.event_type, ev.data, ev.metadata, recorded_at
        )
        for i, ev in enumerate(events, 1)
    ]


async def _rollback(db: Driver) -> None:
    try:
        await db.rollback()
    except Exception:
        log.warning("rollback failed", exc_info=True)


def _answer(item: _Append, answer: tuple[int, int] | BaseException) -> None:
    if item.future.done():
        return
    if isinstance(answer, BaseException):
        item.future.set_exception(answer)
    else:
        item.future.set_result(answer)


def _fail(batch: list[_Append], exc: BaseException) -> None:
    for item in batch:
        _answer(item, exc)
