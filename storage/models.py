"""The tables, as SQLAlchemy 2.0 declarative models.

A person's conversation lives in their ``people`` row (flow, step, state, options), so a turn
reads one row and writes one row. ``identities`` maps a messenger account to a person, so a
Telegram and a Zalo account can later be linked to the same person. ``officers`` say who acts
for which union, ``invites`` are the one-time codes that make someone an officer. ``outbox``
holds the notices written in a turn for other people, ``outbox_deliveries`` which messenger
has delivered each; ``initiative_alerts`` the review reminders already sent. ``groups`` are the
group chats registered for a union, ``group_notices`` their own outbox (delivered once, or
given up on), ``broadcasts`` the announcements an officer sent to their groups. The schema itself
is made by the Alembic migrations; these models must stay equal to them (a test compares the
two).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from conversations.ports import Status, UnitLevel

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LEVELS = tuple(level.value for level in UnitLevel)
STATUSES = tuple(status.value for status in Status)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


_EMPTY = text("''")  # an empty-string server default
_ZERO = text("0")  # zero, or false
_PENDING = text("delivered_at IS NULL AND failed IS NULL")
_WRITING = text("flow = 'submission'")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every back end (SQLite included).

    SQLite keeps no offset, so the value is stored as naive UTC and given UTC back on the way
    out; a naive datetime is refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: only aware datetimes are stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UtcDateTime()}


class UnitRow(Base):
    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(_in("level", LEVELS), name="level"),
        CheckConstraint("target IS NULL OR target >= 0", name="target_not_negative"),
    )

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    level: Mapped[str] = mapped_column(Text)
    parent_code: Mapped[str | None] = mapped_column(Text, ForeignKey("units.code"))
    target: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class PersonRow(Base):
    __tablename__ = "people"
    __table_args__ = (
        # People who left an initiative half-written, for the reminders, without a full scan.
        Index("ix_people_writing", "updated_at", sqlite_where=_WRITING, postgresql_where=_WRITING),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    display_name: Mapped[str] = mapped_column(Text, server_default=text("''"))
    locale: Mapped[str | None] = mapped_column(Text)
    unit_code: Mapped[str | None] = mapped_column(Text, ForeignKey("units.code"))
    flow: Mapped[str | None] = mapped_column(Text)
    step: Mapped[str | None] = mapped_column(Text)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, server_default=text("'{}'"))
    options: Mapped[list[list[str]]] = mapped_column(JSON, server_default=text("'[]'"))
    version: Mapped[int] = mapped_column(Integer)
    # The person turned personal reminders off (``/reminders``); duties still reach them.
    reminders_off: Mapped[bool] = mapped_column(server_default=_ZERO)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class IdentityRow(Base):
    __tablename__ = "identities"
    __table_args__ = (Index("ix_identities_person_id", "person_id"),)

    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    external_id: Mapped[str] = mapped_column(Text, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    created_at: Mapped[datetime]
    # Set when the messenger refused a message (blocked bot); cleared when they write again.
    unreachable_since: Mapped[datetime | None]


class InitiativeRow(Base):
    __tablename__ = "initiatives"
    __table_args__ = (
        CheckConstraint(_in("status", STATUSES), name="status"),
        Index("ix_initiatives_unit_code_status", "unit_code", "status"),
        Index("ix_initiatives_person_id", "person_id"),
        # The scheduler's "drafts and changes asked left since …" without a full scan.
        Index("ix_initiatives_status_updated_at", "status", "updated_at"),
        # A phase's results: what was sent between its opening and its close.
        Index("ix_initiatives_submitted_at", "submitted_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    unit_code: Mapped[str] = mapped_column(Text, ForeignKey("units.code"))
    status: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, server_default=text("''"))
    kind: Mapped[str | None] = mapped_column(Text)
    record: Mapped[dict[str, Any]] = mapped_column(JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(Integer)


class StatusChangeRow(Base):
    __tablename__ = "status_changes"
    __table_args__ = (
        Index("ix_status_changes_initiative_id", "initiative_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    initiative_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("initiatives.id", ondelete="CASCADE")
    )
    from_status: Mapped[str | None] = mapped_column(Text)
    to_status: Mapped[str] = mapped_column(Text)
    actor_person_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("people.id"))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)


class OfficerRow(Base):
    __tablename__ = "officers"
    __table_args__ = (Index("ix_officers_unit_code", "unit_code"),)

    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"), primary_key=True)
    unit_code: Mapped[str] = mapped_column(Text, ForeignKey("units.code"), primary_key=True)
    added_at: Mapped[datetime]


class InviteRow(Base):
    __tablename__ = "invites"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    unit_code: Mapped[str] = mapped_column(Text, ForeignKey("units.code"))
    created_by: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_by: Mapped[int | None] = mapped_column(Integer, ForeignKey("people.id"))
    used_at: Mapped[datetime | None]


class NoticeRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_initiative_id_kind", "initiative_id", "kind"),
        Index("ix_outbox_key", "key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    options: Mapped[list[list[str]]] = mapped_column(JSON)
    # ``text`` is the column from here on in this class body, hence the constant.
    kind: Mapped[str] = mapped_column(Text, server_default=_EMPTY)
    initiative_id: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("initiatives.id", ondelete="CASCADE")
    )
    # A superseded notice that goes away leaves its successor to be sent as a new message.
    replaces: Mapped[int | None] = mapped_column(
        Integer, ForeignKey("outbox.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    # A scheduled notice's identity ("digest:12:2022-05-30"): written once, whoever schedules.
    key: Mapped[str | None] = mapped_column(Text)


class DeliveryRow(Base):
    __tablename__ = "outbox_deliveries"

    notice_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("outbox.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(Text, primary_key=True)
    # The messenger's id of the sent message, so a later notice can edit it.
    reference: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime]


class AlertRow(Base):
    __tablename__ = "initiative_alerts"

    initiative_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("initiatives.id", ondelete="CASCADE"), primary_key=True
    )
    alert: Mapped[str] = mapped_column(Text, primary_key=True)
    at: Mapped[datetime]


class LinkCodeRow(Base):
    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(Text, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class GroupRow(Base):
    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("channel", "chat_id"),
        Index("ix_groups_unit_code", "unit_code"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(Text)
    chat_id: Mapped[str] = mapped_column(Text)
    unit_code: Mapped[str] = mapped_column(Text, ForeignKey("units.code"))
    locale: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, server_default=_EMPTY)
    # False once the bot left or was removed: the row stays, so a return reactivates it.
    active: Mapped[bool]
    registered_by: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    registered_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BroadcastRow(Base):
    __tablename__ = "broadcasts"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(Integer, ForeignKey("people.id"))
    unit_code: Mapped[str] = mapped_column(Text, ForeignKey("units.code"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    # When the sender was told how the delivery went.
    reported_at: Mapped[datetime | None]


class GroupNoticeRow(Base):
    __tablename__ = "group_notices"
    __table_args__ = (
        Index("ix_group_notices_group_id", "group_id"),
        Index("ix_group_notices_broadcast_id", "broadcast_id"),
        Index("ix_group_notices_key", "key", unique=True),
        # The courier scans only what is still pending, however long the history grows.
        Index(
            "ix_group_notices_pending",
            "id",
            sqlite_where=_PENDING,
            postgresql_where=_PENDING,
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(Integer, ForeignKey("groups.id"))
    text: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text, server_default=_EMPTY)
    broadcast_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("broadcasts.id"))
    created_at: Mapped[datetime]
    # Pending while both ``delivered_at`` and ``failed`` are NULL; either one ends it.
    delivered_at: Mapped[datetime | None]
    reference: Mapped[str | None] = mapped_column(Text)  # the messenger's id of the message
    failed: Mapped[str | None] = mapped_column(Text)  # why it could not be delivered
    failed_at: Mapped[datetime | None]
    # "campaign:phase:notice:g<group>" for scheduled notices: the unique key that makes a
    # second scheduler run (another process, a restart) write nothing twice.
    key: Mapped[str | None] = mapped_column(Text)
    # A deep-link payload: the message gets a button that opens the bot's private chat.
    link: Mapped[str | None] = mapped_column(Text)
    # Delivery bookkeeping: tries so far, not before when (backoff, a full group), and the
    # courier holding it until ``claimed_until`` (then anyone may take it again).
    attempts: Mapped[int] = mapped_column(Integer, server_default=_ZERO)
    not_before: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None]


# Core handles on the tables: the repositories build plain statements on them (no ORM
# identity map or unit of work in the hot path of a turn).
units = cast(Table, UnitRow.__table__)
people = cast(Table, PersonRow.__table__)
identities = cast(Table, IdentityRow.__table__)
initiatives = cast(Table, InitiativeRow.__table__)
status_changes = cast(Table, StatusChangeRow.__table__)
officers = cast(Table, OfficerRow.__table__)
invites = cast(Table, InviteRow.__table__)
outbox = cast(Table, NoticeRow.__table__)
outbox_deliveries = cast(Table, DeliveryRow.__table__)
initiative_alerts = cast(Table, AlertRow.__table__)
link_codes = cast(Table, LinkCodeRow.__table__)
groups = cast(Table, GroupRow.__table__)
broadcasts = cast(Table, BroadcastRow.__table__)
group_notices = cast(Table, GroupNoticeRow.__table__)
