"""What the conversation core needs from the outside world, as Protocols.

``storage`` implements the repositories and the unit of work on SQLAlchemy; ``tests/fakes.py``
implements them in memory. Repositories never commit: the engine commits once per turn through
the unit of work, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import TracebackType
from typing import Any, Protocol, Self


class ConcurrentUpdate(RuntimeError):
    """Someone else saved this person since it was loaded (the version moved on): redo the turn."""


class InitiativeNotFound(LookupError):
    """No initiative with this id."""


class NotADraft(ValueError):
    """Only drafts may be deleted."""


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware datetime: the real time, or the replayed one (``--now``)."""
        ...


class UnitLevel(StrEnum):
    PROVINCE = "province"
    DISTRICT = "district"
    SECTOR = "sector"
    GRASSROOTS = "grassroots"


@dataclass(frozen=True, slots=True)
class Unit:
    """A union in the organisation tree (plan VI): province → district/sector → grassroots."""

    code: str
    name: str
    level: UnitLevel
    parent_code: str | None
    target: int | None = None


class UnitDirectory(Protocol):
    """The organisation tree, held in memory: it changes only on import, never per message."""

    def get(self, code: str) -> Unit | None: ...

    def search(self, query: str, *, level: UnitLevel | None = None, limit: int = 8) -> list[Unit]:
        """Units whose code or name matches ``query``, ignoring case and diacritics."""
        ...

    def grassroots_under(self, code: str) -> list[Unit]:
        """Every grassroots union in the subtree of ``code`` (itself if it is one)."""
        ...

    def ancestors(self, code: str) -> list[Unit]:
        """The units above ``code``, nearest first."""
        ...

    def descendants(self, code: str) -> list[Unit]:
        """Every unit below ``code``."""
        ...

    def children(self, code: str) -> list[Unit]: ...

    @property
    def roots(self) -> list[Unit]:
        """The units with nothing above them (the province federation)."""
        ...


class Status(StrEnum):
    """Where an initiative stands; every change is recorded with who and when."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    NEEDS_CHANGES = "needs_changes"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


@dataclass(slots=True)
class Conversation:
    """One person as the engine sees them during a turn: who they are and where they are.

    ``state`` is the flow's own JSON-able data (the draft being written, the way back); it is
    saved whole at the end of every turn, so a restart resumes at the same step.
    ``options`` are the choices last offered, as ``[code, label]`` pairs: an answer is matched
    against them, and a choice not among them is refused.
    """

    channel: str
    user_id: str
    person_id: int | None = None
    display_name: str = ""
    locale: str | None = None
    unit_code: str | None = None
    flow: str | None = None
    step: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    options: list[list[str]] = field(default_factory=list)
    version: int = 0
    unreachable_since: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredInitiative:
    id: int
    person_id: int
    unit_code: str
    status: Status
    record: dict[str, Any]
    verdict: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None


@dataclass(frozen=True, slots=True)
class StatusChange:
    initiative_id: int
    from_status: Status | None
    to_status: Status
    actor_person_id: int | None
    at: datetime
    note: str | None = None


class ConversationRepository(Protocol):
    async def load(self, channel: str, user_id: str) -> Conversation | None:
        """The person behind ``(channel, user_id)`` with their conversation, or ``None``."""
        ...

    async def save(self, conversation: Conversation, at: datetime) -> None:
        """Insert or update; gives a new person an id (set on ``conversation.person_id``)."""
        ...

    async def set_unreachable(self, channel: str, user_id: str, since: datetime | None) -> None:
        """Mark a messenger account as refusing messages (``since``), or reachable (``None``)."""
        ...

    async def ensure_person(self, channel: str, user_id: str, at: datetime) -> int:
        """The person behind an account, created (not yet onboarded) if never seen: an admin
        can name an officer before they have written to the bot."""
        ...

    async def person(self, person_id: int) -> Person | None: ...

    async def add_link_code(
        self, code: str, person_id: int, at: datetime, expires_at: datetime
    ) -> None: ...

    async def take_link_code(self, code: str, at: datetime) -> int | None:
        """The person a still valid, unused code was made for, marking it used; else None."""
        ...

    async def link_identity(
        self, channel: str, user_id: str, person_id: int, at: datetime
    ) -> None:
        """Make ``(channel, user_id)`` an account of ``person_id`` (created or moved)."""
        ...

    async def set_reminders_off(self, person_id: int, off: bool) -> None:
        """Turn the person's personal reminders off (or back on)."""
        ...

    async def idle_in_flow(self, flow: str, before: datetime) -> list[tuple[int, datetime]]:
        """People in the middle of ``flow`` whose last turn was before ``before``, with when
        it was (an initiative being written and then left)."""
        ...


@dataclass(frozen=True, slots=True)
class Person:
    id: int
    display_name: str
    locale: str | None
    unit_code: str | None
    reminders_off: bool = False


