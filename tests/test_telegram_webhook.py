"""Webhook mode: updates are taken only with the secret Telegram was given (security default)."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest

from bot.config import Settings, SettingsError
from bot.telegram.runner import serve
from tests.chat import make_engine
from tests.telegram_offline import message_update, offline_application

SECRET = "s3cret-token_for-tests"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_refuses_updates_without_the_secret_and_takes_those_with_it() -> None:
    engine, _store, _clock = make_engine()
    application, api = await offline_application(engine)
    await application.shutdown()  # serve() initialises it again itself
    port = free_port()
    settings = Settings.load(
        env={
            "TELEGRAM_BOT_TOKEN": "777:OFFLINE",
            "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
            "TELEGRAM_WEBHOOK_SECRET": SECRET,
            "TELEGRAM_WEBHOOK_PORT": str(port),
        }
    )
    stop = asyncio.Event()
    server = asyncio.create_task(serve(application, settings, stop))
    url = f"http://127.0.0.1:{port}/telegram"
    body = json.dumps(message_update("/start"))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(50):  # wait for the server to listen
                try:
                    await client.get(url)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            headers = {"Content-Type": "application/json"}
            forged = await client.post(url, content=body, headers=headers)
            wrong = await client.post(
                url, content=body, headers={**headers, "X-Telegram-Bot-Api-Secret-Token": "no"}
            )
            right = await client.post(
                url, content=body, headers={**headers, "X-Telegram-Bot-Api-Secret-Token": SECRET}
            )
        assert (forged.status_code, wrong.status_code, right.status_code) == (403, 403, 200)
        for _ in range(100):
            if api.sent():
                break
            await asyncio.sleep(0.02)
        assert len(api.sent()) == 1  # only the genuine update was answered
        [webhook] = api.sent("setWebhook")
        assert webhook["url"] == "https://bot.example.org/telegram"
        assert webhook["secret_token"] == SECRET
    finally:
        stop.set()
        await server


def test_a_webhook_without_a_secret_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="TELEGRAM_WEBHOOK_SECRET"):
        Settings.load(env={"TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram"})


def test_a_weak_webhook_secret_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="16-256"):
        Settings.load(
            env={
                "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
                "TELEGRAM_WEBHOOK_SECRET": "short",
            }
        )
