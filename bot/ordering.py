"""Many people at once, each person's messages one after another, in the order they came.

Handling updates one at a time (python-telegram-bot's default, and what the Zalo loop did)
makes everyone wait for everyone else's replies to cross the network: with a 100 ms round
trip to the messenger, a whole province gets about ten answers a second. Handling them all
at once would let one person's quick second message overtake the first (two taps on a
button, a photo sent right after its caption), which the conversation must never see.

:class:`PersonOrder` does both: work for different people runs concurrently; work for the
same person waits for that person's earlier work to finish, in the order it was handed in.
The order is fixed the moment :meth:`PersonOrder.run` is called (before it first awaits), so
callers must call it in arrival order, which both messengers' loops do.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine, Hashable
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
MAX_CONCURRENT_UPDATES = 256


class PersonOrder:
    """Serialises work per key (a person); different keys run concurrently."""

    def __init__(self) -> None:
        # The last piece of work handed in for each key that is still running or waiting.
        self._last: dict[Hashable, asyncio.Future[None]] = {}

    def waiting(self) -> int:
        """How many people have work running or waiting (for tests and logs)."""
        return len(self._last)

    async def run(self, key: Hashable | None, work: Awaitable[T]) -> T:
        """Await ``work`` once every earlier piece of work for ``key`` has finished (``None``:
        no order to keep). If this is cancelled while waiting, ``work`` is never started."""
        if key is None:
            return await work
        previous = self._last.get(key)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last[key] = done
        try:
            if previous is not None:
                try:
                    await asyncio.shield(previous)
                except asyncio.CancelledError:
                    _close(work)
                    raise
            return await work
        finally:
            if previous is not None and not previous.done():
                # Cancelled while waiting: whoever comes next still waits for the one before.
                previous.add_done_callback(lambda _f: self._finish(key, done))
            else:
                self._finish(key, done)

    def _finish(self, key: Hashable, done: asyncio.Future[None]) -> None:
        done.set_result(None)
        if self._last.get(key) is done:
            del self._last[key]


def _close(work: Awaitable[Any]) -> None:
    """A coroutine that will never run: close it (no "never awaited" warning)."""
    if isinstance(work, Coroutine):
        work.close()


class OrderedTasks:
    """Work started in the background in arrival order, at most ``limit`` at once, each
    person's in turn; :meth:`drain` waits for what was started (a clean stop)."""

    def __init__(self, limit: int = MAX_CONCURRENT_UPDATES) -> None:
        self.order = PersonOrder()
        self._slots = asyncio.Semaphore(limit)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, key: Hashable | None, work: Coroutine[Any, Any, None]) -> None:
        """Start ``work`` (waiting first for a free slot when ``limit`` are running)."""
        await self._slots.acquire()
        # The order is taken here, synchronously, in the order start() was called.
        task = asyncio.create_task(self._run(key, work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: Hashable | None, work: Coroutine[Any, Any, None]) -> None:
        try:
            await self.order.run(key, work)
        except Exception:  # the handler's own errors are its to report; never lose the loop
            log.exception("handling an update failed")
        finally:
            self._slots.release()

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
