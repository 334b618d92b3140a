"""The repositories of ``conversations.ports``, on SQLAlchemy Core.

They run plain statements on the unit of work's connection and never commit. A turn costs one
SELECT (identities JOIN people) to load and one UPDATE to save; the UPDATE checks the version
it read, so two turns of the same person racing each other cannot silently overwrite one
another: the loser gets :class:`ConcurrentUpdate` and its transaction is rolled back.

Whatever must happen once however many officers or processes try at the same moment (a
decision, an alert, an invite) is one conditional statement: ``UPDATE … WHERE`` the old value,
or ``INSERT … ON CONFLICT DO NOTHING``, and the row count says who won. On SQLite the second
writer waits for the first to commit (``busy_timeout``) and then sees its work.

One module per repository, each building its statements once, at import, next to the code that
runs them: SQLAlchemy then reuses their compiled form on every turn.
"""

from __future__ import annotations

from conversations.ports import ConcurrentUpdate, InitiativeNotFound, NotADraft
from storage.repositories.conversations import SqlConversationRepository
from storage.repositories.groups import SqlGroupRepository
from storage.repositories.initiatives import SqlInitiativeRepository
from storage.repositories.officers import SqlOfficerRepository
from storage.repositories.outbox import SqlOutboxRepository

__all__ = [
    "ConcurrentUpdate",
    "InitiativeNotFound",
    "NotADraft",
    "SqlConversationRepository",
    "SqlGroupRepository",
    "SqlInitiativeRepository",
    "SqlOfficerRepository",
    "SqlOutboxRepository",
]
