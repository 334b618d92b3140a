"""The whole 2022–2023 campaign replayed with the clock: the exact notices every union group
receives, in its language, on the right day — including a week the bot was down (the notice
still worth sending goes out once, late; the stale one is skipped), a group registered late,
one the bot was removed from, and nothing at night."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from conversations.engine import Engine
from conversations.ports import Status
from tests.chat import VN, make_engine, vn_time
from tests.fakes import FixedClock, MemoryStore
from tests.test_conversation import TO_REVIEW
from tests.test_groups import command
from tests.test_officers import Person

CAMPAIGN = "bac-kan-2022-2023"
CD01, CD02, BB, BT, GONE = "-1001", "-1002", "-1003", "-1004", "-1005"
DOWN_FROM, BACK_AT = vn_time(2022, 5, 16, 0, 0), vn_time(2022, 5, 24, 22, 0)
TICK_HOURS = (7, 8, 12, 22)  # 22:00 is night: nothing may go out then


@dataclass(frozen=True)
class Received:
    day: date
    hour: int
    name: str
    text: str
    link: str | None


def _name(key: str | None) -> str:
    """``bac-kan-2022-2023:1:countdown-7:g3`` → ``p1 countdown-7``; ``roundup:2022-W19:g3`` →
    ``roundup 2022-W19``; ``approved:1:g1`` → ``approved #1``."""
    assert key is not None, "every scheduled group notice has a key"
    parts = key.split(":")
    if parts[0] == CAMPAIGN:
        return f"p{parts[1]} {parts[2]}"
    if parts[0] == "approved":
        return f"approved #{parts[1]}"
    return f"{parts[0]} {parts[1]}"


class Groups:
    """What each group chat received: a courier that delivers after every tick."""

    def __init__(self, engine: Engine, clock: FixedClock) -> None:
        self.engine, self.clock = engine, clock
        self.received: dict[str, list[Received]] = {}

    async def deliver(self) -> None:
        local = self.clock.now().astimezone(VN)
        for notice, group in await self.engine.undelivered_to_groups("telegram", limit=1000):
            self.received.setdefault(group.chat_id, []).append(
                Received(local.date(), local.hour, _name(notice.key), notice.text, notice.link)
            )
            await self.engine.group_notice_done(notice, group, reference="m")

    def names(self, chat_id: str) -> list[tuple[str, int, str]]:
        return [(r.day.isoformat(), r.hour, r.name) for r in self.received.get(chat_id, [])]

    def text(self, chat_id: str, name: str) -> str:
        [found] = [r for r in self.received[chat_id] if r.name == name]
        return found.text


async def _officer(store: MemoryStore, clock: FixedClock, user: str, unit: str) -> None:
    async with store() as uow:
        person = await uow.conversations.ensure_person("telegram", user, clock.now())
        await uow.officers.add(person, unit, clock.now())
        await uow.commit()


async def replay() -> tuple[Groups, MemoryStore]:
    engine, store, clock = make_engine(clock=FixedClock(vn_time(2022, 1, 1, 9, 0)))
    for user, unit in (("minh", "CD-BB-01"), ("hung", "LDLD-BB"), ("admin", "LDLD-BK")):
        await _officer(store, clock, user, unit)
    await engine.group_command(command("/register CD-BB-01 vi", chat_id=CD01, user_id="minh"))
    await engine.group_command(command("/register CD-BB-02 en", chat_id=CD02, user_id="hung"))
    await engine.group_command(command("/register LDLD-BB vi", chat_id=BB, user_id="hung"))
    await engine.group_command(command("/register CD-BB-01 vi", chat_id=GONE, user_id="minh"))
    groups = Groups(engine, clock)
    lan = Person(engine, "lan", name="Nguyễn Thị Lan", lang="en")
    minh = Person(engine, "minh", name="Minh", lang="en", channel="telegram")

    async def register_late() -> None:
        await engine.group_command(command("/register LDLD-BT vi", chat_id=BT, user_id="admin"))

    async def submit() -> None:
        await lan.say("/start", "2", "CD-BB-01", *TO_REVIEW)
        await lan.press("Submit")
        await lan.press("Yes, share it")

    async def approve() -> None:
        await minh.say("/start", "2")
        await minh.send("/review 1")
        await minh.press("Approve")

    async def remove_bot() -> None:
        await engine.group_left("telegram", GONE)

    actions: dict[datetime, Callable[[], Awaitable[None]]] = {
        vn_time(2022, 3, 1, 10, 0): register_late,
        vn_time(2022, 5, 2, 10, 0): submit,
        vn_time(2022, 5, 4, 10, 0): approve,
        vn_time(2022, 5, 29, 10, 0): remove_bot,
    }
    moments: list[tuple[datetime, Callable[[], Awaitable[Any]] | None]] = []
    day = date(2022, 1, 1)
    while day <= date(2023, 9, 10):
        for hour in TICK_HOURS:
            moment = vn_time(day.year, day.month, day.day, hour, 0)
            if not DOWN_FROM <= moment < BACK_AT:  # the bot was down for a week
                moments.append((moment, None))
        day += timedelta(days=1)
    moments += list(actions.items())
    for moment, action in sorted(moments, key=lambda pair: (pair[0], pair[1] is None)):
        clock.set(moment)
        if action is not None:
            await action()
        else:
            await engine.tick()
        await groups.deliver()
    async with store() as uow:
        item = await uow.initiatives.get(1)
        assert item is not None and item.status is Status.APPROVED
    return groups, store


