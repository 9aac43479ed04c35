"""Table definitions the store queries against.

These mirror the Alembic migrations in ``migrations/versions``; the migrations are the only
thing that creates tables (``metadata.create_all`` is never called), so a schema change means
a new migration *and* an edit here.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# SQLite only accepts AUTOINCREMENT on a column declared exactly ``INTEGER PRIMARY KEY``; a
# BIGINT there would not alias the rowid. AUTOINCREMENT matters: without it SQLite reuses the
# highest rowid after the newest rows are deleted (compaction), and positions must never repeat.
POSITION_TYPE = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

events = sa.Table(
    "events",
    metadata,
    sa.Column("position", POSITION_TYPE, sa.Identity(), primary_key=True),
    sa.Column("stream_id", sa.Text(), nullable=False),
    sa.Column("stream_version", sa.BigInteger(), nullable=False),
    sa.Column("event_id", sa.Text(), nullable=False),
    sa.Column("event_type", sa.Text(), nullable=False),
    sa.Column("data", sa.LargeBinary(), nullable=False),
    sa.Column("metadata", sa.LargeBinary(), nullable=False),
    sa.Column("recorded_at", sa.Double(), nullable=False),
    sa.UniqueConstraint("event_id", name="uq_events_event_id"),
    # Also the index for stream reads: (stream_id = ? AND stream_version > ?) ORDER BY version.
    sa.UniqueConstraint("stream_id", "stream_version", name="uq_events_stream_version"),
    sa.Index("ix_events_type_position", "event_type", "position"),
    sa.Index("ix_events_recorded_at", "recorded_at"),
    sqlite_autoincrement=True,
)

snapshots = sa.Table(
    "snapshots",
    metadata,
    sa.Column("stream_id", sa.Text(), primary_key=True),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("state", sa.LargeBinary(), nullable=False),
)

# Pickled read models at a position (see ``hangar/app/log/checkpoints.py``); ``format`` names
# the code that wrote them, so a checkpoint from another version is ignored, never misread.
read_model_checkpoints = sa.Table(
    "read_model_checkpoints",
    metadata,
    sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("format", sa.Text(), nullable=False),
    sa.Column("recorded_at", sa.Double(), nullable=False),
    sa.Column("state", sa.LargeBinary(), nullable=False),
)

# Column order of ``RecordedEvent`` so rows can be splatted straight into the struct.
EVENT_COLUMNS = (
    events.c.position,
    events.c.stream_id,
    events.c.stream_version,
    events.c.event_id,
    events.c.event_type,
    events.c.data,
    events.c.metadata,
    events.c.recorded_at,
)
