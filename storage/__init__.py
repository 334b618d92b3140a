"""Storage on SQLAlchemy (SQLite by default): the ports of ``conversations`` made durable.

The engine and migrations (:mod:`storage.db`), the tables (:mod:`storage.models`), the
repositories and the unit of work that commits once per turn, and the units import.
"""

from __future__ import annotations

from storage.db import (
    create_engine,
    create_inline_sqlite_engine,
    database_url,
    migrate,
    session_factory,
)
from storage.repositories import (
    ConcurrentUpdate,
    InitiativeNotFound,
    NotADraft,
    SqlConversationRepository,
    SqlGroupRepository,
    SqlInitiativeRepository,
    SqlOfficerRepository,
    SqlOutboxRepository,
)
from storage.unit_of_work import (
    InlineSqliteUnitOfWorkFactory,
    SqlUnitOfWork,
    SqlUnitOfWorkFactory,
)
from storage.units import (
    SAMPLE_UNITS,
    ImportReport,
    UnitImportError,
    count_units,
    import_units_csv,
    load_units,
)

__all__ = [
    "SAMPLE_UNITS",
    "ConcurrentUpdate",
    "ImportReport",
    "InitiativeNotFound",
    "InlineSqliteUnitOfWorkFactory",
    "NotADraft",
    "SqlConversationRepository",
    "SqlGroupRepository",
    "SqlInitiativeRepository",
    "SqlOfficerRepository",
    "SqlOutboxRepository",
    "SqlUnitOfWork",
    "SqlUnitOfWorkFactory",
    "UnitImportError",
    "count_units",
    "create_engine",
    "create_inline_sqlite_engine",
    "database_url",
    "import_units_csv",
    "load_units",
    "migrate",
    "session_factory",
]
