"""A scripted person talking to the engine, the way the console or a messenger would."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from conversations.campaign import Campaign, load_campaign
from conversations.engine import Engine
from conversations.messages import Attachment, Event, Reply
from conversations.organisation import UnitTree
from conversations.ports import Unit, UnitLevel
from tests.fakes import FixedClock, MemoryStore

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SAMPLE_CSV = Path(__file__).resolve().parent.parent / "storage" / "sample" / "bac_kan_units.csv"


def sample_units() -> list[Unit]:
    with SAMPLE_CSV.open(encoding="utf-8-sig") as fp:
        return [
            Unit(
                code=row["code"],
                name=row["name"],
                level=UnitLevel(row["level"]),
                parent_code=row["parent_code"] or None,
                target=int(row["target"]) if row["target"] else None,
            )
            for row in csv.DictReader(fp)
        ]


def vn_time(*args: int) -> datetime:
    return datetime(*args, tzinfo=VN)  # type: ignore[misc]


def make_engine(
    store: Any = None, clock: FixedClock | None = None, campaign: Campaign | None = None
) -> tuple[Engine, Any, FixedClock]:
    units = sample_units()
    store = store if store is not None else MemoryStore(units)
    clock = clock or FixedClock(vn_time(2022, 5, 20, 9, 0))
    engine = Engine(
        campaign=campaign or load_campaign(),
        units=UnitTree(units),
        uow_factory=store,
        clock=clock,
    )
    return engine, store, clock


class Chat:
    """One person; keeps every reply so tests can read what the person saw."""

    def __init__(
        self,
        engine: Engine,
        user: str = "lan",
        *,
        name: str = "Nguyễn Thị Lan",
        channel: str = "test",
        lang: str | None = None,
    ) -> None:
        self.engine, self.user, self.name, self.channel, self.lang = (
            engine,
            user,
            name,
            channel,
            lang,
        )
        self.seen: list[Reply] = []
        self.turn: list[Reply] = []

    async def send(
        self,
        text: str | None = None,
        *,
        choice: str | None = None,
        attachment: Attachment | None = None,
        prompt_id: str | None = None,
    ) -> str:
        """Send one message; returns everything the bot answered, as one text."""
        event = Event(
            channel=self.channel,
            user_id=self.user,
            chat_id=f"chat-{self.user}",
            display_name=self.name,
            text=text,
            choice=choice,
            prompt_id=prompt_id,
            attachment=attachment,
            locale_hint=self.lang,
        )
        self.turn = await self.engine.handle(event)
        self.seen.extend(self.turn)
        return self.text

    async def say(self, *texts: str) -> str:
        for text in texts:
            await self.send(text)
        return self.text

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.turn)

    @property
    def last(self) -> Reply:
        return self.turn[-1]

    def labels(self) -> list[str]:
        return [o.label for o in self.last.options]

    def codes(self) -> list[str]:
        return [o.code for o in self.last.options]

    async def press(self, label_part: str) -> str:
        """Press the option of the last question whose label contains ``label_part``."""
        wanted = label_part.casefold()
        matches = [o for o in self.last.options if o.label.casefold() == wanted] or [
            o for o in self.last.options if wanted in o.label.casefold()
        ]
        assert len(matches) == 1, f"{label_part!r} not unique in {self.labels()}"
        return await self.send(choice=matches[0].code)
