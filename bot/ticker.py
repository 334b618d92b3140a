"""The scheduler's heartbeat: ``Engine.tick`` every so often, whatever messengers run.

The tick itself keeps no state (the outboxes' unique keys are its memory), so a beat missed
while the process was down is made up by the next one, and two processes beating at once
write each notice once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from conversations.engine import Engine

log = logging.getLogger(__name__)
TICK_EVERY_S = 60.0


async def tick_until(engine: Engine, stop: asyncio.Event, every_s: float = TICK_EVERY_S) -> None:
    """Tick now, then every ``every_s`` seconds, until ``stop`` is set."""
    while not stop.is_set():
        try:
            written = await engine.tick()
            if written:
                log.info("scheduler wrote %d notices", written)
        except Exception:  # the next beat tries again; nothing was committed by this one
            log.exception("scheduler tick failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
