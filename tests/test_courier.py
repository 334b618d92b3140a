"""The group courier: Telegram's limits kept, a 429 waited out, a removed group given up on,
network trouble retried with a growing delay, and two couriers sharing one database never
sending a notice twice. The messenger is a scripted ``send`` (the network edge); the outbox is
the real one (``backend``: the memory fake and a SQLite file)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from bot.courier import GroupCourier, GroupGone, Limits, Pacer, RetryAfter, Transient
from conversations.ports import Group, GroupNotice, UnitOfWorkFactory
from storage import SAMPLE_UNITS, SqlUnitOfWorkFactory, create_engine, import_units_csv, migrate
from tests.chat import make_engine
from tests.fakes import FixedClock
from tests.storage_backends import T0


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_pacer_keeps_30_a_second_overall_and_20_a_minute_per_group() -> None:
    clock = Ticking()
    pacer = Pacer(Limits(per_second=30, per_group_per_minute=20, margin_s=0.02), clock)
    for n in range(30):
        assert pacer.overall_wait() == 0
        await pacer.take()
        pacer.sent(f"g{n}")  # counted when Telegram answered
    assert pacer.overall_wait() == pytest.approx(1.02)
    clock.now += 1.02
    assert pacer.overall_wait() == 0

    for _ in range(20):
        await pacer.take()
        pacer.sent("busy")
        clock.now += 0.5
    assert pacer.group_wait("busy") == pytest.approx(60.02 - 10.0)
    assert pacer.group_wait("quiet") == 0
    pacer.pause(5)
    assert pacer.overall_wait() == pytest.approx(5)


async def seed(store: UnitOfWorkFactory, clock: FixedClock, groups: int) -> list[int]:
    """``groups`` registered groups of CD-BB-01 with one notice each."""
    ids = []
    async with store() as uow:
        person = await uow.conversations.ensure_person("telegram", "minh", clock.now())
        for n in range(groups):
            group = await uow.groups.register(
                channel="telegram",
                chat_id=str(-100 - n),
                unit_code="CD-BB-01",
                locale="vi",
                title=f"Tổ {n}",
                person_id=person,
                at=clock.now(),
            )
            notice = await uow.groups.add_notice(
                group_id=group.id, text=f"Thông báo {n}", at=clock.now(), key=f"t:{group.id}"
            )
            assert notice is not None
            ids.append(notice)
        await uow.commit()
    return ids


async def pending(store: UnitOfWorkFactory) -> list[GroupNotice]:
    async with store() as uow:
        return [notice for notice, _group in await uow.groups.undelivered("telegram")]


async def test_a_429_is_waited_out_and_the_notice_still_goes_out_once(
    backend: UnitOfWorkFactory,
) -> None:
    engine, _store, clock = make_engine(store=backend, clock=FixedClock(T0))
    await seed(backend, clock, 3)
    sent: Counter[str] = Counter()
    refusals = iter([RetryAfter(0.05)])

    async def send(notice: GroupNotice, group: Group) -> str:
        if group.chat_id == "-101" and (refusal := next(refusals, None)) is not None:
            raise refusal
        sent[group.chat_id] += 1
        return "m"

    courier = GroupCourier(engine, "telegram", send)
    assert await courier.deliver() == 2  # the refused one is due again 0.05 s later
    clock.advance(seconds=1)
    assert await courier.deliver() == 1
    assert sent == {"-100": 1, "-101": 1, "-102": 1}
    assert await pending(backend) == []


async def test_a_group_that_removed_the_bot_is_given_up_and_made_inactive(
    backend: UnitOfWorkFactory,
) -> None:
    engine, _store, clock = make_engine(store=backend, clock=FixedClock(T0))
    await seed(backend, clock, 2)

    async def send(notice: GroupNotice, group: Group) -> str:
        if group.chat_id == "-100":
            raise GroupGone("Forbidden: bot was kicked from the group chat")
        return "m"

    assert await GroupCourier(engine, "telegram", send).deliver() == 1
    async with backend() as uow:
        gone = await uow.groups.get("telegram", "-100")
        assert gone is not None and not gone.active
        [kept] = await uow.groups.active_in_units(["CD-BB-01"])
    assert kept.chat_id == "-101"
    assert await pending(backend) == []


async def test_network_trouble_is_retried_later_and_given_up_after_five_tries(
    backend: UnitOfWorkFactory,
) -> None:
    engine, _store, clock = make_engine(store=backend, clock=FixedClock(T0))
    await seed(backend, clock, 1)
    tries = 0

    async def send(notice: GroupNotice, group: Group) -> str:
        nonlocal tries
        tries += 1
        raise Transient("connection reset")

    courier = GroupCourier(engine, "telegram", send, max_attempts=5)
    for attempt in range(1, 5):
        assert await courier.deliver() == 0
        assert tries == attempt
        [left] = await pending(backend)
        assert left.attempts == attempt
        assert await courier.deliver() == 0 and tries == attempt  # not due yet: no hammering
        clock.advance(seconds=2**attempt)  # 2, 4, 8, 16 s
    assert await courier.deliver() == 0
    assert tries == 5
    assert await pending(backend) == []  # given up on (the reason is kept with the notice)
    clock.advance(days=1)
    assert await courier.deliver() == 0 and tries == 5


async def test_two_couriers_on_one_database_send_each_notice_once(url: str) -> None:
    await migrate(url)
    db = create_engine(url)
    await import_units_csv(db, SAMPLE_UNITS, at=T0)
    store = SqlUnitOfWorkFactory(db)
    clock = FixedClock(T0)
    await seed(store, clock, 40)
    sent: Counter[str] = Counter()

    async def send(notice: GroupNotice, group: Group) -> str:
        sent[group.chat_id] += 1
        return "m"

    first, _s1, _c1 = make_engine(store=store, clock=clock)
    second, _s2, _c2 = make_engine(store=SqlUnitOfWorkFactory(create_engine(url)), clock=clock)
    couriers = [
        GroupCourier(engine, "telegram", send, batch=5, worker=name)
        for engine, name in ((first, "a"), (second, "b"))
    ]
    delivered = await asyncio.gather(*(courier.deliver() for courier in couriers))
    assert sum(delivered) == 40
    assert all(count == 1 for count in sent.values()) and len(sent) == 40
    assert min(delivered) > 0  # both took part
    await db.dispose()


async def test_stopping_mid_broadcast_gives_the_claimed_rest_back_at_once(
    backend: UnitOfWorkFactory,
) -> None:
    engine, _store, clock = make_engine(store=backend, clock=FixedClock(T0))
    await seed(backend, clock, 10)
    stop = asyncio.Event()
    sent: Counter[str] = Counter()

    async def send(notice: GroupNotice, group: Group) -> str:
        sent[group.chat_id] += 1
        if len(sent) == 3:
            stop.set()  # SIGTERM while the broadcast goes out
        return "m"

    assert await GroupCourier(engine, "telegram", send, worker="old").deliver(stop) == 3
    assert len(await pending(backend)) == 7
    # The next process takes them over at once, not when the old claim would have run out.
    assert await GroupCourier(engine, "telegram", send, worker="new").deliver() == 7
    assert len(sent) == 10 and set(sent.values()) == {1}
