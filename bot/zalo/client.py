"""A small typed client for the Zalo Bot Platform HTTP API (``/bot<TOKEN>/<method>``).

Every call is a POST with a JSON body answered by ``{"ok": true, "result": …}`` or
``{"ok": false, "error_code": N, "description": "…"}``. Errors become exceptions that say what
to do about them: a bad token stops the bot at start-up, a blocked person is marked
unreachable, rate and quota limits are waited out, and a long poll with nothing new (HTTP 408)
is simply "no update".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

DEFAULT_BASE_URL = "https://bot-api.zaloplatforms.com"
MAX_TEXT = 2000  # characters per message (Zalo's sendMessage limit)
POLL_TIMEOUT_S = 30


class ZaloError(Exception):
    """The API answered ``ok: false``; ``code`` is its ``error_code`` (or the HTTP status)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(f"Zalo error {code}: {description}")
        self.code = code
        self.description = description


class Unauthorized(ZaloError):
    """The bot token is wrong or revoked: nothing will work until it is fixed."""


class Blocked(ZaloError):
    """The person blocked the bot or cannot be written to."""


class RateLimited(ZaloError):
    """Too many messages too fast: wait and try again."""


class QuotaExceeded(RateLimited):
    """The plan's monthly message quota is used up: messages must wait for the next period."""


class BadRequest(ZaloError):
    """A request Zalo refuses as it is (too long, unknown chat…): retrying will not help."""


@dataclass(frozen=True, slots=True)
class BotInfo:
    id: str
    name: str


def _error(code: int, description: str) -> ZaloError:
    lowered = description.lower()
    if code == 401:
        return Unauthorized(code, description)
    if code == 403 or "block" in lowered:
        return Blocked(code, description)
    if "quota" in lowered:
        return QuotaExceeded(code, description)
    if code == 429:
        return RateLimited(code, description)
    if 400 <= code < 500:
        return BadRequest(code, description)
    return ZaloError(code, description)


class ZaloClient:
    """One bot token's API; ``http`` may be shared, and is closed by :meth:`close` if owned."""

    def __init__(
        self,
        token: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{token}/"
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(10.0, read=POLL_TIMEOUT_S + 10)
        )

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def call(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        """POST one method; the ``result`` on success, a :class:`ZaloError` otherwise."""
        kwargs: dict[str, Any] = {"json": params or {}}
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(10.0, read=timeout)
        response = await self._http.post(self._url + method, **kwargs)
        try:
            body = response.json()
        except ValueError:
            raise _error(response.status_code, response.text[:200] or "no answer") from None
        if not isinstance(body, dict):
            raise ZaloError(response.status_code, "unexpected answer")
        if body.get("ok") is True:
            return body.get("result")
        code = body.get("error_code")
        raise _error(
            int(code) if isinstance(code, int) else response.status_code,
            str(body.get("description") or "unknown error"),
        )

    async def get_me(self) -> BotInfo:
        result = await self.call("getMe")
        return BotInfo(
            id=str(result.get("id", "")),
            name=str(result.get("account_name") or result.get("name") or ""),
        )

    async def get_updates(self, timeout: int = POLL_TIMEOUT_S) -> dict[str, Any] | None:
        """Wait up to ``timeout`` seconds for the next update; ``None`` when nothing came."""
        try:
            result = await self.call("getUpdates", {"timeout": str(timeout)}, timeout=timeout + 10)
        except ZaloError as error:
            if error.code == 408:
                return None
            raise
        return result if isinstance(result, dict) and result else None

    async def send_message(self, chat_id: str, text: str) -> str:
        """Send a text of at most 2,000 characters; the new message's id."""
        result = await self.call("sendMessage", {"chat_id": chat_id, "text": text})
        return str((result or {}).get("message_id", ""))

    async def send_chat_action(self, chat_id: str, action: str = "typing") -> None:
        await self.call("sendChatAction", {"chat_id": chat_id, "action": action})

    async def set_webhook(self, url: str, secret_token: str) -> None:
        await self.call("setWebhook", {"url": url, "secret_token": secret_token})

    async def delete_webhook(self) -> None:
        await self.call("deleteWebhook")
