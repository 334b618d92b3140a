"""Delivers the union groups' outbox on any messenger: claim rows, keep to the messenger's
limits, send, record each result.

Why a courier of its own rather than a loop over "undelivered": a broadcast to thousands of
groups takes minutes at Telegram's ~30 messages/s, the process may die in the middle, and
several processes may share one database. So:

- rows are *claimed* for a while (``lease``): another process skips them meanwhile, and takes
  them over if this one dies; a row whose claim ran out here is not sent by this courier;
- the result of every send is committed right after it, so a restart resends at most the one
  message that was in flight when the process died;
- sends are paced by sliding windows (overall per second, per group per minute); a group that
  is full is skipped until it has room, so one busy group never holds up the others;
- 429 "retry after N" pauses every send for N seconds; a group that removed the bot (403, chat
  not found) is marked inactive; network trouble is retried with a growing delay, and given up
  on after ``max_attempts`` with the reason kept.

The messenger adapter supplies one coroutine that sends one notice and raises the exceptions
below; everything else is here, the same for Telegram and Zalo.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from conversations.engine import Engine
from conversations.ports import Group, GroupNotice

log = logging.getLogger(__name__)


class RetryAfter(Exception):
    """The messenger asks to wait (429)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds} s")
        self.seconds = seconds


class GroupGone(Exception):
    """The bot is no longer in this group (removed, blocked, chat not found)."""


class Refused(Exception):
    """The messenger refuses this message for good (too long, malformed)."""


class Transient(Exception):
    """A failure worth trying again later (network, a 5xx)."""


SendFn = Callable[[GroupNotice, Group], Awaitable[str]]


@dataclass(frozen=True, slots=True)
class Limits:
    """Telegram's published limits for bots: about 30 messages a second overall, 20 a minute
    to one group. ``margin`` keeps a little under them, as the server's clock is not ours."""

    per_second: int = 30
    per_group_per_minute: int = 20
    margin_s: float = 0.02


class Pacer:
    """Sliding windows over the sends made: the overall one is waited for, the per-group one
    only reported (the courier sends another group's notice meanwhile).

    A send is counted when its answer comes back, not when it leaves: the server saw it
    before answering, so however slow one request was, the next window starts after the
    server's. (Counting at departure let one request delayed by a garbage-collector pause
    put 31 sends into the server's second, and a 429 every second after that.)"""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._recent: deque[float] = deque()
        self._per_group: dict[str, deque[float]] = {}
        self._paused_until = 0.0

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    def group_wait(self, chat_id: str) -> float:
        """Seconds until ``chat_id`` may get another message (0: now)."""
        window = 60.0 + self.limits.margin_s
        sent = self._per_group.get(chat_id)
        if not sent:
            return 0.0
        now = self._clock()
        while sent and sent[0] <= now - window:
            sent.popleft()
        if len(sent) < self.limits.per_group_per_minute:
            return 0.0
        return sent[0] + window - now

    def overall_wait(self) -> float:
        now = self._clock()
        window = 1.0 + self.limits.margin_s
        while self._recent and self._recent[0] <= now - window:
            self._recent.popleft()
        wait = max(self._paused_until - now, 0.0)
        if len(self._recent) >= self.limits.per_second:
            wait = max(wait, self._recent[0] + window - now)
        return wait

    async def take(self) -> None:
        """Wait for an overall slot (one send at a time: count it with :meth:`sent`)."""
        while (wait := self.overall_wait()) > 0:
            await asyncio.sleep(wait)

    def sent(self, chat_id: str) -> None:
        """Count a send to ``chat_id`` whose answer just came back."""
        now = self._clock()
        self._recent.append(now)
        self._per_group.setdefault(chat_id, deque()).append(now)


def backoff(attempt: int) -> float:
    """Seconds before try ``attempt + 1`` after a transient failure: 2, 4, 8 … up to 5 min."""
    return float(min(2**attempt, 300))


