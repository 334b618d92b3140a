"""Builds the python-telegram-bot Application and runs it, polling or behind a webhook.

Everything runs on one event loop (the database engine's too): the Application is started by
hand instead of ``run_polling()``, which would open a loop of its own.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.ext import Application, ApplicationBuilder

from bot.config import Settings
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.limits import MessageRateLimiter
from bot.telegram.updates import PersonOrderedUpdates
from bot.ticker import repeat_until
from conversations.engine import Engine

log = logging.getLogger(__name__)
RATE_LIMIT_RETRIES = 3  # 429 "retry after" answers waited out by the limiter per call
DELIVER_EVERY_S = 2.0


def build_application(engine: Engine, settings: Settings) -> Application:  # type: ignore[type-arg]
    """The Application with the adapter installed; talks to ``settings``' Bot API server."""
    assert settings.telegram_token
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token)
        .rate_limiter(MessageRateLimiter(max_retries=RATE_LIMIT_RETRIES))
        # Many people at once (a reply waits on the network, not on the others), each
        # person's updates in order.
        .concurrent_updates(PersonOrderedUpdates())
    )
    if settings.telegram_api_url:
        builder = builder.base_url(settings.telegram_api_url)
    if settings.telegram_file_url:
        builder = builder.base_file_url(settings.telegram_file_url)
    application = builder.build()
    adapter = TelegramAdapter(engine, lease_s=settings.delivery_lease_s)
    adapter.install(application)
    application.bot_data["adapter"] = adapter
    return application


async def run_telegram(engine: Engine, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop`` is set: long polling, or a webhook when a URL is configured."""
    await serve(build_application(engine, settings), settings, stop)


async def serve(
    application: Application,  # type: ignore[type-arg]
    settings: Settings,
    stop: asyncio.Event,
) -> None:
    """Run ``application`` until ``stop`` is set."""
    async with application:
        adapter: TelegramAdapter | None = application.bot_data.get("adapter")
        if adapter is not None:
            await adapter.set_commands(application)
        await application.start()
        updater = application.updater
        assert updater is not None
        if settings.telegram_webhook_url:
            # PTB's webhook server answers 403 to any request without this secret header.
            await updater.start_webhook(
                listen=settings.telegram_webhook_listen,
                port=settings.telegram_webhook_port,
                url_path=settings.telegram_webhook_path,
                webhook_url=settings.telegram_webhook_url,
                secret_token=settings.telegram_webhook_secret,
                allowed_updates=Update.ALL_TYPES,
            )
            log.warning(
                "Telegram webhook listening on %s:%s",
                settings.telegram_webhook_listen,
                settings.telegram_webhook_port,
            )
        else:
            await updater.start_polling(allowed_updates=Update.ALL_TYPES)
            log.warning("Telegram bot @%s is polling for updates", application.bot.username)
        courier = (
            asyncio.create_task(_deliver_until(adapter, application, stop))
            if adapter is not None
            else None
        )
        await stop.wait()
        if courier is not None:
            await courier
        await updater.stop()
        await application.stop()


async def _deliver_until(
    adapter: TelegramAdapter,
    application: Application,  # type: ignore[type-arg]
    stop: asyncio.Event,
) -> None:
    """People's notices after every turn and every few seconds; group notices in a loop of
    their own (a broadcast to thousands of groups takes minutes)."""
    bot = application.bot
    await asyncio.gather(
        repeat_until(
            lambda: adapter.deliver_notices(bot),
            stop,
            DELIVER_EVERY_S,
            what="delivering notices",
            wakeup=adapter.outbox_wakeup,
        ),
        repeat_until(
            lambda: adapter.deliver_group_notices(bot, stop),
            stop,
            DELIVER_EVERY_S,
            what="delivering group notices",
        ),
    )
