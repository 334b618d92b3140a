"""Background loops: the scheduler's heartbeat and the couriers' rounds.

``Engine.tick`` keeps no state (the outboxes' unique keys are its memory), so a beat missed
while the process was down is made up by the next one, and two processes beating at once
write each notice once. Couriers run in loops of their own, so a long broadcast to thousands
of groups never holds up an officer's approval prompt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from conversations.engine import Engine

log = logging.getLogger(__name__)
TICK_EVERY_S = 60.0


async def repeat_until(
    job: Callable[[], Awaitable[object]],
    stop: asyncio.Event,
    every_s: float,
    *,
    what: str,
    wakeup: asyncio.Event | None = None,
) -> None:
    """Run ``job`` now and then every ``every_s`` seconds (sooner when ``wakeup`` is set),
    until ``stop`` is set. A failing round is logged; the next one tries again."""
    while not stop.is_set():
        if wakeup is not None:
            wakeup.clear()
        try:
            await job()
        except Exception:  # nothing half-done stays: every step commits on its own
            log.exception("%s failed", what)
        waiters = [asyncio.create_task(stop.wait())]
        if wakeup is not None:
            waiters.append(asyncio.create_task(wakeup.wait()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(waiters, timeout=every_s, return_when=asyncio.FIRST_COMPLETED)
        for waiter in waiters:
            waiter.cancel()


async def tick_until(engine: Engine, stop: asyncio.Event, every_s: float = TICK_EVERY_S) -> None:
    """The scheduler: tick now, then every ``every_s`` seconds, until ``stop`` is set."""
    await repeat_until(engine.tick, stop, every_s, what="scheduler tick")
