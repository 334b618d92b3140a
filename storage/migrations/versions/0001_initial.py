"""The first schema: units, people and their identities, initiatives and their history.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the enums as they were at this revision: a migration never imports the
# live code, which may change after it.
LEVELS = ("province", "district", "sector", "grassroots")
STATUSES = ("draft", "submitted", "needs_changes", "approved", "rejected", "withdrawn")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _when() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "units",
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("parent_code", sa.Text(), nullable=True),
        sa.Column("target", sa.Integer(), nullable=True),
        sa.Column("updated_at", _when(), nullable=False),
        sa.CheckConstraint(_in("level", LEVELS), name=op.f("ck_units_level")),
        sa.CheckConstraint(
            "target IS NULL OR target >= 0", name=op.f("ck_units_target_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"], ["units.code"], name=op.f("fk_units_parent_code_units")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_units")),
    )
    op.create_table(
        "people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("locale", sa.Text(), nullable=True),
        sa.Column("unit_code", sa.Text(), nullable=True),
        sa.Column("flow", sa.Text(), nullable=True),
        sa.Column("step", sa.Text(), nullable=True),
        sa.Column("state", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("options", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_people_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_people")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "identities",
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("external_id", sa.Text(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", _when(), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_identities_person_id_people")
        ),
        sa.PrimaryKeyConstraint("channel", "external_id", name=op.f("pk_identities")),
    )
    op.create_index(op.f("ix_identities_person_id"), "identities", ["person_id"])
    op.create_table(
        "initiatives",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("unit_code", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("title", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("created_at", _when(), nullable=False),
        sa.Column("updated_at", _when(), nullable=False),
        sa.Column("submitted_at", _when(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(_in("status", STATUSES), name=op.f("ck_initiatives_status")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["people.id"], name=op.f("fk_initiatives_person_id_people")
        ),
        sa.ForeignKeyConstraint(
            ["unit_code"], ["units.code"], name=op.f("fk_initiatives_unit_code_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_initiatives")),
        sqlite_autoincrement=True,
    )
    op.create_index(
        op.f("ix_initiatives_unit_code_status"), "initiatives", ["unit_code", "status"]
    )
    op.create_index(op.f("ix_initiatives_person_id"), "initiatives", ["person_id"])
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("initiative_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.Text(), nullable=True),
        sa.Column("to_status", sa.Text(), nullable=False),
        sa.Column("actor_person_id", sa.Integer(), nullable=True),
        sa.Column("at", _when(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["initiative_id"],
            ["initiatives.id"],
            name=op.f("fk_status_changes_initiative_id_initiatives"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["actor_person_id"],
            ["people.id"],
            name=op.f("fk_status_changes_actor_person_id_people"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_status_changes_initiative_id"), "status_changes", ["initiative_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_status_changes_initiative_id"), table_name=op.f("status_changes"))
    op.drop_table("status_changes")
    op.drop_index(op.f("ix_initiatives_person_id"), table_name=op.f("initiatives"))
    op.drop_index(op.f("ix_initiatives_unit_code_status"), table_name=op.f("initiatives"))
    op.drop_table("initiatives")
    op.drop_index(op.f("ix_identities_person_id"), table_name=op.f("identities"))
    op.drop_table("identities")
    op.drop_table("people")
    op.drop_table("units")
