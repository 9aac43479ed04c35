"""cluster: instances, leases, shared rate counters, and commit notifications on PostgreSQL

Revision ID: 0012
Revises: 0014
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A statement-level trigger: one NOTIFY per append transaction (not per row), carrying the
# highest position it inserted, on a channel named after the schema (side-by-side stores in one
# database stay apart). NOTIFY is delivered at COMMIT and in commit order, so a replica
# that wakes on it and reads past its cursor finds the events committed.
_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION hangar_notify_events() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('hangar_events_' || TG_TABLE_SCHEMA, (SELECT max(position)::text FROM inserted));
  RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
_NOTIFY_TRIGGER = """
CREATE TRIGGER hangar_events_notify AFTER INSERT ON events
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION hangar_notify_events()
"""


def upgrade() -> None:
    op.create_table(
        "instances",
        sa.Column("instance_id", sa.Text(), primary_key=True),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("started_at", sa.Double(), nullable=False),
        sa.Column("heartbeat_at", sa.Double(), nullable=False),
        sa.Column("stopped", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.Text(), primary_key=True),
        sa.Column("holder", sa.Text(), nullable=False),
        sa.Column("generation", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False),
    )
    op.create_index("ix_leases_holder", "leases", ["holder"])
    op.create_table(
        "rate_counters",
        sa.Column("bucket", sa.Text(), primary_key=True),
        sa.Column("win", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTIFY_FUNCTION)
        op.execute(_NOTIFY_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS hangar_events_notify ON events")
        op.execute("DROP FUNCTION IF EXISTS hangar_notify_events()")
    op.drop_table("rate_counters")
    op.drop_index("ix_leases_holder", table_name="leases")
    op.drop_table("leases")
    op.drop_table("instances")
