"""Runs the Zalo bot: long polling by default, or a webhook server with the secret checked.

One poller per token (Zalo hands each update to one getUpdates call), a short pause after an
empty or failed poll. Updates are handled many people at once, each person's in arrival
order (:mod:`bot.ordering`); the next poll does not wait for the replies. In webhook mode
every request without the right ``X-Bot-Api-Secret-Token`` header gets 403 and is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any

import tornado.web
from tornado.httpserver import HTTPServer

from bot.config import Settings
from bot.ordering import OrderedTasks
from bot.ticker import repeat_until
from bot.zalo.adapter import ZaloAdapter, sender_of
from bot.zalo.client import DEFAULT_BASE_URL, Unauthorized, ZaloClient, ZaloError
from conversations.engine import Engine

log = logging.getLogger(__name__)
POLL_TIMEOUT_S = 30
PAUSE_AFTER_EMPTY_S = 0.5
PAUSE_AFTER_ERROR_S = 3.0
DELIVER_EVERY_S = 5.0


class ZaloTokenRefused(RuntimeError):
    """Zalo says the token is not valid: the bot cannot start on Zalo."""


async def run_zalo(engine: Engine, settings: Settings, stop: asyncio.Event) -> None:
    assert settings.zalo_token
    client = ZaloClient(settings.zalo_token, base_url=settings.zalo_api_url or DEFAULT_BASE_URL)
    try:
        try:
            me = await client.get_me()
        except Unauthorized as error:
            raise ZaloTokenRefused(
                "ZALO_BOT_TOKEN was refused by Zalo (check it in Zalo Bot Creator)"
            ) from error
        adapter = ZaloAdapter(engine, client, lease_s=settings.delivery_lease_s)
        courier = asyncio.create_task(_deliver_until(adapter, stop))
        if settings.zalo_webhook_url:
            await _serve_webhook(adapter, client, settings, stop)
        else:
            with contextlib.suppress(ZaloError):
                await client.delete_webhook()  # getUpdates works only without a webhook
            log.warning("Zalo bot %s is polling for updates", me.name or me.id)
            await _poll(adapter, client, stop)
        await courier
    finally:
        await client.close()


async def _poll(adapter: ZaloAdapter, client: ZaloClient, stop: asyncio.Event) -> None:
    handling = OrderedTasks()
    try:
        await _poll_into(handling, adapter, client, stop)
    finally:
        await handling.drain()


async def _poll_into(
    handling: OrderedTasks, adapter: ZaloAdapter, client: ZaloClient, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        poll = asyncio.create_task(client.get_updates(POLL_TIMEOUT_S))
        stopping = asyncio.create_task(stop.wait())
        done, _pending = await asyncio.wait({poll, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if stopping in done:
            poll.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await poll
            return
        stopping.cancel()
        try:
            update = poll.result()
        except (ZaloError, OSError) as error:
            log.warning("Zalo getUpdates failed: %s", error)
            await asyncio.sleep(PAUSE_AFTER_ERROR_S)
            continue
        if update is None:
            await asyncio.sleep(PAUSE_AFTER_EMPTY_S)
            continue
        await handling.start(sender_of(update), adapter.handle_update(update))


async def _deliver_until(adapter: ZaloAdapter, stop: asyncio.Event) -> None:
    """People's and groups' notices, each in a loop of its own."""
    await asyncio.gather(
        repeat_until(adapter.deliver_notices, stop, DELIVER_EVERY_S, what="Zalo notices"),
        repeat_until(
            lambda: adapter.deliver_group_notices(stop),
            stop,
            DELIVER_EVERY_S,
            what="Zalo group notices",
        ),
    )


class _WebhookHandler(tornado.web.RequestHandler):
    def initialize(self, secret: str, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.secret = secret
        self.queue = queue

    async def post(self) -> None:
        given = self.request.headers.get("X-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.set_status(403)
            return
        try:
            update = json.loads(self.request.body or b"{}")
        except ValueError:
            self.set_status(400)
            return
        if isinstance(update, dict):
            # Zalo wraps the update in "result" in some deliveries; accept both shapes.
            inner = update.get("result")
            await self.queue.put(inner if isinstance(inner, dict) else update)
        self.write({"ok": True})


async def _serve_webhook(
    adapter: ZaloAdapter, client: ZaloClient, settings: Settings, stop: asyncio.Event
) -> None:
    assert settings.zalo_webhook_secret and settings.zalo_webhook_url
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    app = tornado.web.Application(
        [
            (
                f"/{settings.zalo_webhook_path}",
                _WebhookHandler,
                {"secret": settings.zalo_webhook_secret, "queue": queue},
            )
        ]
    )
    server = HTTPServer(app)
    server.listen(settings.zalo_webhook_port, address=settings.zalo_webhook_listen)
    await client.set_webhook(settings.zalo_webhook_url, settings.zalo_webhook_secret)
    log.warning(
        "Zalo webhook listening on %s:%s", settings.zalo_webhook_listen, settings.zalo_webhook_port
    )
    handling = OrderedTasks()
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                update = await asyncio.wait_for(queue.get(), 1.0)
                await handling.start(sender_of(update), adapter.handle_update(update))
    finally:
        server.stop()
        await handling.drain()
