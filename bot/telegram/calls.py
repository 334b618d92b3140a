"""Bot API calls whose answers the bot reads as JSON, not as python-telegram-bot objects.

``Bot.send_message`` turns Telegram's answer (the whole message, its keyboard echoed back)
into a ``Message``; measured in-process, that parse and the keyboard's serialisation cost
150–220 µs per message with a keyboard, more than the conversation engine spends on a whole
step, for an object of which the bot reads at most the id. ``Bot.do_api_request`` is PTB's
public way to call any method: the same request object, rate limiter, defaults and error
mapping (``Forbidden``, ``RetryAfter``, ``BadRequest``…), but the answer stays JSON.

PTB warns when ``do_api_request`` is used for a method it also wraps; the warning is silenced
for exactly the methods below, and nowhere else.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import Any

from telegram import Bot
from telegram.warnings import PTBUserWarning

SEND = "sendMessage"
EDIT_TEXT = "editMessageText"
EDIT_MARKUP = "editMessageReplyMarkup"

warnings.filterwarnings(
    "ignore",
    message=rf"Please use 'Bot\.({SEND}|{EDIT_TEXT}|{EDIT_MARKUP})' instead",
    category=PTBUserWarning,
)

# A button as the Bot API takes it: {"text": …, "callback_data": …} or {"text": …, "url": …}.
Button = dict[str, str]


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def markup_json(rows: Sequence[Sequence[Button]]) -> str:
    """An inline keyboard, JSON-serialised the way the Bot API's ``reply_markup`` expects."""
    return _ENCODER.encode({"inline_keyboard": rows})


def url_keyboard(label: str, url: str) -> str:
    """One button opening a link."""
    return markup_json([[{"text": label, "url": url}]])


async def send_html(bot: Bot, chat_id: int, html: str, markup: str | None = None) -> int:
    """Send an HTML message (with its keyboard); returns the new message's id."""
    params: dict[str, Any] = {"chat_id": chat_id, "text": html, "parse_mode": "HTML"}
    if markup is not None:
        params["reply_markup"] = markup
    answer = await bot.do_api_request(SEND, api_kwargs=params)
    return int(answer["message_id"])


async def edit_html(
    bot: Bot, chat_id: int, message_id: int, html: str, markup: str | None = None
) -> None:
    """Replace a message's text (and keyboard: none unless given)."""
    params: dict[str, Any] = {
        "chat_id": chat_id,
        "message_id": message_id,
        "text": html,
        "parse_mode": "HTML",
    }
    if markup is not None:
        params["reply_markup"] = markup
    await bot.do_api_request(EDIT_TEXT, api_kwargs=params)


async def drop_keyboard(bot: Bot, chat_id: int, message_id: int) -> None:
    """Remove a message's inline keyboard."""
    params = {"chat_id": chat_id, "message_id": message_id}
    await bot.do_api_request(EDIT_MARKUP, api_kwargs=params)