PHASE_1_END = [
    ("2022-05-25", 7, "p1 countdown-7"),  # due 24/5 08:00 while down; 24/5 22:00 is night
    ("2022-05-28", 8, "p1 countdown-3"),
    ("2022-05-30", 8, "p1 countdown-1"),
    ("2022-05-31", 8, "p1 last-day"),
    ("2022-06-01", 7, "p2 opening"),
    ("2022-06-01", 8, "p1 closed"),
]
PHASE_2_END = [
    ("2023-08-18", 8, "p2 countdown-14"),
    ("2023-08-25", 8, "p2 countdown-7"),
    ("2023-08-29", 8, "p2 countdown-3"),
    ("2023-08-31", 8, "p2 countdown-1"),
    ("2023-09-01", 8, "p2 last-day"),
    ("2023-09-02", 8, "p2 closed"),
]
PHASE_2_NUDGES = [
    ("2023-08-02", 8, "p2 nudge-30"),
    ("2023-08-09", 8, "p2 nudge-23"),
    ("2023-08-16", 8, "p2 nudge-16"),
    ("2023-08-23", 8, "p2 nudge-9"),
]


def _by_day(*lists: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """Merged in delivery order: by day and hour; on one tick campaign notices come first."""
    merged = [item for items in lists for item in items]
    return sorted(merged, key=lambda item: (item[0], item[1], "nudge" in item[2]))


async def test_the_whole_campaign_replayed_every_group_gets_exactly_its_notices() -> None:
    groups, _store = await replay()

    # A grassroots union whose first initiative came on 2 May: nudged once before, then no
    # more in phase 1; its card once approved.
    assert groups.names(CD01) == _by_day(
        [
            ("2022-01-08", 7, "p1 opening"),
            ("2022-05-01", 8, "p1 nudge-30"),
            ("2022-05-04", 10, "approved #1"),
        ],
        PHASE_1_END,
        PHASE_2_NUDGES,
        PHASE_2_END,
    )
    # One with none at all: nudged every week of both phases' last month (the last nudge of
    # phase 1 fell in the week the bot was down: it goes out late, once).
    assert groups.names(CD02) == _by_day(
        [
            ("2022-01-08", 7, "p1 opening"),
            ("2022-05-01", 8, "p1 nudge-30"),
            ("2022-05-08", 8, "p1 nudge-23"),
            ("2022-05-15", 8, "p1 nudge-16"),
            ("2022-05-25", 7, "p1 nudge-9"),
        ],
        PHASE_1_END,
        PHASE_2_NUDGES,
        PHASE_2_END,
    )
    # The district: the campaign's notices and the weekly round-up of approved initiatives.
    assert groups.names(BB) == _by_day(
        [("2022-01-08", 7, "p1 opening"), ("2022-05-09", 8, "roundup 2022-W19")],
        PHASE_1_END,
        PHASE_2_END,
    )
    # Registered on 1 March: the opening notice is still worth sending then.
    assert groups.names(BT) == _by_day(
        [("2022-03-01", 12, "p1 opening")], PHASE_1_END, PHASE_2_END
    )
    # The bot was removed on 29 May: nothing after that.
    assert groups.names(GONE) == [
        ("2022-01-08", 7, "p1 opening"),
        ("2022-05-01", 8, "p1 nudge-30"),
        ("2022-05-04", 10, "approved #1"),
        ("2022-05-25", 7, "p1 countdown-7"),
        ("2022-05-28", 8, "p1 countdown-3"),
    ]


async def test_replayed_notices_say_what_is_true_then_in_the_groups_language() -> None:
    groups, _store = await replay()
    # Sent late, the countdown counts the days really left.
    assert "Còn 6 ngày để gửi sáng kiến cho Giai đoạn 1" in groups.text(CD01, "p1 countdown-7")
    assert "6 days left to send initiatives for Phase 1" in groups.text(CD02, "p1 countdown-7")
    assert "Bấm nút bên dưới" in groups.text(CD01, "p1 countdown-3")  # what to do
    closed = groups.text(CD01, "p1 closed")
    assert "Kết quả của Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể: đã gửi 1, được duyệt 1." in (
        closed
    )
    assert "Đã đạt chỉ tiêu" in closed and "Giai đoạn 2" in closed
    assert "0 sent, 0 approved" in groups.text(CD02, "p1 closed")
    assert "Target not met yet" in groups.text(CD02, "p1 closed")
    assert "1/3 công đoàn cơ sở đã gửi ít nhất một sáng kiến" in groups.text(BB, "p1 closed")
    assert "Cảm ơn tất cả các bạn đã tham gia" in groups.text(BB, "p2 closed")
    assert "Vườn quốc gia Ba Bể has no initiative yet in Phase 1" in groups.text(
        CD02, "p1 nudge-9"
    )
    card = groups.text(CD01, "approved #1")
    assert "Sáng kiến mới được duyệt" in card and "Hoàn cảnh ra đời: Công nhân mất" in card
    assert "Nguyễn Thị Lan" not in card  # nothing personal beyond the union
    assert "Tuần này tại Liên đoàn Lao động huyện Ba Bể: 1 sáng kiến được duyệt." in groups.text(
        BB, "roundup 2022-W19"
    )
    # Every notice opens the bot: a grassroots group's button also joins its union.
    assert {r.link for r in groups.received[CD01]} == {"join-CD-BB-01"}
    assert {r.link for r in groups.received[BB]} == {"new"}
    # Nothing at night.
    assert all(r.hour != 22 for received in groups.received.values() for r in received)
