"""The local console chat: a messenger like any other, for trying the bot and for scripts.

One line of standard input is one message. Options are printed numbered and answered by
number or by text. Piped input is echoed after ``>`` so a script's output reads as a
transcript. The conversation lives in the same database as every other messenger's, so a
second run ``--as`` the same name continues where the first one stopped.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TextIO

from conversations.engine import Engine
from conversations.messages import Event, Reply
from conversations.notices import NOTICE_PROMPT

CHANNEL = "console"
log = logging.getLogger(__name__)


def render(reply: Reply) -> str:
    if reply.prompt_id == NOTICE_PROMPT:
        # A notice from someone else's action: its buttons are not this question's numbers.
        return "📬 " + reply.text
    lines = [reply.text]
    lines += [
        f"  {number}. {option.label}" for number, option in enumerate(reply.options, start=1)
    ]
    return "\n".join(lines)


class ConsoleChat:
    def __init__(
        self, engine: Engine, *, user: str, lang: str | None, out: TextIO = sys.stdout
    ) -> None:
        self.engine = engine
        self.user = user
        self.lang = lang
        self.out = out

    def _event(self, text: str) -> Event:
        return Event(
            channel=CHANNEL,
            user_id=self.user,
            chat_id=self.user,
            display_name=self.user,
            text=text,
            locale_hint=self.lang,
        )

    def _show(self, replies: list[Reply]) -> None:
        for reply in replies:
            print(render(reply), file=self.out)
            print(file=self.out)
        self.out.flush()

    async def send(self, text: str) -> None:
        event = self._event(text)
        try:
            await self.engine.tick()
            replies = await self.engine.inbox(CHANNEL, self.user)
            replies += await self.engine.handle(event)
        except Exception:
            log.exception("console turn failed")
            replies = [self.engine.apology(event)]
        self._show(replies)

    async def run(self, stdin: TextIO = sys.stdin) -> None:
        interactive = stdin.isatty()
        await self.engine.tick()
        returning = await self.engine.inbox(CHANNEL, self.user)
        returning += await self.engine.resume(CHANNEL, self.user, self.user)
        if returning:
            self._show(returning)
        else:
            await self.send("/start")
        loop = asyncio.get_running_loop()
        while True:
            if interactive:
                print("> ", end="", file=self.out, flush=True)
            line = await loop.run_in_executor(None, stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not interactive:
                print(f"> {text}", file=self.out)
            if text.strip():
                await self.send(text)
