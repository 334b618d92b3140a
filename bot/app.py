"""Builds the running product by hand: database, campaign, organisation, clock, engine."""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import ReplayClock, SystemClock, parse_moment
from bot.config import Settings
from conversations.campaign import Campaign, load_campaign
from conversations.engine import Engine
from conversations.organisation import UnitTree
from conversations.ports import Clock
from storage.db import create_engine, create_inline_sqlite_engine, database_url, migrate
from storage.unit_of_work import InlineSqliteUnitOfWorkFactory, SqlUnitOfWorkFactory
from storage.units import count_units, import_units_csv, load_units

log = logging.getLogger(__name__)


def sample_units_csv() -> Path:
    """The sample organisation of Bắc Kạn province shipped for trying the bot out."""
    return Path(str(resources.files("storage") / "sample" / "bac_kan_units.csv"))


def settle_after_start() -> None:
    """Take what start-up built (catalogs, campaign, units, compiled statements, the
    frameworks' classes) out of the garbage collector's sight: it lives as long as the
    process, and every full collection would otherwise walk all of it again (measured: 3–5 %
    of a conversation step). Called once by the long-running commands, not by tests."""
    gc.collect()
    gc.freeze()


@dataclass
class App:
    engine: Engine
    db: AsyncEngine
    campaign: Campaign
    inline: InlineSqliteUnitOfWorkFactory | None = None

    async def close(self) -> None:
        if self.inline is not None:
            self.inline.close()
        await self.db.dispose()


async def build_app(
    settings: Settings, *, now: str | None = None, load_sample: bool = False
) -> App:
    """Migrate the database, load static data once, and assemble the engine."""
    url = database_url(settings.database_url)
    await migrate(url)
    db = create_engine(url)
    if load_sample and await count_units(db) == 0:
        report = await import_units_csv(db, sample_units_csv())
        log.warning(
            "The database had no units: loaded the SAMPLE organisation of Bắc Kạn province "
            "(%d units) from %s. Import your own with `python -m bot units import FILE.csv`.",
            report.added,
            sample_units_csv().name,
        )
    campaign = load_campaign(settings.campaign_path)
    moment = now or settings.now
    clock: Clock = ReplayClock(parse_moment(moment, campaign.tz)) if moment else SystemClock()
    # SQLite: turns run their statements inline (see InlineConnection); other databases
    # (PostgreSQL) through the async engine.
    inline = (
        InlineSqliteUnitOfWorkFactory(create_inline_sqlite_engine(url))
        if db.dialect.name == "sqlite"
        else None
    )
    engine = Engine(
        campaign=campaign,
        units=UnitTree(await load_units(db)),
        uow_factory=inline or SqlUnitOfWorkFactory(db),
        clock=clock,
    )
    return App(engine=engine, db=db, campaign=campaign, inline=inline)
