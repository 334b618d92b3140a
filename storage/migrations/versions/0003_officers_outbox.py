"""Officers and their invites, the outbox of notices for other people, review alerts sent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("added_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_officers_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_officers_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("person_id", "unit_code", name=op.f("pk_officers")),
    )
    op.create_index(op.f("ix_officers_unit_code"), "officers", ["unit_code"])
    op.create_table(
        "invites",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("expires_at", _when(), nullable=False),
        sa.Column("used_by", sa.Integer(), nullable=True),
        sa.Column("used_at", _when(), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_invites_unit_code_units")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["people.id"], name=op.f("fk_invites_created_by_people")
        ),
        sa.ForeignKeyConstraint(
            ["used_by"], ["people.id"], name=op.f("fk_invites_used_by_people")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_invites")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("kind", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("initiative_id", sa.Integer(), nullable=True),
        sa.Column("replaces", sa.Integer(), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_outbox_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_outbox_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaces"],
            ["outbox.id"],
            name=op.f("fk_outbox_replaces_outbox"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_outbox_initiative_id_kind"), "outbox", ["initiative_id", "kind"])
    op.create_table(
        "outbox_deliveries",
        sa.Column("notice_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("delivered_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["outbox.id"],
            name=op.f("fk_outbox_deliveries_notice_id_outbox"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("notice_id", "channel", name=op.f("pk_outbox_deliveries")),
    )
    op.create_table(
        "initiative_alerts",
        sa.Column("initiative_id", sa.Integer(), nullable=False),
        sa.Column("alert", sa.Text(), nullable=False),
        sa.Column("at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_initiative_alerts_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("initiative_id", "alert", name=op.f("pk_initiative_alerts")),
    )


def downgrade() -> None:
    op.drop_table("initiative_alerts")
    op.drop_table("outbox_deliveries")
    op.drop_index(op.f("ix_outbox_initiative_id_kind"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("invites")
    op.drop_index(op.f("ix_officers_unit_code"), table_name="officers")
    op.drop_table("officers")
