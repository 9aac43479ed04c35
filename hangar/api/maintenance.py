"""``/api/maintenance``."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Request, post

from hangar.api.deps import command_context
from hangar.app.bus import CommandBus
from hangar.app.maintenance import CompactStream
from hangar.domain.errors import ValidationError


class CompactRequest(msgspec.Struct, forbid_unknown_fields=True):
    stream_id: Annotated[str, msgspec.Meta(min_length=1, max_length=512)]


class Compacted(msgspec.Struct):
    stream_id: str
    events_deleted: int


class CompactBody(msgspec.Struct):
    compacted: Compacted


class MaintenanceController(Controller):
    path = "/api/maintenance"
    tags = ["maintenance"]

    @post("/compact", status_code=200, summary="Delete events preceding the stream's latest snapshot")
    async def compact(self, request: Request, bus: CommandBus, data: CompactRequest) -> CompactBody:
        if not data.stream_id.strip():
            raise ValidationError("stream_id must not be empty")
        deleted = await bus.execute(CompactStream(data.stream_id), command_context(request))
        return CompactBody(Compacted(data.stream_id, deleted))
