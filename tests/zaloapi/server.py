"""An emulated Zalo Bot Platform API server on loopback, for end-to-end tests of a Zalo bot.

:class:`ZaloApiEmulator` speaks the Zalo Bot API's JSON over real HTTP on ``127.0.0.1``, so a
real HTTP client — in this process or in another one — can be pointed at it::

    with ZaloApiEmulator() as emu:
        base = f"{emu.base_url}/bot{emu.token}"       # the client appends /{method}
        emu.user_sends("a1b2c3", "Xin chào")
        ...                                            # run the bot
        emu.wait_for_message("a1b2c3", "Chào")

What the Zalo docs (bot.zaloplatforms.com) say and this follows:

- ``POST {base}/bot{TOKEN}/{method}`` with a JSON body; answers ``{"ok": true, "result": ...}``
  or ``{"ok": false, "error_code": N, "description": ...}``;
- ``getUpdates`` long-polls (``timeout`` in seconds, a string or a number, default 30) and
  answers ONE update as ``result`` (an object, not a list); there is no offset: an update is
  handed out once; nothing within ``timeout`` -> ``408 Request timeout``;
- ``getUpdates`` and a webhook exclude each other; ``setWebhook`` takes an HTTPS ``url`` and a
  ``secret_token`` of 8-256 characters that comes back in the ``X-Bot-Api-Secret-Token``
  header of every webhook POST;
- ``sendMessage`` text is 1-2000 characters; ``sendChatAction`` knows ``typing`` and
  ``upload_photo``; dates are Unix MILLISECONDS; ids are strings (users and chats: hex,
  messages: 20 hex digits, the bot: digits).

Where the docs are silent, this emulator chose (a bot should not rely on more than this):

- GET is accepted too, and so are query strings and form-encoded bodies (values are then
  strings); a body without a content type is read as JSON; method names are case-SENSITIVE
  (``sendmessage`` is ``404 Not Found``); a wrong token is ``401 Unauthorized``;
- the HTTP status equals ``error_code`` when that is a valid HTTP status, else it is 400;
- a second ``getUpdates`` while one is parked gets ``409 Conflict`` at once (the first one
  keeps waiting) — unless the first one's client has gone away (a cancelled long poll), in
  which case the new one takes over; an update is never handed to a client that went away;
- ``getUpdates`` while a webhook is set is ``400`` (also for a poll parked when the webhook
  gets set); ``timeout`` that is not a non-negative number is ``400``;
- the webhook POST body is ``{"ok": true, "result": <update>}`` — the very object getUpdates
  answers (third-party handlers unwrap ``result``; some also accept a bare update, so a bot
  should accept both) — or, with ``webhook_envelope=False``, the bare update;
  ``http://127.0.0.1``/``http://localhost`` URLs are accepted besides HTTPS, for tests;
- a delivery that does not get a 2xx answer (or fails to connect, or takes longer than
  ``webhook_timeout``) is retried ``webhook_retries`` times (default 2) after
  ``webhook_retry_delay`` seconds (default 0.2); then the update is dropped. Deliveries are
  sequential, in order. Deleting the webhook during the retry pause puts the update back at the
  head of the queue, for getUpdates; updates pending when a webhook is set are POSTed to it;
- text length is counted in Python characters (code points) on the text as sent, WITHOUT
  stripping, but a text that is empty after stripping is rejected too (``"text length must be
  from 1 to 2000"``); captions follow the same 2000 limit; an empty caption is no caption;
- a chat is known once a user wrote from it (private chat id == user id); sending to an
  unknown chat is ``400 "chat not found"``; to a user who blocked the bot ``403 "bot was
  blocked by the user"`` (sends and chat actions); order of checks: parameters (400), chat
  (400/403), then quota (429);
- the quota (:meth:`ZaloApiEmulator.set_quota`) counts successful sendMessage, sendPhoto and
  sendSticker calls; chat actions are free;
- ``sendChatAction`` answers ``{"ok": true, "result": true}``;
- ``getWebhookInfo`` without any webhook ever set says ``updated_at: 0``.

Not emulated: groups beyond the ``chat_type`` field, photo downloads, parse modes, the
upload_photo action's real-world "coming soon" status.

Everything here is standard library only and thread-safe: the HTTP server and the webhook
deliverer run in daemon threads and all state sits behind one lock, so tests may drive and
observe it from any thread. The blocking ``wait_*`` helpers have ``*_async`` twins for tests
whose bot runs on the test's own event loop.
"""

