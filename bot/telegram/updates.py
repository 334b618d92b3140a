"""python-telegram-bot's update processor for the bot: many people at once, each person's
updates in the order Telegram sent them (see :mod:`bot.ordering`)."""

from __future__ import annotations

from collections.abc import Awaitable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.ordering import MAX_CONCURRENT_UPDATES, PersonOrder


def person_of(update: object) -> Hashable | None:
    """Whose update this is: the sender, else the chat; ``None`` keeps no order."""
    if not isinstance(update, Update):
        return None
    user = update.effective_user
    if user is not None:
        return user.id
    chat = update.effective_chat
    return ("chat", chat.id) if chat is not None else None


class PersonOrderedUpdates(BaseUpdateProcessor):
    """Up to ``max_concurrent_updates`` updates at once, one at a time per person.

    python-telegram-bot enters :meth:`do_process_update` in the order updates arrived (its
    semaphore wakes waiters first come, first served), which is where the order is taken.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self.order = PersonOrder()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        await self.order.run(person_of(update), coroutine)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
