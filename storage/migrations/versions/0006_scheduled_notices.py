"""Scheduled notices: unique keys in both outboxes, delivery bookkeeping for group notices,
and the personal-reminders switch.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PENDING = sa.text("delivered_at IS NULL AND failed IS NULL")
_WRITING = sa.text("flow = 'submission'")


def upgrade() -> None:
    with op.batch_alter_table("people") as table:
        table.add_column(
            sa.Column("reminders_off", sa.Boolean(), server_default=sa.text("0"), nullable=False)
        )
    op.add_column("outbox", sa.Column("key", sa.Text(), nullable=True))
    op.create_index(op.f("ix_outbox_key"), "outbox", ["key"], unique=True)
    op.add_column("group_notices", sa.Column("key", sa.Text(), nullable=True))
    op.add_column("group_notices", sa.Column("link", sa.Text(), nullable=True))
    op.add_column(
        "group_notices",
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.add_column(
        "group_notices", sa.Column("not_before", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("group_notices", sa.Column("claimed_by", sa.Text(), nullable=True))
    op.add_column(
        "group_notices", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(op.f("ix_group_notices_key"), "group_notices", ["key"], unique=True)
    op.create_index(
        op.f("ix_initiatives_status_updated_at"), "initiatives", ["status", "updated_at"]
    )
    op.create_index(op.f("ix_initiatives_submitted_at"), "initiatives", ["submitted_at"])
    op.create_index(
        op.f("ix_people_writing"),
        "people",
        ["updated_at"],
        sqlite_where=_WRITING,
        postgresql_where=_WRITING,
    )
    op.create_index(
        op.f("ix_group_notices_pending"),
        "group_notices",
        ["id"],
        sqlite_where=_PENDING,
        postgresql_where=_PENDING,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_people_writing"), table_name="people")
    op.drop_index(op.f("ix_initiatives_submitted_at"), table_name="initiatives")
    op.drop_index(op.f("ix_initiatives_status_updated_at"), table_name="initiatives")
    op.drop_index(op.f("ix_group_notices_pending"), table_name="group_notices")
    op.drop_index(op.f("ix_group_notices_key"), table_name="group_notices")
    with op.batch_alter_table("group_notices") as table:
        for column in ("claimed_until", "claimed_by", "not_before", "attempts", "link", "key"):
            table.drop_column(column)
    op.drop_index(op.f("ix_outbox_key"), table_name="outbox")
    with op.batch_alter_table("outbox") as table:
        table.drop_column("key")
    with op.batch_alter_table("people") as table:
        table.drop_column("reminders_off")
