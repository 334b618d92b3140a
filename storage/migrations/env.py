"""Alembic's entry point, for the CLI and for :func:`storage.db.migrate` alike.

Programmatic runs hand over an open connection in ``config.attributes["connection"]`` (the
Alembic cookbook's connection sharing, used from inside a running event loop through
``AsyncConnection.run_sync``). The CLI (``alembic -c storage/alembic.ini upgrade head``) has no
connection: it builds an async engine from ``sqlalchemy.url``, ``DATABASE_URL`` or the default
file and runs the migrations on its own event loop.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import Connection

from storage.db import create_engine, database_url
from storage.models import Base

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    return database_url(config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL"))


def _configure(**kwargs: Any) -> None:
    # Batch mode lets later migrations ALTER SQLite tables (copy-and-move under the hood).
    context.configure(target_metadata=target_metadata, render_as_batch=True, **kwargs)


def run_migrations_offline() -> None:
    _configure(url=_url(), literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        asyncio.run(run_async_migrations())
    else:
        do_run_migrations(connection)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
