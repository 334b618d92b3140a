"""The database engine: where the file lives, how SQLite is tuned, and bringing the schema up.

SQLite runs in WAL mode with foreign keys on, so readers never block the one writer and a
broken reference fails at the statement that made it. The schema changes only through the
Alembic migrations in ``storage/migrations``; :func:`migrate` runs them to head.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, event
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import StaticPool

DEFAULT_URL = "sqlite+aiosqlite:///data/sangkien.db"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=5000",
)


def database_url(raw: str | None) -> str:
    """The async URL to use: ``raw`` or the default file, with its folder created.

    A relative SQLite path is resolved against the current directory now, so a later change
    of directory cannot point the bot at another file. ``sqlite://`` gets the aiosqlite driver;
    a bare path is taken as a SQLite file.
    """
    raw = raw.strip() if raw else ""
    if raw and "://" not in raw:  # a bare file path
        raw = f"sqlite+aiosqlite:///{raw}"
    url = make_url(raw or DEFAULT_URL)
    if url.get_backend_name() != "sqlite":
        return url.render_as_string(hide_password=False)
    if url.get_driver_name() != "aiosqlite":
        url = url.set(drivername="sqlite+aiosqlite")
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    return url.render_as_string(hide_password=False)


# JSON as stored: Vietnamese stays readable in the file and a third shorter than \u escapes.
# One encoder for every call (json.dumps with options builds a new one each time).
compact_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; on SQLite every new connection gets WAL, foreign keys and a busy wait."""
    engine = create_async_engine(url, json_serializer=compact_json, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def create_inline_sqlite_engine(url: str) -> Engine:
    """A synchronous engine on the same SQLite file (pysqlite), for
    :class:`storage.unit_of_work.InlineSqliteUnitOfWorkFactory`: one connection, kept open."""
    sync_url = make_url(url).set(drivername="sqlite+pysqlite")
    engine = sa_create_engine(sync_url, json_serializer=compact_json, poolclass=StaticPool)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """ORM sessions for code that wants them (reports, admin); repositories use Core."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """Alembic configured in code (no ini, no logging set-up): migrations folder and URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def migrate(url: str) -> None:
    """Bring the schema at ``url`` to the Alembic head; safe to await inside a running loop.

    Alembic is synchronous: it runs through ``run_sync`` on one async connection (the Alembic
    cookbook's connection sharing), so no second event loop and no thread are needed.
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, url)
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, url: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or ``None`` before the first migration."""
    from alembic.runtime.migration import MigrationContext

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(read)
