"""The Zalo side of the bot: Zalo updates in, engine turns, plain-text replies out.

Zalo has no buttons, keyboards or message edits, so options are a numbered list the engine
already understands by number or by text (with or without diacritics). Texts are cut at 2,000
characters on paragraph or sentence boundaries, the list staying with the last part. A photo
is taken as an attachment (by its URL); stickers and other messages get the engine's "text
only" answer with the question asked again. Updates are de-duplicated by ``message_id``: Zalo
may deliver one twice (a webhook retry), and a step must not be answered twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from datetime import date
from typing import Any

from bot import courier
from bot.courier import GroupCourier
from bot.split import split_text
from bot.zalo.client import (
    MAX_TEXT,
    Blocked,
    QuotaExceeded,
    RateLimited,
    ZaloClient,
    ZaloError,
)
from conversations.engine import Engine
from conversations.i18n import N_, _, normalise_locale, using_locale
from conversations.messages import Attachment, Event, GroupEvent, Reply
from conversations.ports import Group, GroupNotice

log = logging.getLogger(__name__)

CHANNEL = "zalo"
TYPING_AFTER_S = 0.4
SEEN_MESSAGES = 10_000  # message ids remembered for de-duplication
RATE_LIMIT_PAUSE_S = 5.0  # Zalo's "too many requests" carries no retry-after
QUOTA_PAUSE_S = 3600.0  # the monthly quota is used up: try again in an hour


def render(reply: Reply, limit: int = MAX_TEXT) -> list[str]:
    """The reply as Zalo texts: the options numbered under the last part."""
    options = "\n".join(f"{n}. {o.label}" for n, o in enumerate(reply.options, start=1))
    if not options:
        return split_text(reply.text, limit)
    parts = split_text(reply.text, limit - len(options) - 2)
    parts[-1] = f"{parts[-1]}\n\n{options}" if parts[-1] else options
    return parts


def event_from_update(update: dict[str, Any]) -> Event | GroupEvent | None:
    """An engine event, a group command, or ``None`` for what the bot should not react to."""
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    sender = message.get("from") or {}
    chat = message.get("chat") or {}
    if sender.get("is_bot") or not sender.get("id") or not chat.get("id"):
        return None
    text = message.get("text") or message.get("caption") or ""
    name = sender.get("display_name") or sender.get("first_name") or sender.get("name") or ""
    if str(chat.get("chat_type", "PRIVATE")).upper() != "PRIVATE":
        if not str(text).startswith("/"):
            return None  # in groups only commands addressed to the bot are answered
        return GroupEvent(
            channel=CHANNEL,
            chat_id=str(chat["id"]),
            user_id=str(sender["id"]),
            text=str(text),
            display_name=str(name),
        )
    photo = message.get("photo_url") or message.get("photo")
    kind = str(update.get("event_name", ""))
    attachment = None
    if photo or kind == "message.image.received":
        attachment = Attachment("photo", str(photo or ""), "image/jpeg")
    elif kind in ("message.sticker.received", "message.unsupported.received"):
        text = ""  # answered by the engine: "text only", and the question again
    return Event(
        channel=CHANNEL,
        user_id=str(sender["id"]),
        chat_id=str(chat["id"]),
        display_name=str(name),
        text=str(text),
        attachment=attachment,
        has_buttons=False,
    )


def sender_of(update: dict[str, Any]) -> str | None:
    """Who sent the update (their messages are handled in order), if anyone."""
    message = update.get("message")
    sender = message.get("from") if isinstance(message, dict) else None
    return str(sender["id"]) if isinstance(sender, dict) and sender.get("id") else None


class ZaloAdapter:
    """Turns Zalo updates into engine turns; sends replies and notices within Zalo's limits."""

    def __init__(self, engine: Engine, client: ZaloClient, **courier_options: Any) -> None:
        self.engine = engine
        self.client = client
        self.courier_options = courier_options  # for GroupCourier: limits, lease_s, …
        self.group_courier: GroupCourier | None = None
        self._seen: OrderedDict[str, None] = OrderedDict()
        self.quota_exhausted = False
        self._quota_told_on: date | None = None
        self.sent = 0  # messages sent by this process (the plan's quota is counted by Zalo)

    def _first_time(self, update: dict[str, Any]) -> bool:
        message_id = str((update.get("message") or {}).get("message_id") or "")
        if not message_id:
            return True
        if message_id in self._seen:
            return False
        self._seen[message_id] = None
        if len(self._seen) > SEEN_MESSAGES:
            self._seen.popitem(last=False)
        return True

    async def handle_update(self, update: dict[str, Any]) -> None:
        if not self._first_time(update):
            log.info("Zalo delivered a message twice; answered once")
            return
        event = event_from_update(update)
        if event is None:
            return
        if isinstance(event, GroupEvent):
            replies = await self.engine.group_command(event)
            if replies is None:
                await self._to_private_chat(event.chat_id)
            else:
                for reply in replies:
                    for part in render(reply):
                        with contextlib.suppress(ZaloError, OSError):
                            await self._send_text(event.chat_id, part)
            return
        typing = asyncio.create_task(self._typing_soon(event.chat_id))
        try:
            replies = await self.engine.handle(event)
        except Exception:
            log.exception("Zalo turn failed")
            replies = [self.engine.apology(event)]
        finally:
            typing.cancel()
        await self.send(event, replies)

    async def _typing_soon(self, chat_id: str) -> None:
        await asyncio.sleep(TYPING_AFTER_S)
        with contextlib.suppress(ZaloError, OSError):
            await self.client.send_chat_action(chat_id)

    async def _to_private_chat(self, chat_id: str) -> None:
        with using_locale(normalise_locale(None)):
            text = _(
                "Initiatives are written in a private chat with me, so that your answers stay "
                "yours. Send me a message directly."
            )
        with contextlib.suppress(ZaloError, OSError):
            await self._send_text(chat_id, text)

    async def send(self, event: Event, replies: list[Reply]) -> None:
        for reply in replies:
            for part in render(reply):
                try:
                    await self._send_text(reply.chat_id or event.chat_id, part)
                except Blocked:
                    await self.engine.mark_unreachable(CHANNEL, event.user_id)
                    return
                except ZaloError as error:
                    log.error("Zalo refused a reply: %s", error)
                    return

    async def _send_text(self, chat_id: str, text: str, attempts: int = 3) -> str:
        """Send one text, waiting out short rate limits; quota exhaustion is raised."""
        delay = 1.0
        for attempt in range(1, attempts + 1):
            try:
                message_id = await self.client.send_message(chat_id, text)
                self.sent += 1
                return message_id
            except QuotaExceeded:
                self.quota_exhausted = True
                raise
            except RateLimited:
                if attempt == attempts:
                    raise
            except OSError:
                if attempt == attempts:
                    raise
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _tell_admins_of_quota(self) -> None:
        """Once a day at most: the province admins hear that Zalo messages are waiting."""
        today = self.engine.clock.now().date()
        if self._quota_told_on == today:
            return
        self._quota_told_on = today
        waiting = len(await self.engine.undelivered(CHANNEL))
        log.warning("Zalo quota used up after %d messages from this process", self.sent)
        await self.engine.tell_admins(
            "quota",
            N_(
                "⚠️ Zalo's monthly message quota is used up: {count} messages to Zalo users "
                "wait and will go out as soon as the quota allows. Nothing is lost."
            ),
            count=waiting,
        )

    async def deliver_group_notices(self, stop: asyncio.Event | None = None) -> int:
        """One pass of the group courier (see :mod:`bot.courier`); over the quota the
        notices wait (nothing dropped) and the admins are told."""
        if self.group_courier is None:
            self.group_courier = GroupCourier(
                self.engine, CHANNEL, self.send_group_notice, **self.courier_options
            )
        return await self.group_courier.deliver(stop)

    async def send_group_notice(self, notice: GroupNotice, group: Group) -> str:
        """Send one group notice; Zalo errors become the courier's."""
        reference = ""
        try:
            for part in split_text(notice.text, MAX_TEXT):
                reference = await self.client.send_message(group.chat_id, part)
                self.sent += 1
        except QuotaExceeded as error:
            await self._tell_admins_of_quota()
            raise courier.RetryAfter(QUOTA_PAUSE_S) from error
        except RateLimited as error:
            raise courier.RetryAfter(RATE_LIMIT_PAUSE_S) from error
        except Blocked as error:
            raise courier.GroupGone(str(error)) from error
        except ZaloError as error:
            raise courier.Refused(str(error)) from error
        except OSError as error:
            raise courier.Transient(str(error)) from error
        return reference

    async def deliver_notices(self) -> int:
        """Send the outbox's notices for Zalo accounts. With the quota used up nothing is
        dropped: the notices stay in the outbox until a later round can send them."""
        delivered = 0
        for notice, external_id in await self.engine.undelivered(CHANNEL):
            try:
                reference = ""
                for part in split_text(notice.text, MAX_TEXT):
                    reference = await self._send_text(external_id, part)
            except Blocked:
                await self.engine.mark_unreachable(CHANNEL, external_id)
                continue
            except QuotaExceeded:
                log.warning("Zalo's message quota is used up: the remaining notices wait")
                await self._tell_admins_of_quota()
                break
            except RateLimited:
                log.warning("Zalo rate limit reached: the remaining notices wait")
                break
            except (ZaloError, OSError) as error:
                log.error("Zalo refused notice %s: %s", notice.id, error)
                continue
            self.quota_exhausted = False
            await self.engine.mark_delivered(notice.id, CHANNEL, reference or "sent")
            delivered += 1
        return delivered