class InitiativeRepository(Protocol):
    async def add(
        self,
        *,
        person_id: int,
        unit_code: str,
        status: Status,
        record: dict[str, Any],
        verdict: dict[str, Any] | None,
        at: datetime,
    ) -> int: ...

    async def update(
        self,
        initiative_id: int,
        *,
        status: Status,
        record: dict[str, Any],
        verdict: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        """Overwrite the record; ``submitted_at`` is set when the status becomes submitted."""
        ...

    async def get(self, initiative_id: int) -> StoredInitiative | None: ...

    async def list_for_person(self, person_id: int) -> list[StoredInitiative]:
        """Newest first."""
        ...

    async def delete(self, initiative_id: int) -> None:
        """Only drafts are ever deleted (a person discarding their own unfinished work)."""
        ...

    async def record_status(self, change: StatusChange) -> None: ...

    async def history(self, initiative_id: int) -> list[StatusChange]:
        """Oldest first."""
        ...

    async def change_status_if(
        self, initiative_id: int, *, expected: Status, new: Status, at: datetime
    ) -> bool:
        """Move from ``expected`` to ``new`` only if it is still ``expected``; False otherwise.

        The single statement that makes "the first decision wins" true across officers and
        processes (``UPDATE … WHERE id = :id AND status = :expected``).
        """
        ...

    async def list_in_units(
        self,
        unit_codes: Sequence[str],
        *,
        statuses: Sequence[Status],
        offset: int = 0,
        limit: int = 50,
        oldest_first: bool = True,
    ) -> list[StoredInitiative]:
        """Initiatives of these units in these statuses, ordered by ``submitted_at`` then id
        (``updated_at`` for statuses never submitted)."""
        ...

    async def count_in_units(
        self, unit_codes: Sequence[str], *, statuses: Sequence[Status]
    ) -> int: ...

    async def submitted_before(self, moment: datetime) -> list[StoredInitiative]:
        """Everything still ``submitted`` whose ``submitted_at`` is before ``moment``."""
        ...

    async def untouched_since(
        self, statuses: Sequence[Status], moment: datetime
    ) -> list[StoredInitiative]:
        """Initiatives in these statuses last changed before ``moment``, oldest first (the
        drafts and the changes asked that wait on their authors)."""
        ...

    async def sent_by_unit(self, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
        """Per unit, the initiatives sent (submitted at ``start`` ≤ t < ``end``, whatever
        came of them since, withdrawn ones aside) and how many of those are approved."""
        ...

    async def approved_between(self, start: datetime, end: datetime) -> list[StoredInitiative]:
        """Initiatives approved (last changed) at ``start`` ≤ t < ``end``, oldest first."""
        ...

    async def alerts(self, initiative_id: int) -> set[str]:
        """Which review alerts (e.g. ``"remind:1"``, ``"escalate:1"``) were already sent."""
        ...

    async def add_alert(self, initiative_id: int, alert: str, at: datetime) -> bool:
        """Record an alert once; False if it was already recorded (so it is never sent twice)."""
        ...


@dataclass(frozen=True, slots=True)
class Officer:
    """A person who acts for a union: their unit and everything under it (plan VI)."""

    person_id: int
    unit_code: str
    display_name: str = ""
    locale: str | None = None


@dataclass(frozen=True, slots=True)
class Invite:
    code: str
    unit_code: str
    created_by: int
    created_at: datetime
    expires_at: datetime
    used_by: int | None = None
    used_at: datetime | None = None


class OfficerRepository(Protocol):
    async def add(self, person_id: int, unit_code: str, at: datetime) -> bool:
        """False if the person already was an officer of that unit."""
        ...

    async def remove(self, person_id: int, unit_code: str) -> bool: ...

    async def units_of(self, person_id: int) -> list[str]:
        """The units this person is an officer of (empty for a worker)."""
        ...

    async def of_units(self, unit_codes: Sequence[str]) -> list[Officer]:
        """The officers of exactly these units (with their name and language)."""
        ...

    async def all(self) -> list[Officer]: ...

    async def add_invite(self, invite: Invite) -> None: ...

    async def get_invite(self, code: str) -> Invite | None: ...

    async def use_invite(self, code: str, person_id: int, at: datetime) -> bool:
        """Mark a still-unused invite used; False if someone used it first."""
        ...


@dataclass(frozen=True, slots=True)
class Notice:
    """A message for someone other than the person whose turn made it (an officer's approval
    prompt, an author's outcome), written in the outbox in the same transaction as the change
    it reports, rendered in the recipient's language, delivered after the commit.

    ``replaces`` names an earlier notice this one supersedes (e.g. "decided by …" replacing an
    approval prompt): a messenger that can edit messages edits that one instead of adding.
    """

    id: int
    person_id: int
    text: str
    options: tuple[tuple[str, str], ...]
    created_at: datetime
    kind: str = ""
    initiative_id: int | None = None
    replaces: int | None = None
    delivered: dict[str, str] = field(default_factory=dict)  # channel -> message reference


class OutboxRepository(Protocol):
    async def add(
        self,
        *,
        person_id: int,
        text: str,
        options: Sequence[tuple[str, str]],
        at: datetime,
        kind: str = "",
        initiative_id: int | None = None,
        replaces: int | None = None,
        key: str | None = None,
    ) -> int | None:
        """The new notice's id; ``None`` (and nothing written) when a notice with this
        ``key`` is already there, so a scheduled notice is written once."""
        ...

    async def existing_keys(self, keys: Sequence[str]) -> set[str]:
        """Which of these notice keys are already written (one question for many)."""
        ...

    async def for_initiative(self, initiative_id: int, kind: str) -> list[Notice]:
        """Notices of one kind about one initiative (e.g. the approval prompts to replace)."""
        ...

    async def undelivered(self, channel: str, *, limit: int = 100) -> list[tuple[Notice, str]]:
        """Notices not yet delivered on ``channel`` to people who have a reachable identity
        there, oldest first, with that identity's external id."""
        ...

    async def undelivered_to(self, person_id: int, channel: str) -> list[Notice]: ...

    async def mark_delivered(self, notice_id: int, channel: str, reference: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Group:
    """A group chat registered for a union: it receives the union's notices and broadcasts."""

    id: int
    channel: str
    chat_id: str
    unit_code: str
    locale: str
    active: bool
    title: str = ""


@dataclass(frozen=True, slots=True)
class GroupNotice:
    """A message for a group, in the outbox like a person's notice, delivered once."""

    id: int
    group_id: int
    text: str
    created_at: datetime
    kind: str = ""
    broadcast_id: int | None = None
    delivered_at: datetime | None = None
    failed: str | None = None  # why it could not be delivered (the group is gone, …)
    link: str | None = None  # a deep-link payload: show a button that opens the bot
    key: str | None = None
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class Broadcast:
    id: int
    person_id: int
    unit_code: str
    text: str
    created_at: datetime
    reported_at: datetime | None = None


class GroupRepository(Protocol):
    async def register(
        self,
        *,
        channel: str,
        chat_id: str,
        unit_code: str,
        locale: str,
        title: str,
        person_id: int,
        at: datetime,
    ) -> Group:
        """Register (or re-register, reactivate, move to another unit) a group chat."""
        ...

    async def get(self, channel: str, chat_id: str) -> Group | None: ...

    async def deactivate(self, channel: str, chat_id: str, at: datetime) -> bool:
        """The bot left or was removed: no more messages to this group."""
        ...

    async def active_in_units(self, unit_codes: Sequence[str]) -> list[Group]: ...

    async def all_active(self) -> list[Group]:
        """Every active group, by id (the campaign's notices go to all of them)."""
        ...

    async def add_notice(
        self,
        *,
        group_id: int,
        text: str,
        at: datetime,
        kind: str = "",
        broadcast_id: int | None = None,
        key: str | None = None,
        link: str | None = None,
    ) -> int | None:
        """The new notice's id; ``None`` (nothing written) if ``key`` is already used."""
        ...

    async def keys_starting(self, prefix: str) -> set[str]:
        """The notice keys already written that start with ``prefix`` (one scheduled notice's
        fan-out so far)."""
        ...

    async def undelivered(
        self, channel: str, *, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        """Notices neither delivered nor failed, for active groups on ``channel``, oldest first."""
        ...

    async def claim(
        self, channel: str, *, worker: str, at: datetime, until: datetime, limit: int = 100
    ) -> list[tuple[GroupNotice, Group]]:
        """Take up to ``limit`` pending notices that are due and not held by a live claim,
        holding them for ``worker`` until ``until``; only the rows this worker won."""
        ...

    async def retry_later(self, notice_id: int, *, not_before: datetime, failed: bool) -> None:
        """Give a claimed notice back, due again at ``not_before``; ``failed`` counts a try."""
        ...

    async def mark_delivered(self, notice_id: int, reference: str, at: datetime) -> None: ...

    async def mark_failed(self, notice_id: int, reason: str, at: datetime) -> None: ...

    async def add_broadcast(
        self, *, person_id: int, unit_code: str, text: str, at: datetime
    ) -> int: ...

    async def broadcast_notices(self, broadcast_id: int) -> list[GroupNotice]: ...

    async def unreported_broadcasts(self) -> list[Broadcast]:
        """Broadcasts whose delivery report has not been sent yet."""
        ...

    async def mark_reported(self, broadcast_id: int, at: datetime) -> None: ...


class UnitOfWork(Protocol):
    """One turn's transaction: ``async with uow: …; await uow.commit()``; no commit, no change."""

    conversations: ConversationRepository
    initiatives: InitiativeRepository
    officers: OfficerRepository
    outbox: OutboxRepository
    groups: GroupRepository

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
