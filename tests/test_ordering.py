"""Many people at once, each person's messages in the order they came (bot.ordering)."""

from __future__ import annotations

import asyncio

import pytest

from bot.ordering import OrderedTasks, PersonOrder


async def test_one_persons_work_runs_in_order_while_others_go_ahead() -> None:
    order = PersonOrder()
    log: list[str] = []
    lan_first_may_finish = asyncio.Event()

    async def work(name: str, wait: asyncio.Event | None = None) -> str:
        log.append(f"{name} starts")
        if wait is not None:
            await wait.wait()
        log.append(f"{name} ends")
        return name

    lan_1 = asyncio.create_task(order.run("lan", work("lan-1", lan_first_may_finish)))
    lan_2 = asyncio.create_task(order.run("lan", work("lan-2")))
    minh = asyncio.create_task(order.run("minh", work("minh")))
    assert await minh == "minh"  # not held up by Lan's slow first message
    assert log == ["lan-1 starts", "minh starts", "minh ends"]
    lan_first_may_finish.set()
    assert await asyncio.gather(lan_1, lan_2) == ["lan-1", "lan-2"]
    assert log[3:] == ["lan-1 ends", "lan-2 starts", "lan-2 ends"]
    assert order.waiting() == 0  # nothing kept once everyone is done


async def test_a_failure_does_not_hold_up_that_persons_next_message() -> None:
    order = PersonOrder()

    async def broken() -> None:
        raise ValueError("turn failed")

    async def fine() -> str:
        return "answered"

    first = asyncio.create_task(order.run("lan", broken()))
    second = asyncio.create_task(order.run("lan", fine()))
    with pytest.raises(ValueError):
        await first
    assert await second == "answered"


async def test_cancelled_while_waiting_keeps_the_line_for_whoever_is_next() -> None:
    order = PersonOrder()
    running = asyncio.Event()
    release = asyncio.Event()
    log: list[str] = []

    async def slow() -> None:
        running.set()
        await release.wait()
        log.append("first done")

    async def step(name: str) -> None:
        log.append(name)

    first = asyncio.create_task(order.run("lan", slow()))
    await running.wait()
    second = asyncio.create_task(order.run("lan", step("second")))
    third = asyncio.create_task(order.run("lan", step("third")))
    await asyncio.sleep(0)
    second.cancel()  # shutting down, say: the second message is never handled
    await asyncio.sleep(0.01)
    assert log == []  # the third still waits for the first
    release.set()
    await asyncio.gather(first, third)
    assert second.cancelled()
    assert log == ["first done", "third"]


async def test_ordered_tasks_keep_order_limit_concurrency_and_survive_failures() -> None:
    tasks = OrderedTasks(limit=2)
    running = 0
    most = 0
    seen: list[tuple[str, int]] = []

    async def handle(person: str, n: int) -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await asyncio.sleep(0.005)
        seen.append((person, n))
        running -= 1
        if n == 1 and person == "b":
            raise RuntimeError("a bug in one turn")

    for n in range(4):
        for person in ("a", "b", "c"):
            await tasks.start(person, handle(person, n))
    await tasks.drain()
    assert most == 2
    for person in ("a", "b", "c"):
        assert [n for who, n in seen if who == person] == [0, 1, 2, 3]
