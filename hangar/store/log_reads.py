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


def events_select(q: EventQuery, limit: int) -> sa.Select[Any]:
    where: list[Any] = [events.c.position > q.after]
    if q.up_to is not None:
        where.append(events.c.position <= q.up_to)
    if q.stream_id is not None:
        where.append(events.c.stream_id == q.stream_id)
    if q.stream_prefix:
        # A range, not LIKE: no escaping of '_' or '%' in ids, and an index can serve it.
        where += [events.c.stream_id >= q.stream_prefix, events.c.stream_id < prefix_upper(q.stream_prefix)]
    if q.event_types:
        where.append(events.c.event_type.in_(list(q.event_types)))
    if q.since is not None:
        where.append(events.c.recorded_at >= q.since)
    if q.until is not None:
        where.append(events.c.recorded_at <= q.until)
    return sa.select(*EVENT_COLUMNS).where(*where).order_by(events.c.position).limit(limit)


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
