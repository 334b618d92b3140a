"""A broadcast to thousands of groups through the production Telegram stack, on loopback.

The group courier (``TelegramAdapter.deliver_group_notices``: claims, sliding-window pacing,
429 pauses, one commit per send) drives the real python-telegram-bot Application (with its
``AIORateLimiter``) against ``tests/botapi/server.py``, which enforces Telegram's limits (30
messages/s overall, 20/min per group) and answers 429 beyond them. Reports the rate achieved
against the 30/s limit, the 429s, and what the groups actually got (none lost, none twice).

Run alone: ``python -m bench.broadcast [--groups N]``; ``make bench`` runs it after the rest.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import App, build_app
from bot.config import Settings
from bot.telegram.adapter import TelegramAdapter
from bot.telegram.runner import build_application
from conversations.announcements import all_grassroots
from storage.models import group_notices
from tests.botapi.server import BotApiEmulator

LIMIT_PER_S = 30
GROUPS = 5000
CHAT_BASE = -1_000_000_000_000
TEXT = "📣 Hội thi sáng kiến 2022 đã mở: mời công đoàn viên gửi sáng kiến trước 30/6."
IDLE_S = 0.05  # between passes while the rows given back after a 429 are not due yet


def chat_id(index: int) -> int:
    return CHAT_BASE - index


async def seed(built: App, groups: int) -> None:
    """``groups`` Telegram groups spread over the grassroots unions, one notice each."""
    engine = built.engine
    units = all_grassroots(engine.units)
    at = datetime.now(UTC)
    async with engine.uow_factory() as uow:
        person = await uow.conversations.ensure_person("telegram", "1", at)
        for index in range(groups):
            group = await uow.groups.register(
                channel="telegram",
                chat_id=str(chat_id(index)),
                unit_code=units[index % len(units)],
                locale="vi",
                title=f"Tổ công đoàn {index}",
                person_id=person,
                at=at,
            )
            await uow.groups.add_notice(
                group_id=group.id,
                text=TEXT,
                at=at,
                kind="campaign",
                key=f"bench:{group.id}",
                link="new",
            )
        await uow.commit()


async def pending(built: App) -> int:
    """Notices neither delivered nor given up on."""
    query = (
        select(func.count())
        .select_from(group_notices)
        .where(group_notices.c.delivered_at.is_(None), group_notices.c.failed.is_(None))
    )
    async with built.db.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


async def run_broadcast(groups: int = GROUPS) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, BotApiEmulator(token="424242:BENCH") as emulator:
        for index in range(groups):
            emulator.register_chat(chat_id(index), chat_type="group", title=f"Tổ {index}")
        settings = Settings.load(
            env={
                "DATABASE_URL": str(Path(tmp) / "broadcast.db"),
                "TELEGRAM_BOT_TOKEN": emulator.token,
                "TELEGRAM_API_URL": emulator.base_url,
                "TELEGRAM_FILE_URL": emulator.base_file_url,
            }
        )
        built = await build_app(settings, load_sample=True)
        try:
            await seed(built, groups)
            emulator.enforce_limits(per_second=LIMIT_PER_S, per_group_per_minute=20)
            application = build_application(built.engine, settings)
            adapter: TelegramAdapter = application.bot_data["adapter"]
            deadline = time.monotonic() + groups / LIMIT_PER_S * 3 + 60
            passes = 0
            async with application:
                started = time.perf_counter()
                while True:
                    await adapter.deliver_group_notices(application.bot)
                    passes += 1
                    left = await pending(built)
                    if not left or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(IDLE_S)
                seconds = time.perf_counter() - started
            counts = [emulator.sent_count(chat_id(index)) for index in range(groups)]
            refusals = emulator.flood_refusals
        finally:
            await built.close()
    delivered = sum(1 for count in counts if count > 0)
    rate = delivered / seconds
    return {
        "broadcast_groups": groups,
        "broadcast_seconds": round(seconds, 2),
        "broadcast_msgs_per_s": round(rate, 2),
        "broadcast_share_of_limit": round(rate / LIMIT_PER_S, 3),
        "broadcast_429s": refusals,
        "broadcast_lost": sum(1 for count in counts if count == 0),
        "broadcast_duplicated": sum(1 for count in counts if count > 1),
        "broadcast_db_all_delivered": left == 0,
        "broadcast_passes": passes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.broadcast", description=__doc__)
    parser.add_argument("--groups", type=int, default=GROUPS, help=f"default {GROUPS}")
    arguments = parser.parse_args()
    results = asyncio.run(run_broadcast(arguments.groups))
    width = max(map(len, results))
    for key, value in results.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
