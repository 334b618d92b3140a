"""An in-process Bot API for python-telegram-bot: a ``BaseRequest`` that answers like the server.

The way python-telegram-bot's own suite tests offline: the real ``Bot``, ``Application`` and
handlers run, and only the HTTP call is replaced. Every call is recorded; any method can be
told to fail (network error, 403 blocked, 429 with ``retry_after``) a number of times.
Updates are built from Bot API JSON, as Telegram would send them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import NetworkError
from telegram.ext import Application, ApplicationBuilder, BaseUpdateProcessor
from telegram.request import BaseRequest, RequestData

from bot.telegram.adapter import TelegramAdapter
from bot.telegram.limits import MessageRateLimiter
from conversations.engine import Engine

BOT = {"id": 777, "is_bot": True, "first_name": "Sáng kiến", "username": "sangkien_bot"}


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    network: bool = False


@dataclass
class OfflineBotApi(BaseRequest):
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    latency_s: float = 0.0  # how long each answer takes to come back (a network round trip)
    failures: dict[str, list[Failure]] = field(default_factory=lambda: defaultdict(list))
    _ids: Any = field(default_factory=lambda: itertools.count(100))

    # BaseRequest's abstract members
    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        name = url.rsplit("/", 1)[-1]
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        params = dict(request_data.parameters) if request_data else {}
        if isinstance(params.get("reply_markup"), str):  # as Telegram reads it
            params["reply_markup"] = json.loads(params["reply_markup"])
        self.calls.append((name, params))
        if self.failures[name]:
            failure = self.failures[name].pop(0)
            if failure.network:
                raise NetworkError("connection reset")
            body: dict[str, Any] = {
                "ok": False,
                "error_code": failure.status,
                "description": failure.description,
            }
            if failure.retry_after is not None:
                body["parameters"] = {"retry_after": failure.retry_after}
            return failure.status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": self._result(name, params)}).encode()

    def _result(self, name: str, params: dict[str, Any]) -> Any:
        if name == "getMe":
            return BOT
        if name in ("sendMessage", "editMessageText", "editMessageReplyMarkup"):
            chat_id = params.get("chat_id", 1)
            message: dict[str, Any] = {
                "message_id": params.get("message_id") or next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if int(chat_id) > 0 else "group"},
                "from": BOT,
                "text": params.get("text", "…"),
            }
            if "reply_markup" in params:
                message["reply_markup"] = params["reply_markup"]
            return message
        return True

    def fail(self, method: str, failure: Failure, times: int = 1) -> None:
        self.failures[method].extend([failure] * times)

    # what the bot did
    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        return [params for name, params in self.calls if name == method]

    def texts(self) -> list[str]:
        return [str(params["text"]) for params in self.sent()]

    def clear(self) -> None:
        self.calls.clear()


async def offline_application(
    engine: Engine,
    *,
    rate_limited: bool = True,
    updates: BaseUpdateProcessor | None = None,
    latency_s: float = 0.0,
) -> tuple[Application, OfflineBotApi]:  # type: ignore[type-arg]
    """The real Application and adapter on the in-process Bot API; ``rate_limited=False``
    leaves out Telegram's 30 messages/s limiter (benchmarks measure the bot, not the limit);
    ``updates``: how queued updates are processed (PTB's default: one at a time)."""
    api = OfflineBotApi(latency_s=latency_s)
    builder = ApplicationBuilder().token("777:OFFLINE").request(api).get_updates_request(api)
    if updates is not None:
        builder = builder.concurrent_updates(updates)
    if rate_limited:
        builder = builder.rate_limiter(MessageRateLimiter(max_retries=2))
    application = builder.build()
    adapter = TelegramAdapter(engine)
    adapter.install(application)
    application.bot_data["adapter"] = adapter
    await application.initialize()
    return application, api


# ------------------------------------------------------------------------------ updates
_update_ids = itertools.count(1)
_message_ids = itertools.count(1)


def user(user_id: int = 42, *, language_code: str = "vi") -> dict[str, Any]:
    return {
        "id": user_id,
        "is_bot": False,
        "first_name": "Lan",
        "last_name": "Nguyễn Thị",
        "language_code": language_code,
    }


def message_update(
    text: str | None = None,
    *,
    user_id: int = 42,
    chat: dict[str, Any] | None = None,
    language_code: str = "vi",
    **extra: Any,
) -> dict[str, Any]:
    sender = user(user_id, language_code=language_code)
    message: dict[str, Any] = {
        "message_id": next(_message_ids),
        "date": int(time.time()),
        "chat": chat or {"id": user_id, "type": "private", "first_name": "Lan"},
        "from": sender,
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split(" ", 1)[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": next(_update_ids), "message": message}


def callback_update(
    data: str, *, message: dict[str, Any], user_id: int = 42, language_code: str = "vi"
) -> dict[str, Any]:
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cq{next(_update_ids)}",
            "from": user(user_id, language_code=language_code),
            "chat_instance": "-4242",
            "data": data,
            "message": message,
        },
    }


def bot_message(sent: dict[str, Any], message_id: int = 500) -> dict[str, Any]:
    """The message the bot sent (as the server would hand it back inside a callback query)."""
    return {
        "message_id": message_id,
        "date": int(time.time()),
        "chat": {"id": sent["chat_id"], "type": "private", "first_name": "Lan"},
        "from": BOT,
        "text": sent["text"],
        "reply_markup": sent.get("reply_markup"),
    }


async def feed(application: Application, data: dict[str, Any]) -> None:  # type: ignore[type-arg]
    await application.process_update(Update.de_json(data, application.bot))
