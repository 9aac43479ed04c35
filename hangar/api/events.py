"""``/api/events`` and ``/api/streams``: the log, paged, filtered and followed (SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, MediaType, Request, Response, get
from litestar.params import Parameter
from litestar.response import Stream

from hangar.api.deps import command_context
from hangar.api.permissions import stream_visibility
from hangar.app.auth.service import AuthService
from hangar.app.log.ports import MAX_PAGE, EventQuery
from hangar.app.log.query import public_frame
from hangar.app.log.wiring import LogFeatures
from hangar.domain.errors import NotFoundError, ValidationError
from hangar.domain.events import EVENT_TYPES


class StreamNotFoundError(NotFoundError):
    pass


KNOWN_TYPES = frozenset(t.__name__ for t in EVENT_TYPES)
Text = Annotated[str | None, Parameter(max_length=512)]


def parse_time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(f"{name}: '{value}' is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise ValidationError(f"{name}: '{value}' needs a time zone offset (RFC 3339), e.g. 'Z'")
    return moment.astimezone(UTC).timestamp()


def event_types(values: list[str] | None) -> tuple[str, ...]:
    """Repeated ``event_type`` parameters, each possibly comma-separated; unknown names are 422."""
    names = tuple(dict.fromkeys(n.strip() for v in values or [] for n in v.split(",") if n.strip()))
    unknown = [n for n in names if n not in KNOWN_TYPES]
    if unknown:
        raise ValidationError(f"event_type: unknown event type(s) {', '.join(sorted(unknown))}")
    return names


def build_query(
    *, after: int, limit: int, stream_id: str | None = None, stream: str | None = None,
    event_type: list[str] | None = None, correlation_id: str | None = None, principal: str | None = None,
    since: str | None = None, until: str | None = None,
) -> EventQuery:
    lo, hi = parse_time("since", since), parse_time("until", until)
    if lo is not None and hi is not None and lo > hi:
        raise ValidationError("since must not be later than until")
    return EventQuery(
        after=after, limit=limit, stream_id=stream_id, stream_prefix=stream or None,
        event_types=event_types(event_type), since=lo, until=hi,
        correlation_id=correlation_id, principal=principal,
    )


def page_body(frames: list[bytes], last_position: int, has_more: bool) -> bytes:
    cursor = str(last_position).encode() if has_more else b"null"
    return (
        b'{"events":[' + b",".join(frames) + b'],"count":' + str(len(frames)).encode()
        + b',"next_cursor":' + cursor + b',"last_position":' + str(last_position).encode() + b"}"
    )


def sse_after(request: Request, from_position: int | None) -> int:
    """``Last-Event-ID`` (a reconnecting EventSource) wins over ``from_position``."""
    last_id = request.headers.get("last-event-id")
    if last_id is not None and last_id.strip():
        if not last_id.strip().isdigit():
            raise ValidationError("Last-Event-ID must be an event position (a non-negative integer)")
        return int(last_id.strip())
    return from_position or 0


class EventsController(Controller):
    path = "/api"
    tags = ["events"]

    @get("/events", media_type=MediaType.JSON, summary="Page the event log by global position")
    async def list_events(
        self, request: Request, log: LogFeatures, auth: AuthService,
        from_position: Annotated[int, Parameter(ge=0)] = 0,
        cursor: Annotated[int | None, Parameter(ge=0)] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 100,
        stream_id: Text = None,
        stream: Annotated[str | None, Parameter(max_length=512, description="stream id prefix")] = None,
        event_type: Annotated[list[str] | None, Parameter(query="event_type")] = None,
        correlation_id: Text = None,
        principal: Text = None,
        since: Text = None,
        until: Text = None,
    ) -> Response[bytes]:
        q = build_query(
            after=from_position if cursor is None else cursor, limit=limit, stream_id=stream_id, stream=stream,
            event_type=event_type, correlation_id=correlation_id, principal=principal, since=since, until=until,
        )
        page = await log.events.page(q, _visibility(request, auth))
        return Response(page_body(page.frames, page.last_position, page.has_more), media_type=MediaType.JSON)

    @get("/streams/{stream_id:str}", summary="A stream's version, snapshot version and event count")
    async def stream_info(
        self, request: Request, log: LogFeatures, auth: AuthService, stream_id: str
    ) -> dict[str, Any]:
        _require_visible(request, auth, stream_id)
        info = await log.events.stream_info(stream_id)
        if info.version == 0 and info.event_count == 0:
            raise StreamNotFoundError(f"Stream '{stream_id}' has no events")
        return msgspec.to_builtins(info)

    @get("/streams/{stream_id:str}/events", media_type=MediaType.JSON, summary="One stream's events")
    async def stream_events(
        self, request: Request, log: LogFeatures, auth: AuthService, stream_id: str,
        from_position: Annotated[int, Parameter(ge=0)] = 0,
        limit: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 100,
    ) -> Response[bytes]:
        _require_visible(request, auth, stream_id)
        page = await log.events.page(EventQuery(after=from_position, limit=limit, stream_id=stream_id))
        return Response(page_body(page.frames, page.last_position, page.has_more), media_type=MediaType.JSON)

    @get("/events/stream", summary="Server-Sent Events: stored events after Last-Event-ID, then live")
    async def event_stream(
        self, request: Request, log: LogFeatures, auth: AuthService,
        from_position: Annotated[int | None, Parameter(ge=0)] = None,
        stream_id: Text = None,
        stream: Annotated[str | None, Parameter(max_length=512)] = None,
        event_type: Annotated[list[str] | None, Parameter(query="event_type")] = None,
        correlation_id: Text = None,
        principal: Text = None,
    ) -> Stream:
        q = build_query(
            after=sse_after(request, from_position), limit=MAX_PAGE, stream_id=stream_id, stream=stream,
            event_type=event_type, correlation_id=correlation_id, principal=principal,
        )
        follow = log.events.follow(q, _visibility(request, auth))

        async def body() -> AsyncIterator[bytes]:
            try:
                async for rec in follow:
                    yield b"id: %d\nevent: event\ndata: %s\n\n" % (rec.position, public_frame(rec))
            finally:
                await follow.aclose()  # type: ignore[attr-defined]

        return Stream(body(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


def _visibility(request: Request, auth: AuthService) -> Callable[[str], bool] | None:
    return stream_visibility(auth, command_context(request).principal)


def _require_visible(request: Request, auth: AuthService, stream_id: str) -> None:
    """A stream the caller may not read is answered as one that does not exist."""
    visible = _visibility(request, auth)
    if visible is not None and not visible(stream_id):
        raise StreamNotFoundError(f"Stream '{stream_id}' has no events")