class GroupCourier:
    """One messenger's courier for group notices; ``deliver()`` is one pass over what is due."""

    def __init__(
        self,
        engine: Engine,
        channel: str,
        send: SendFn,
        *,
        limits: Limits | None = None,
        lease_s: float = 60.0,
        batch: int = 30,
        max_attempts: int = 5,
        max_inline_wait_s: float = 10.0,
        worker: str | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        self.engine = engine
        self.channel = channel
        self._send = send
        self.pacer = pacer or Pacer(limits or Limits())
        self.lease_s = lease_s
        self.batch = batch
        self.max_attempts = max_attempts
        self.max_inline_wait_s = max_inline_wait_s
        self._hold_s: float | None = None  # set by a long "retry after": end the pass
        self.worker = worker or f"{os.getpid()}-{secrets.token_hex(3)}"

    async def deliver(self, stop: asyncio.Event | None = None) -> int:
        """Claim and send batches until nothing is due now (or ``stop`` is set: what is
        claimed and not sent is given back at once), then report the broadcasts that
        finished; the number delivered."""
        delivered = await self._deliver(stop)
        await self.engine.report_broadcasts()
        return delivered

    async def _deliver(self, stop: asyncio.Event | None) -> int:
        delivered = 0
        self._hold_s = None
        while True:
            claimed_at = time.monotonic()
            claimed = await self.engine.claim_group_notices(
                self.channel, worker=self.worker, lease_s=self.lease_s, limit=self.batch
            )
            if not claimed:
                return delivered
            for index, (notice, group) in enumerate(claimed):
                stopping = stop is not None and stop.is_set()
                if self._hold_s is not None or stopping:
                    # A long wait was asked for (or the process stops): give the rest back,
                    # due when the wait ends (at once).
                    wait = 0.0 if stopping or self._hold_s is None else self._hold_s
                    for rest, _group in claimed[index:]:
                        await self.engine.group_notice_retry(rest, after_s=wait, failed=False)
                    return delivered
                if time.monotonic() - claimed_at > self.lease_s * 0.8:
                    break  # the claim runs out: leave the rest to whoever takes them next
                delivered += await self._one(notice, group)
            if self._hold_s is not None:
                return delivered

    async def _one(self, notice: GroupNotice, group: Group) -> int:
        wait = self.pacer.group_wait(group.chat_id)
        if wait > 0:
            await self.engine.group_notice_retry(notice, after_s=wait, failed=False)
            return 0
        await self.pacer.take()
        try:
            reference = await self._send(notice, group)
        except RetryAfter as error:  # refused before it counted
            await self.engine.group_notice_retry(notice, after_s=error.seconds, failed=False)
            if error.seconds <= self.max_inline_wait_s:
                self.pacer.pause(error.seconds)
            else:  # an hour of quota, a long flood wait: the database holds the rows till then
                self._hold_s = error.seconds
            return 0
        except (GroupGone, Refused, Transient) as error:
            self.pacer.sent(group.chat_id)
            await self._failed(notice, group, error)
            return 0
        self.pacer.sent(group.chat_id)
        await self.engine.group_notice_done(notice, group, reference=reference or "sent")
        return 1

    async def _failed(self, notice: GroupNotice, group: Group, error: Exception) -> None:
        if isinstance(error, GroupGone):
            await self.engine.group_notice_done(notice, group, failed=str(error), group_gone=True)
        elif isinstance(error, Refused):
            log.error("%s refused group notice %s: %s", self.channel, notice.id, error)
            await self.engine.group_notice_done(notice, group, failed=str(error))
        else:
            tries = notice.attempts + 1
            if tries >= self.max_attempts:
                reason = f"gave up after {tries} tries: {error}"
                await self.engine.group_notice_done(notice, group, failed=reason)
            else:
                await self.engine.group_notice_retry(notice, after_s=backoff(tries), failed=True)
