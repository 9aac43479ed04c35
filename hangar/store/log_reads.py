"""Statements for reading the log the way people ask (by type, stream prefix, time) and for the
read-model checkpoints. Built per query, rendered for the dialect and run on the raw driver
like the hot paths in ``sql.py``."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from hangar.app.log.ports import EventQuery

from .schema import EVENT_COLUMNS, events, read_model_checkpoints, snapshots


def prefix_upper(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


# The columns a frame is built from (``hangar.app.log.query.FRAME_COLUMNS``): no stream version.
FRAME_COLUMNS = (
    events.c.position, events.c.stream_id, events.c.event_id, events.c.event_type,
    events.c.data, events.c.metadata, events.c.recorded_at,
)

Shape = tuple[bool, bool, bool, int, bool, bool]


def events_shape(q: EventQuery) -> Shape:
    """Which filters a query uses: queries of one shape share one compiled statement."""
    return (q.up_to is not None, q.stream_id is not None, bool(q.stream_prefix), len(q.event_types),
            q.since is not None, q.until is not None)


def events_select(shape: Shape, columns: tuple[Any, ...] = EVENT_COLUMNS) -> sa.Select[Any]:
    """Events after ``:after`` in position order, ``:limit`` of them, filtered as ``shape`` says;
    every value is a named parameter (``events_values``), so the statement compiles once."""
    up_to, stream_id, prefix, types, since, until = shape
    where: list[Any] = [events.c.position > sa.bindparam("after")]
    if up_to:
        where.append(events.c.position <= sa.bindparam("up_to"))
    if stream_id:
        where.append(events.c.stream_id == sa.bindparam("stream_id"))
    if prefix:
        # A range, not LIKE: no escaping of '_' or '%' in ids, and an index can serve it.
        where += [events.c.stream_id >= sa.bindparam("lo"), events.c.stream_id < sa.bindparam("hi")]
    if types:
        where.append(events.c.event_type.in_([sa.bindparam(f"t{i}") for i in range(types)]))
    if since:
        where.append(events.c.recorded_at >= sa.bindparam("since"))
    if until:
        where.append(events.c.recorded_at <= sa.bindparam("until"))
    return sa.select(*columns).where(*where).order_by(events.c.position).limit(sa.bindparam("limit"))


def events_values(q: EventQuery, limit: int) -> dict[str, Any]:
    values: dict[str, Any] = {"after": q.after, "limit": limit, "up_to": q.up_to, "stream_id": q.stream_id,
                              "since": q.since, "until": q.until}
    if q.stream_prefix:
        values["lo"], values["hi"] = q.stream_prefix, prefix_upper(q.stream_prefix)
    for i, name in enumerate(q.event_types):
        values[f"t{i}"] = name
    return values


def stream_info_select(stream_id: str) -> sa.Select[Any]:
    in_stream = events.c.stream_id == stream_id
    return sa.select(
        sa.select(sa.func.max(events.c.stream_version)).where(in_stream).scalar_subquery(),
        sa.select(sa.func.count()).where(in_stream).scalar_subquery(),
        sa.select(sa.func.min(events.c.position)).where(in_stream).scalar_subquery(),
        sa.select(sa.func.max(events.c.position)).where(in_stream).scalar_subquery(),
        sa.select(snapshots.c.version).where(snapshots.c.stream_id == stream_id).scalar_subquery(),
    )


def position_at_select(moment: float) -> sa.Select[Any]:
    return sa.select(sa.func.max(events.c.position)).where(events.c.recorded_at <= moment)


def checkpoint_positions_select(fmt: str) -> sa.Select[Any]:
    c = read_model_checkpoints.c
    return sa.select(c.position).where(c.format == fmt).order_by(c.position)


def checkpoint_select(position: int, fmt: str) -> sa.Select[Any]:
    c = read_model_checkpoints.c
    return sa.select(c.state).where(c.position == position, c.format == fmt)
