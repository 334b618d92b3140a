"""One turn's transaction on SQLAlchemy: a connection, its repositories, one commit.

``async with uow:`` takes a pooled connection; the repositories run on it; ``await
uow.commit()`` makes the turn durable. Leaving the block without committing (an exception, an
early return) rolls everything back. After a commit the same block may go on writing: the next
statement opens a new transaction, which again needs its own commit.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.ports import (
    ConversationRepository,
    GroupRepository,
    InitiativeRepository,
    OfficerRepository,
    OutboxRepository,
)
from storage.repositories import (
    SqlConversationRepository,
    SqlGroupRepository,
    SqlInitiativeRepository,
    SqlOfficerRepository,
    SqlOutboxRepository,
)


class SqlUnitOfWork:
    """``conversations.ports.UnitOfWork`` on an async engine."""

    # Typed as the ports (Protocol attributes are invariant), built on entry.
    conversations: ConversationRepository
    initiatives: InitiativeRepository
    officers: OfficerRepository
    outbox: OutboxRepository
    groups: GroupRepository

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None

    @property
    def connection(self) -> AsyncConnection:
        """The open connection, for queries outside the repositories (reports, admin)."""
        if self._connection is None:
            raise RuntimeError("the unit of work is not open: use `async with`")
        return self._connection

    async def __aenter__(self) -> Self:
        if self._connection is not None:
            raise RuntimeError("this unit of work is already open")
        self._connection = await self._engine.connect()
        self.conversations = SqlConversationRepository(self._connection)
        self.initiatives = SqlInitiativeRepository(self._connection)
        self.officers = SqlOfficerRepository(self._connection)
        self.outbox = SqlOutboxRepository(self._connection)
        self.groups = SqlGroupRepository(self._connection)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                await connection.rollback()
        finally:
            await connection.close()

    async def commit(self) -> None:
        await self.connection.commit()

    async def rollback(self) -> None:
        await self.connection.rollback()


class SqlUnitOfWorkFactory:
    """``conversations.ports.UnitOfWorkFactory``: a fresh :class:`SqlUnitOfWork` per call."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)
