"""Telegram's flood limits, counted on what they limit: messages.

Telegram allows a bot about 30 messages a second overall and 20 a minute per group.
python-telegram-bot's ``AIORateLimiter`` counts every call against the 30, so at a deadline
peak a button press (answer the button, retire its keyboard, send the next question) used
three of them. Answering a button press and showing "typing…" send no message: here they
skip the limiter; everything else is counted as before (edits included, to stay on the safe
side).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.ext import AIORateLimiter

JSONDict = dict[str, Any]
UNCOUNTED = frozenset({"answerCallbackQuery", "sendChatAction"})


class MessageRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` for the calls that send or change messages only."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | JSONDict | list[JSONDict]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | JSONDict | list[JSONDict]:
        if endpoint in UNCOUNTED:
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )
