"""What the conversation core needs from the outside world, as Protocols.

``storage`` implements the repositories and the unit of work on SQLAlchemy; ``tests/fakes.py``
implements them in memory. Repositories never commit: the engine commits once per turn through
the unit of work, before anything is sent.
"""

from __future__ import annotations

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


class UnitOfWork(Protocol):
    """One turn's transaction: ``async with uow: …; await uow.commit()``; no commit, no change."""

    conversations: ConversationRepository
    initiatives: InitiativeRepository

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
