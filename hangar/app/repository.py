"""Loading and saving aggregates: snapshot + tail, an in-process cache, optimistic retries."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

from hangar.app import codec
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore, Snapshot
from hangar.domain.errors import ConcurrencyError, PreconditionFailedError
from hangar.domain.events import Event
from hangar.domain.provider import Provider, stream_id

log = structlog.get_logger("hangar.repository")

Decide = Callable[[Provider], list[Event]]
WaitFor = Callable[[int], Awaitable[None]]


class SaveResult:
    __slots__ = ("aggregate", "events", "position")

    def __init__(self, aggregate: Provider, events: Sequence[Event], position: int | None) -> None:
        self.aggregate = aggregate
        self.events = events
        self.position = position


class ProviderRepository:
    def __init__(
        self, store: EventStore, wait_for: WaitFor, *, snapshot_every: int = 100, max_retries: int = 8
    ) -> None:
        self._store = store
        self._wait_for = wait_for
        self._snapshot_every = snapshot_every
        self._max_retries = max_retries
        # Aggregates are cached between commands: a stale entry is harmless because the append
        # checks the version, and a conflict evicts it before the retry reloads.
        self._cache: dict[str, Provider] = {}

    async def load(self, provider_id: str) -> Provider:
        cached = self._cache.get(provider_id)
        if cached is not None:
            return cached
        sid = stream_id(provider_id)
        snap = await self._store.load_snapshot(sid)
        if snap is not None:
            agg = Provider.from_snapshot(provider_id, snap.version, snap.state)
        else:
            agg = Provider(provider_id)
        for rec in await self._store.read_stream(sid, from_version=agg.version):
            agg.apply(codec.decode(rec))
            agg.version = rec.stream_version
        self._cache[provider_id] = agg
        return agg

    async def check(self, provider_id: str, if_match: int | None) -> Provider:
        """Load an existing provider and verify an optional ``If-Match`` version."""
        agg = await self.load(provider_id)
        agg.require()
        if if_match is not None and agg.version != if_match:
            raise PreconditionFailedError(
                f"Provider '{provider_id}' is at version {agg.version}, If-Match named {if_match}"
            )
        return agg

    def forget(self, provider_id: str) -> None:
        self._cache.pop(provider_id, None)

    async def execute(
        self,
        provider_id: str,
        decide: Decide,
        meta: EventMetadata,
        *,
        if_match: int | None = None,
        wait: bool = True,
    ) -> SaveResult:
        """Decide on the current aggregate and append; retried on a concurrent change unless the
        caller pinned a version with ``If-Match`` (then a change answers 412)."""
        for _ in range(self._max_retries):
            agg = await self.load(provider_id)
            if if_match is not None:
                await self.check(provider_id, if_match)
            events = decide(agg)
            if not events:
                return SaveResult(agg, [], None)
            expected = agg.version
            try:
                version, position = await self._store.append(
                    stream_id(provider_id), expected, [codec.encode(e, meta) for e in events]
                )
            except ConcurrencyError:
                self.forget(provider_id)
                if if_match is not None:
                    raise PreconditionFailedError(
                        f"Provider '{provider_id}' changed concurrently; If-Match named {if_match}"
                    ) from None
                continue
            if agg.version == expected:  # no other coroutine applied meanwhile
                for e in events:
                    agg.apply(e)
                agg.version = version
            else:
                self.forget(provider_id)
            await self._maybe_snapshot(agg, expected, version)
            if wait:
                await self._wait_for(position)
            return SaveResult(agg, events, position)
        raise ConcurrencyError(stream_id(provider_id), None, -1)

    async def _maybe_snapshot(self, agg: Provider, before: int, after: int) -> None:
        n = self._snapshot_every
        if n <= 0 or after // n == before // n or agg.version != after:
            return
        try:
            await self._store.save_snapshot(
                Snapshot(stream_id=stream_id(agg.provider_id), version=after, state=agg.snapshot())
            )
        except Exception:  # a missed snapshot only costs load time later
            log.exception("snapshot_failed", provider_id=agg.provider_id)
