"""Loading and saving aggregates: snapshot + tail, an in-process cache, optimistic retries.

One generic repository serves every aggregate type; an aggregate only has to provide
``version``, ``apply``, ``require``, ``snapshot`` and a ``from_snapshot`` constructor.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, Protocol, TypeVar

import structlog

from hangar.app import codec, units
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore, Snapshot
from hangar.domain.errors import ConcurrencyError, PreconditionFailedError
from hangar.domain.events import Event
from hangar.domain.provider import Provider

log = structlog.get_logger("hangar.repository")


class Aggregate(Protocol):
    version: int

    def apply(self, e: Event) -> None: ...

    def require(self) -> None:
        """Raise the aggregate's not-found error unless it exists."""

    def snapshot(self) -> bytes: ...


A = TypeVar("A", bound=Aggregate)
WaitFor = Callable[[int], Awaitable[None]]


class SaveResult(Generic[A]):
    __slots__ = ("aggregate", "events", "position")

    def __init__(self, aggregate: A, events: Sequence[Event], position: int | None) -> None:
        self.aggregate = aggregate
        self.events = events
        self.position = position


class Repository(Generic[A]):
    def __init__(
        self,
        store: EventStore,
        wait_for: WaitFor,
        *,
        kind: str,
        stream_prefix: str,
        new: Callable[[str], A],
        from_snapshot: Callable[[str, int, bytes], A],
        snapshot_every: int = 100,
        max_retries: int = 8,
        known_version: Callable[[str], int] | None = None,
    ) -> None:
        self._store = store
        self._wait_for = wait_for
        self.kind = kind
        self.stream_prefix = stream_prefix
        self._new = new
        self._from_snapshot = from_snapshot
        self._snapshot_every = snapshot_every
        self._max_retries = max_retries
        self._known_version = known_version
        # Aggregates are cached between commands: a stale entry is harmless because the append
        # checks the version, and a conflict evicts it before the retry reloads.
        self._cache: dict[str, A] = {}

    def stream_id(self, aggregate_id: str) -> str:
        return self.stream_prefix + aggregate_id

    async def load(self, aggregate_id: str, *, trust_index: bool = True) -> A:
        cached = self._cache.get(aggregate_id)
        sid = self.stream_id(aggregate_id)
        # The read side has seen a newer version (another replica wrote it): the cached entry is
        # stale, and a decision that appends nothing would never find out through a conflict.
        if cached is not None and (self._known_version is None or self._known_version(sid) <= cached.version):
            return cached
        if trust_index and self._known_version is not None and self._known_version(sid) == 0:
            # Never written as far as the read side knows: no need to ask the database. If
            # another writer created it meanwhile, the append (expected version 0) conflicts
            # and the retry loads for real.
            fresh = self._new(aggregate_id)
            self._cache[aggregate_id] = fresh
            return fresh
        snap = await self._store.load_snapshot(sid)
        agg = self._from_snapshot(aggregate_id, snap.version, snap.state) if snap else self._new(aggregate_id)
        for rec in await self._store.read_stream(sid, from_version=agg.version):
            agg.apply(codec.decode(rec))
            agg.version = rec.stream_version
        self._cache[aggregate_id] = agg
        return agg

    async def check(self, aggregate_id: str, if_match: int | None) -> A:
        """Load an existing aggregate and verify an optional ``If-Match`` version."""
        agg = await self.load(aggregate_id)
        agg.require()
        if if_match is not None and agg.version != if_match:
            raise PreconditionFailedError(
                f"{self.kind} '{aggregate_id}' is at version {agg.version}, If-Match named {if_match}"
            )
        return agg

    def forget(self, aggregate_id: str) -> None:
        self._cache.pop(aggregate_id, None)

    async def execute(
        self,
        aggregate_id: str,
        decide: Callable[[A], list[Event]],
        meta: EventMetadata,
        *,
        if_match: int | None = None,
        wait: bool = True,
    ) -> SaveResult[A]:
        """Decide on the current aggregate and append; retried on a concurrent change unless the
        caller pinned a version with ``If-Match`` (then a change answers 412)."""
        sid = self.stream_id(aggregate_id)
        trust_index = True
        for _ in range(self._max_retries):
            agg = await self.load(aggregate_id, trust_index=trust_index)
            if if_match is not None:
                await self.check(aggregate_id, if_match)
            events = decide(agg)
            if not events:
                return SaveResult(agg, [], None)
            expected = agg.version
            try:
                version, position = await units.append(
                    self._store, sid, expected, [codec.encode(e, meta) for e in events]
                )
            except ConcurrencyError:
                self.forget(aggregate_id)
                trust_index = False
                if if_match is not None:
                    raise PreconditionFailedError(
                        f"{self.kind} '{aggregate_id}' changed concurrently; If-Match named {if_match}"
                    ) from None
                continue
            if agg.version == expected:  # no other coroutine applied meanwhile
                for e in events:
                    agg.apply(e)
                agg.version = version
            else:
                self.forget(aggregate_id)
            await self._maybe_snapshot(sid, agg, expected, version)
            if wait:
                await self._wait_for(position)
            return SaveResult(agg, events, position)
        raise ConcurrencyError(sid, None, -1)

    async def _maybe_snapshot(self, sid: str, agg: A, before: int, after: int) -> None:
        n = self._snapshot_every
        if n <= 0 or after // n == before // n or agg.version != after:
            return
        try:
            await self._store.save_snapshot(Snapshot(stream_id=sid, version=after, state=agg.snapshot()))
        except Exception:  # a missed snapshot only costs load time later
            log.exception("snapshot_failed", stream_id=sid)


ProviderRepository = Repository[Provider]


class RepositoryFactory(Generic[A]):
    """How to build the repository of one aggregate type: ``factory(store, wait_for, ...)``.
    Every aggregate module declares one instead of spelling the constructor out again."""

    def __init__(self, kind: str, stream_prefix: str, new: Callable[[str], A],
                 from_snapshot: Callable[[str, int, bytes], A]) -> None:
        self.kind = kind
        self.stream_prefix = stream_prefix
        self._new = new
        self._from_snapshot = from_snapshot

    def __call__(
        self, store: EventStore, wait_for: WaitFor, snapshot_every: int = 100,
        known_version: Callable[[str], int] | None = None,
    ) -> Repository[A]:
        return Repository(
            store, wait_for, kind=self.kind, stream_prefix=self.stream_prefix, new=self._new,
            from_snapshot=self._from_snapshot, snapshot_every=snapshot_every, known_version=known_version,
        )


provider_repository = RepositoryFactory("Provider", "provider:", Provider, Provider.from_snapshot)
