"""indexes for reading the log by type and time; read-model checkpoints

Revision ID: 0014
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # GET /api/events?event_type=...: walk one type's rows in position order.
    op.create_index("ix_events_type_position", "events", ["event_type", "position"])
    # as_of=<time> and the time range filters: the last position recorded at or before a moment.
    op.create_index("ix_events_recorded_at", "events", ["recorded_at"])
    # Periodic copies of the read models, so an as-of read folds at most one interval of events.
    op.create_table(
        "read_model_checkpoints",
        sa.Column("position", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("format", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.Double(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("read_model_checkpoints")
    op.drop_index("ix_events_recorded_at", table_name="events")
    op.drop_index("ix_events_type_position", table_name="events")
