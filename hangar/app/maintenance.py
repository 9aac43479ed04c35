"""Maintenance commands: stream compaction."""

from __future__ import annotations

import msgspec

from hangar.app import codec
from hangar.app.bus import CommandBus, CommandContext
from hangar.app.codec import EventMetadata
from hangar.app.ports import EventStore
from hangar.domain import events as ev

MAINTENANCE_STREAM = "system:maintenance"


class CompactStream(msgspec.Struct, frozen=True):
    stream_id: str


class Maintenance:
    def __init__(self, store: EventStore) -> None:
        self._store = store

    def register_with(self, bus: CommandBus) -> None:
        bus.register(CompactStream, self.compact)

    async def compact(self, cmd: CompactStream, ctx: CommandContext, meta: EventMetadata) -> int:
        snap = await self._store.load_snapshot(cmd.stream_id)
        deleted = await self._store.compact(cmd.stream_id)
        # The deletion itself is recorded, so the audit trail says who removed history and why
        # the stream now starts after version 1.
        event = ev.StreamCompacted(
            stream_id=cmd.stream_id, events_deleted=deleted, snapshot_version=snap.version if snap else 0,
        )
        await codec.append_one(self._store, MAINTENANCE_STREAM, event, meta)
        return deleted