from __future__ import annotations

import asyncio
import collections
import copy
import functools
import http.client
import json
import math
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.loopback import Abandoned, Fault, LoopbackEmulator, LoopbackHandler, Response

__all__ = ["ApiError", "ZaloApiEmulator"]

MAX_TEXT_LENGTH = 2000
MAX_CAPTION_LENGTH = 2000
MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 256
DEFAULT_POLL_TIMEOUT = 30.0
CHAT_ACTIONS = frozenset({"typing", "upload_photo"})
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendSticker"})
CHAT_TYPES = frozenset({"PRIVATE", "GROUP"})
SECRET_HEADER = "X-Bot-Api-Secret-Token"

_HTTP_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request timeout",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class ApiError(Exception):
    """An error answer: ``error_code`` and ``description``; HTTP ``status`` (see module doc)."""

    def __init__(self, error_code: int, description: str, *, status: int | None = None) -> None:
        super().__init__(f"{error_code}: {description}")
        self.error_code = error_code
        self.description = description
        if status is None:
            status = error_code if 100 <= error_code <= 599 else 400
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error_code": self.error_code, "description": self.description}


def _bad(description: str) -> ApiError:
    return ApiError(400, description)


def new_id(nbytes: int = 10) -> str:
    """A random lowercase hex id (``nbytes=10`` -> 20 hex digits, like Zalo's message ids)."""
    return secrets.token_hex(nbytes)


# --------------------------------------------------------------------------------------------
# State


@dataclass
class _Chat:
    id: str
    type: str  # "PRIVATE" | "GROUP"
    user_id: str | None = None  # private: the other party
    sent: list[dict[str, Any]] = field(default_factory=list)  # the bot's messages
    actions: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(LoopbackHandler):
    server_version = "ZaloBotPlatformEmulator/1.0"

    def respond(self, body: bytes) -> Response:
        return self.server.emulator._handle_http(
            self.path, self.headers.get("Content-Type"), body, self.client_alive
        )


