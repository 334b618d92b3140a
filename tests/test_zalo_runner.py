"""The Zalo runner: webhook mode checks the secret header; a refused token stops the bot."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from bot.config import Settings
from bot.zalo.runner import run_zalo
from tests.chat import make_engine
from tests.zaloapi.server import ZaloApiEmulator

ROOT = Path(__file__).resolve().parent.parent
SECRET = "zalo-secret-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_webhook_takes_zalos_posts_and_refuses_forged_ones() -> None:
    engine, _store, _clock = make_engine()
    port = free_port()
    with ZaloApiEmulator() as emu:
        settings = Settings.load(
            env={
                "ZALO_BOT_TOKEN": emu.token,
                "ZALO_API_URL": emu.base_url,
                "ZALO_WEBHOOK_URL": f"http://127.0.0.1:{port}/zalo",
                "ZALO_WEBHOOK_SECRET": SECRET,
                "ZALO_WEBHOOK_PORT": str(port),
            }
        )
        stop = asyncio.Event()
        runner = asyncio.create_task(run_zalo(engine, settings, stop))
        try:
            await emu.wait_for_async(lambda: emu.webhook is not None, timeout=10)
            assert emu.webhook is not None and emu.webhook["secret_token"] == SECRET
            async with httpx.AsyncClient() as http:
                forged = await http.post(
                    f"http://127.0.0.1:{port}/zalo",
                    content=json.dumps({"message": {"text": "/start"}}),
                    headers={"X-Bot-Api-Secret-Token": "guess-guess"},
                )
            assert forged.status_code == 403
            emu.user_sends("u1", "/start")  # Zalo POSTs it with the right header
            reply = await emu.wait_for_message_async("u1", "Chọn ngôn ngữ", timeout=10)
            assert "1. 🇻🇳 Tiếng Việt" in reply["text"]
        finally:
            stop.set()
            await runner


def test_a_refused_zalo_token_stops_the_bot_with_a_clear_message(tmp_path: Path) -> None:
    with ZaloApiEmulator() as emu:
        env = {
            **os.environ,
            "ZALO_BOT_TOKEN": "0:wrong-token",
            "ZALO_API_URL": emu.base_url,
            "DATABASE_URL": str(tmp_path / "bot.db"),
            "PYTHONPATH": str(ROOT),
        }
        env.pop("TELEGRAM_BOT_TOKEN", None)
        result = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    assert "ZALO_BOT_TOKEN was refused by Zalo" in result.stderr
    assert "Traceback" not in result.stderr


async def test_zalo_people_are_answered_at_once_each_in_the_order_they_wrote() -> None:
    engine, _store, _clock = make_engine()
    with ZaloApiEmulator() as emu:
        settings = Settings.load(env={"ZALO_BOT_TOKEN": emu.token, "ZALO_API_URL": emu.base_url})
        stop = asyncio.Event()
        runner = asyncio.create_task(run_zalo(engine, settings, stop))
        try:
            emu.delay_next("sendMessage", 3.0)  # the reply to Lan crosses a slow network
            emu.user_sends("lan", "/start")
            emu.user_sends("lan", "1")  # Tiếng Việt, before she has even seen the question
            emu.user_sends("minh", "/start")
            await emu.wait_for_message_async("minh", "Chọn ngôn ngữ", timeout=10)
            assert emu.sent("lan") == []  # Minh did not wait for Lan's slow reply
            await emu.wait_for_async(lambda: len(emu.sent("lan")) >= 2, timeout=15)
            first, second = (m["text"] for m in emu.sent("lan")[:2])
            assert "Chọn ngôn ngữ" in first  # her messages were taken in the order she wrote
            assert "Chọn ngôn ngữ" not in second
        finally:
            stop.set()
            await runner
