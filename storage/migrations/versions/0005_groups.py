"""Group chats registered for a union, their outbox, and the broadcasts sent to them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-13
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("chat_id", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("locale", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=False),
        sa.Column("registered_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_groups_unit_code_units")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"], ["people.id"], name=op.f("fk_groups_registered_by_people")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("channel", "chat_id", name=op.f("uq_groups_channel_chat_id")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_groups_unit_code"), "groups", ["unit_code"])
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("reported_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_broadcasts_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_broadcasts_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "group_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("broadcast_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("delivered_at", _when(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("failed", sa.Text(), nullable=True),
        sa.Column("failed_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_notices_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_group_notices_broadcast_id_broadcasts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_notices")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_group_notices_group_id"), "group_notices", ["group_id"])
    op.create_index(op.f("ix_group_notices_broadcast_id"), "group_notices", ["broadcast_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_group_notices_broadcast_id"), table_name="group_notices")
    op.drop_index(op.f("ix_group_notices_group_id"), table_name="group_notices")
    op.drop_table("group_notices")
    op.drop_table("broadcasts")
    op.drop_index(op.f("ix_groups_unit_code"), table_name="groups")
    op.drop_table("groups")