def _decode_request(content_type: str | None, body: bytes, query: str) -> dict[str, Any]:
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    if not body.strip():
        return params
    kind = (content_type or "").partition(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind in ("", "application/json", "text/json") or kind.endswith("+json"):
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise _bad("invalid JSON body") from None
        if not isinstance(decoded, dict):
            raise _bad("JSON body must be an object")
        params.update(decoded)
    else:
        raise _bad(f"unsupported content type {kind!r}: send JSON")
    return params


# --------------------------------------------------------------------------------------------
# The emulator


class ZaloApiEmulator(LoopbackEmulator):
    """A Zalo Bot Platform API server on ``127.0.0.1`` with a test API to act and observe.

    Test API (all thread-safe):

    - drive: :meth:`user_sends`, :meth:`user_sends_image`, :meth:`user_sends_sticker`,
      :meth:`user_sends_unsupported`, :meth:`duplicate_last_update`;
    - faults: :meth:`fail_next`, :meth:`delay_next`, :meth:`disconnect_next`, :meth:`block`,
      :meth:`unblock`, :meth:`set_quota`;
    - observe: :meth:`sent`, :meth:`last_sent`, :meth:`texts`, :attr:`calls`,
      :meth:`calls_to`, :meth:`chat_actions`, :attr:`webhook`, :attr:`webhook_deliveries`,
      :attr:`pending_updates`, :attr:`polling`, :attr:`quota_remaining`, :attr:`errors`;
    - wait: :meth:`wait_for`, :meth:`wait_for_message`, :meth:`wait_idle` and their
      ``*_async`` twins.
    """

    _name = "ZaloApiEmulator"
    _handler = _Handler
    _api_error = ApiError
    _content_type = "application/json; charset=utf-8"
    _polls_are_activity = True

    def __init__(
        self,
        token: str = "1234567890:ZALO-TEST",
        *,
        account_name: str = "bot.sangkien",
        bot_id: str | None = None,
        webhook_envelope: bool = True,
        webhook_retries: int = 2,
        webhook_retry_delay: float = 0.2,
        webhook_timeout: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        prefix = token.partition(":")[0]
        self.token = token
        self.bot_id = bot_id or (prefix if prefix.isdigit() else "1234567890")
        self.account_name = account_name
        self.webhook_envelope = webhook_envelope
        self.webhook_retries = webhook_retries
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_timeout = webhook_timeout
        self._clock = clock
        super().__init__()
        self._deliverer: threading.Thread | None = None

        self._users: dict[str, dict[str, Any]] = {}
        self._chats: dict[str, _Chat] = {}
        self._blocked: set[str] = set()
        self._updates: collections.deque[dict[str, Any]] = collections.deque()
        self._last_update: dict[str, Any] | None = None
        self._poller: tuple[int, Callable[[], bool]] | None = None
        self._poll_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._webhook_updated_at = 0
        self._deliveries: list[dict[str, Any]] = []
        self._delivering = 0
        self._quota: int | None = None

        self._methods: dict[str, Callable[[dict[str, Any], Callable[[], bool]], Any]] = {
            "getMe": self._api_getMe,
            "getUpdates": self._api_getUpdates,
            "setWebhook": self._api_setWebhook,
            "deleteWebhook": self._api_deleteWebhook,
            "getWebhookInfo": self._api_getWebhookInfo,
            "sendMessage": self._api_sendMessage,
            "sendPhoto": self._api_sendPhoto,
            "sendSticker": self._api_sendSticker,
            "sendChatAction": self._api_sendChatAction,
        }

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        """Bind ``127.0.0.1`` on a free port and serve (and deliver webhooks) in daemon threads."""
        if self._server is not None:
            return self
        super().start()
        self._deliverer = threading.Thread(
            target=self._delivery_loop, name=f"ZaloApiEmulator:{self.port}:webhook", daemon=True
        )
        self._deliverer.start()
        return self

    def stop(self) -> None:
        """Stop serving: long polls end, open connections are closed, deliveries stop."""
        super().stop()

    def _join_threads(self) -> None:
        for thread in (self._thread, self._deliverer):
            if thread is not None:
                thread.join(timeout=self.webhook_timeout + 1)
        self._thread = self._deliverer = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``: the client appends ``/bot{token}/{method}``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """``{base_url}/bot{token}``: append ``/{method}``."""
        return f"{self.base_url}/bot{self.token}"

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        error_code: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of doing them.

        The HTTP status is ``status``; the body's ``error_code`` is ``error_code`` (default:
        ``status``); ``description`` defaults to the status's usual phrase.
        """
        error = ApiError(
            status if error_code is None else error_code,
            description or _HTTP_PHRASES.get(status, "Error"),
            status=status,
        )
        self._add_fault(method, Fault("error", error=error), times)

    def block(self, user_id: str) -> None:
        """The user blocks the bot: sends and chat actions to their private chat get 403."""
        with self._lock:
            self._blocked.add(user_id)
            self._notify()

    def unblock(self, user_id: str) -> None:
        with self._lock:
            self._blocked.discard(user_id)
            self._notify()

    def set_quota(self, n: int | None) -> None:
        """Allow ``n`` more successful sends, then answer 429 "Quota exceeded"; None: no limit."""
        if n is not None and n < 0:
            raise ValueError("the quota must be >= 0 or None")
        with self._lock:
            self._quota = n
            self._notify()

    # ---------------------------------------------------------------- acting as people

    def user_sends(
        self,
        user_id: str,
        text: str,
        *,
        display_name: str = "Lan",
        chat_id: str | None = None,
        chat_type: str = "PRIVATE",
    ) -> dict[str, Any]:
        """A user writes ``text`` to the bot; returns the update (as the bot will get it)."""
        return self._user_event(
            "message.text.received",
            user_id,
            {"text": text},
            display_name=display_name,
            chat_id=chat_id,
            chat_type=chat_type,
        )

    def user_sends_image(
        self,
        user_id: str,
        *,
        photo_url: str = "https://zalo.example/photo/1.jpg",
        caption: str | None = None,
        display_name: str = "Lan",
        chat_id: str | None = None,
        chat_type: str = "PRIVATE",
    ) -> dict[str, Any]:
        """A user sends a picture (Zalo hands out its URL, ``message_type: CHAT_PHOTO``)."""
        fields: dict[str, Any] = {"photo_url": photo_url, "message_type": "CHAT_PHOTO"}
        if caption is not None:
            fields["caption"] = caption
        return self._user_event(
            "message.image.received",
            user_id,
            fields,
            display_name=display_name,
            chat_id=chat_id,
            chat_type=chat_type,
        )

    def user_sends_sticker(
        self,
        user_id: str,
        sticker: str = "abc123",
        *,
        display_name: str = "Lan",
        chat_id: str | None = None,
        chat_type: str = "PRIVATE",
    ) -> dict[str, Any]:
        return self._user_event(
            "message.sticker.received",
            user_id,
            {"sticker": sticker},
            display_name=display_name,
            chat_id=chat_id,
            chat_type=chat_type,
        )

    def user_sends_unsupported(
        self,
        user_id: str,
        *,
        display_name: str = "Lan",
        chat_id: str | None = None,
        chat_type: str = "PRIVATE",
    ) -> dict[str, Any]:
        """Something the platform does not pass on (voice, file...): no content at all."""
        return self._user_event(
            "message.unsupported.received",
            user_id,
            {},
            display_name=display_name,
            chat_id=chat_id,
            chat_type=chat_type,
        )

    def duplicate_last_update(self) -> dict[str, Any]:
        """Deliver the last user update once more, same ``message_id`` (Zalo may redeliver)."""
        with self._lock:
            if self._last_update is None:
                raise RuntimeError("no update to duplicate: no user sent anything yet")
            return self._enqueue(self._last_update)

    def _user_event(
        self,
        event_name: str,
        user_id: str,
        fields: dict[str, Any],
        *,
        display_name: str,
        chat_id: str | None,
        chat_type: str,
    ) -> dict[str, Any]:
        user_id = str(user_id)
        if chat_type not in CHAT_TYPES:
            raise ValueError(f"chat_type must be one of {sorted(CHAT_TYPES)}")
        if chat_type == "PRIVATE":
            if chat_id is not None and str(chat_id) != user_id:
                raise ValueError("a PRIVATE chat's id is the user's id")
            chat_id = user_id
        elif chat_id is None:
            raise ValueError("a GROUP message needs a chat_id")
        chat_id = str(chat_id)
        with self._lock:
            sender = {"id": user_id, "display_name": display_name, "is_bot": False}
            self._users[user_id] = sender
            chat = self._chats.get(chat_id)
            if chat is None:
                chat = _Chat(
                    id=chat_id,
                    type=chat_type,
                    user_id=user_id if chat_type == "PRIVATE" else None,
                )
                self._chats[chat_id] = chat
            message: dict[str, Any] = {
                "from": dict(sender),
                "chat": {"id": chat_id, "chat_type": chat.type},
                **fields,
                "message_id": new_id(),
                "date": self._now_ms(),
            }
            update = {"event_name": event_name, "message": message}
            self._last_update = copy.deepcopy(update)
            return self._enqueue(update)

    # ---------------------------------------------------------------- observing

    def sent(self, chat_id: str) -> list[dict[str, Any]]:
        """The bot's messages to that chat, oldest first.

        Texts are ``{"message_id", "text", "date"}``, photos ``{"message_id", "photo",
        "caption"?, "date"}``, stickers ``{"message_id", "sticker", "date"}``.
        """
        with self._lock:
            chat = self._chats.get(str(chat_id))
            return copy.deepcopy(chat.sent) if chat else []

    def last_sent(self, chat_id: str) -> dict[str, Any] | None:
        messages = self.sent(chat_id)
        return messages[-1] if messages else None

    def texts(self, chat_id: str) -> list[str]:
        """The texts of the bot's text messages to that chat, oldest first."""
        return [m["text"] for m in self.sent(chat_id) if "text" in m]

    def chat_actions(self, chat_id: str) -> list[str]:
        """The chat actions (``typing`` ...) the bot sent to that chat, in order."""
        with self._lock:
            chat = self._chats.get(str(chat_id))
            return list(chat.actions) if chat else []

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every API call with the right token, in order: ``(method, params)`` as received."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of ``method``, in order."""
        return [params for name, params in self.calls if name == method]

    @property
    def webhook(self) -> dict[str, Any] | None:
        """``{"url", "secret_token", "updated_at"}`` while a webhook is set, else None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    @property
    def webhook_deliveries(self) -> list[dict[str, Any]]:
        """One entry per webhook POST attempt, in order.

        ``{"url", "event_name", "message_id", "attempt" (1-based), "status" (HTTP status or
        None), "error" (None or why no status), "ok" (2xx), "update"}``.
        """
        with self._lock:
            return copy.deepcopy(self._deliveries)

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not handed out yet (neither by getUpdates nor to the webhook)."""
        with self._lock:
            return copy.deepcopy(list(self._updates))

    @property
    def polling(self) -> bool:
        """Whether a getUpdates call is parked, waiting for an update."""
        with self._lock:
            return self._poller is not None

    @property
    def quota_remaining(self) -> int | None:
        with self._lock:
            return self._quota

    # ---------------------------------------------------------------- waiting

    def wait_for_message(self, chat_id: str, contains: str, timeout: float = 10) -> dict[str, Any]:
        """Wait until a bot message to that chat contains ``contains`` (text or caption).

        Returns the newest such message.
        """
        found: list[dict[str, Any]] = []

        def check() -> bool:
            for message in reversed(self.sent(chat_id)):
                if contains in (message.get("text") or message.get("caption") or ""):
                    found.append(message)
                    return True
            return False

        self.wait_for(check, timeout, message=f"no bot message to {chat_id} with {contains!r}")
        return found[-1]

    def wait_idle(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """Wait until every update was taken, no call (but a parked getUpdates) or webhook
        delivery is in progress, and nothing happened for ``quiet`` seconds."""

        def settled() -> bool:
            return not self._updates and self._in_flight == 0 and self._delivering == 0

        self._wait_quiet(settled, quiet, timeout)

    async def wait_for_message_async(
        self, chat_id: str, contains: str, timeout: float = 10
    ) -> dict[str, Any]:
        """:meth:`wait_for_message` without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for_message, chat_id, contains, timeout)

    def _diagnosis(self) -> list[str]:
        lines: list[str] = []
        if self._updates:
            lines.append(f"  ({len(self._updates)} update(s) not handed out yet)")
        if self._webhook:
            lines.append(f"  webhook: {self._webhook['url']}")
        return lines

    # ---------------------------------------------------------------- internals: state

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    def _enqueue(self, update: dict[str, Any]) -> dict[str, Any]:
        self._updates.append(copy.deepcopy(update))
        self._notify()
        return copy.deepcopy(update)

    # ---------------------------------------------------------------- internals: HTTP

    def _handle_http(
        self,
        raw_path: str,
        content_type: str | None,
        body: bytes,
        alive: Callable[[], bool],
    ) -> Response:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        try:
            method = self._api_method(path)
            params = _decode_request(content_type, body, parts.query)
        except ApiError as error:
            return self._error(error)
        api = self._methods.get(method)
        call = functools.partial(api, params, alive) if api is not None else None
        return self._serve_call(method, copy.deepcopy(params), call)

    # ---------------------------------------------------------------- internals: params

    @staticmethod
    def _str_param(params: dict[str, Any], name: str) -> str | None:
        value = params.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise _bad(f"{name} must be a string")
        return str(value)

    def _chat_for_sending(self, params: dict[str, Any]) -> _Chat:
        chat_id = self._str_param(params, "chat_id")
        if not chat_id:
            raise _bad("chat_id is required")
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        if chat.type == "PRIVATE" and chat.user_id in self._blocked:
            raise ApiError(403, "bot was blocked by the user")
        return chat

    def _check_quota(self) -> None:
        if self._quota is not None and self._quota <= 0:
            raise ApiError(429, "Quota exceeded")

    def _record_send(self, chat: _Chat, fields: dict[str, Any]) -> dict[str, Any]:
        if self._quota is not None:
            self._quota -= 1
        message = {"message_id": new_id(), **fields, "date": self._now_ms()}
        chat.sent.append(message)
        self._notify()
        return {"message_id": message["message_id"], "date": message["date"]}

    @staticmethod
    def _checked_text(value: str | None, name: str, limit: int) -> str:
        if value is None or not value.strip() or len(value) > limit:
            raise _bad(f"{name} length must be from 1 to {limit}")
        return value

    # ---------------------------------------------------------------- the API

    def _api_getMe(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        return {
            "id": self.bot_id,
            "account_name": self.account_name,
            "account_type": "BASIC",
            "can_join_groups": False,
        }

    def _api_getUpdates(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        raw = params.get("timeout")
        if raw is None or raw == "":
            timeout = DEFAULT_POLL_TIMEOUT
        else:
            try:
                timeout = float(str(raw).strip()) if not isinstance(raw, bool) else math.nan
            except ValueError:
                timeout = math.nan
            if not math.isfinite(timeout) or timeout < 0:
                raise _bad("timeout must be a non-negative number of seconds")
        if self._webhook is not None:
            raise self._webhook_active()
        if self._poller is not None:
            if self._poller[1]():
                raise ApiError(409, "Conflict: another getUpdates request is in progress")
            self._poll_generation += 1  # its client is gone: end that poll, take over
        self._poll_generation += 1
        generation = self._poll_generation
        self._poller = (generation, alive)
        self._notify()
        try:
            deadline = time.monotonic() + timeout
            while True:
                if self._poll_generation != generation or self._stopping:
                    raise Abandoned
                if self._webhook is not None:
                    raise self._webhook_active()
                if self._updates:
                    if not alive():
                        raise Abandoned  # keep the update for the next poll
                    update = self._updates.popleft()
                    self._touch()
                    return update
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ApiError(408, "Request timeout")
                self._cond.wait(min(remaining, 0.1))
                if not alive():
                    raise Abandoned
        finally:
            if self._poller is not None and self._poller[0] == generation:
                self._poller = None
                self._notify()

    @staticmethod
    def _webhook_active() -> ApiError:
        return _bad("webhook is active, delete it before using getUpdates")

    def _api_setWebhook(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        url = (self._str_param(params, "url") or "").strip()
        secret = self._str_param(params, "secret_token") or ""
        if not url:
            raise _bad("url is required")
        parts = urlsplit(url)
        loopback = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost")
        if not (parts.scheme == "https" or loopback) or not parts.hostname:
            raise _bad("url must be an HTTPS URL")
        if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
            raise _bad(
                f"secret_token length must be from {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH}"
            )
        self._webhook_updated_at = self._now_ms()
        self._webhook = {
            "url": url,
            "secret_token": secret,
            "updated_at": self._webhook_updated_at,
        }
        self._notify()  # a parked getUpdates now fails; the deliverer wakes up
        return {"url": url, "updated_at": self._webhook_updated_at}

    def _api_deleteWebhook(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        if self._webhook is not None:
            self._webhook = None
            self._webhook_updated_at = self._now_ms()
            self._notify()
        return {"url": "", "updated_at": self._webhook_updated_at}

    def _api_getWebhookInfo(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        url = self._webhook["url"] if self._webhook else ""
        return {"url": url, "updated_at": self._webhook_updated_at}

    def _api_sendMessage(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        text = self._checked_text(self._str_param(params, "text"), "text", MAX_TEXT_LENGTH)
        chat = self._chat_for_sending(params)
        self._check_quota()
        return self._record_send(chat, {"text": text})

    def _api_sendPhoto(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        photo = (self._str_param(params, "photo") or "").strip()
        if not photo:
            raise _bad("photo is required")
        if not re.match(r"https?://[^\s/]+", photo):
            raise _bad("photo must be an HTTP(S) URL")
        caption = self._str_param(params, "caption")
        fields: dict[str, Any] = {"photo": photo}
        if caption:
            fields["caption"] = self._checked_text(caption, "caption", MAX_CAPTION_LENGTH)
        chat = self._chat_for_sending(params)
        self._check_quota()
        return self._record_send(chat, fields)

    def _api_sendSticker(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        sticker = (self._str_param(params, "sticker") or "").strip()
        if not sticker:
            raise _bad("sticker is required")
        chat = self._chat_for_sending(params)
        self._check_quota()
        return self._record_send(chat, {"sticker": sticker})

    def _api_sendChatAction(self, params: dict[str, Any], alive: Callable[[], bool]) -> Any:
        action = (self._str_param(params, "action") or "").strip()
        if action not in CHAT_ACTIONS:
            raise _bad(f"action must be one of: {', '.join(sorted(CHAT_ACTIONS))}")
        chat = self._chat_for_sending(params)
        chat.actions.append(action)
        self._notify()
        return True

    # ---------------------------------------------------------------- internals: webhook

    def _delivery_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopping and not (self._webhook and self._updates):
                    self._cond.wait(0.5)
                if self._stopping:
                    return
                update = self._updates.popleft()
                self._delivering += 1
                self._touch()
            try:
                self._deliver(update)
            except Exception as exc:  # a bug in the emulator: make it visible
                with self._lock:
                    self.errors.append(exc)
            finally:
                with self._lock:
                    self._delivering -= 1
                    self._touch()

    def _deliver(self, update: dict[str, Any]) -> None:
        attempts = 1 + max(0, self.webhook_retries)
        for attempt in range(1, attempts + 1):
            with self._lock:
                hook = copy.deepcopy(self._webhook)
                if hook is None or self._stopping:
                    self._updates.appendleft(update)  # back to getUpdates
                    self._notify()
                    return
            status, error = self._post(hook, update)
            ok = status is not None and 200 <= status < 300
            with self._lock:
                self._deliveries.append(
                    {
                        "url": hook["url"],
                        "event_name": update.get("event_name"),
                        "message_id": update.get("message", {}).get("message_id"),
                        "attempt": attempt,
                        "status": status,
                        "error": error,
                        "ok": ok,
                        "update": copy.deepcopy(update),
                    }
                )
                self._touch()
                if ok or attempt == attempts:
                    return  # delivered, or given up: the update is dropped
                deadline = time.monotonic() + self.webhook_retry_delay
                while not self._stopping and (remaining := deadline - time.monotonic()) > 0:
                    self._cond.wait(remaining)

    def _post(self, hook: dict[str, Any], update: dict[str, Any]) -> tuple[int | None, str | None]:
        payload = {"ok": True, "result": update} if self.webhook_envelope else update
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        parts = urlsplit(hook["url"])
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = connection_class(
            parts.hostname or "", parts.port, timeout=self.webhook_timeout
        )
        try:
            connection.request(
                "POST",
                target,
                body,
                headers={
                    "Content-Type": "application/json",
                    SECRET_HEADER: hook["secret_token"],
                    "User-Agent": "ZaloBotPlatformEmulator/1.0",
                },
            )
            response = connection.getresponse()
            response.read()
            return response.status, None
        except Exception as exc:  # refused, timed out, or not loopback under the test guard
            return None, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
