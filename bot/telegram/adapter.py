"""The Telegram side of the bot: python-telegram-bot handlers around the engine.

Each private message or button press becomes one engine turn (committed before anything is
sent), then the replies go out as HTML messages with inline keyboards. A pressed question
loses its keyboard at once and shows what was picked, so old buttons cannot be pressed into a
later step (the engine refuses them anyway, by their prompt id). Sends go through PTB's
``AIORateLimiter`` (which also waits out 429s); network errors are retried with a backoff; a
person who blocked the bot is marked unreachable instead of being retried forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, BotCommand, CallbackQuery, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import Application, ContextTypes

from bot import courier
from bot.courier import GroupCourier
from bot.telegram import calls
from bot.telegram.convert import (
    CHANNEL,
    GroupCommand,
    Outgoing,
    chosen_suffix,
    event_from_update,
    render,
)
from conversations.engine import Engine
from conversations.i18n import LOCALES, N_, _, normalise_locale, using_locale
from conversations.messages import Event, Option, Reply
from conversations.notices import NOTICE_PROMPT
from conversations.ports import Group, GroupNotice

log = logging.getLogger(__name__)

T = TypeVar("T")
SEND_ATTEMPTS = 4
TYPING_AFTER_S = 0.4  # a turn slower than this shows "typing…"
_DEEP_LINK_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")

# The command menu, per language (set_my_commands).
MENU_COMMANDS: tuple[tuple[str, str], ...] = (
    ("start", N_("Start, or join your union")),
    ("new", N_("Write a new initiative")),
    ("status", N_("Your initiatives and where they stand")),
    ("help", N_("What you can do here")),
    ("lang", N_("Change language")),
    ("link", N_("Continue on another messenger (Zalo)")),
    ("reminders", N_("Turn reminders on or off")),
    ("cancel", N_("Stop what you are doing")),
)


# Bot API descriptions that mean the bot is no longer in the group.
_GROUP_GONE = ("chat not found", "kicked", "not a member", "group chat was upgraded")


class Unreachable(Exception):
    """Telegram refuses messages to this chat (the person blocked the bot)."""


async def with_retries(call: Callable[[], Awaitable[T]], *, attempts: int = SEND_ATTEMPTS) -> T:
    """Run a Bot API call, retrying network failures and 429s with a growing pause."""
    delay = 0.5
    for attempt in range(1, attempts + 1):
        try:
            return await call()
        except Forbidden as error:
            raise Unreachable(str(error)) from error
        except RetryAfter as error:  # left over after the rate limiter's own retries
            if attempt == attempts:
                raise
            wait = error.retry_after
            await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else wait)
        except NetworkError as error:
            if isinstance(error, BadRequest) or attempt == attempts:
                raise
            log.warning("network error talking to Telegram (attempt %d): %s", attempt, error)
            await asyncio.sleep(delay)
            delay *= 2
    raise AssertionError("unreachable")


class TelegramAdapter:
    """Turns updates into engine turns and replies into Bot API calls."""

    def __init__(self, engine: Engine, **courier_options: Any) -> None:
        self.engine = engine
        self.outbox_wakeup = asyncio.Event()
        self.courier_options = courier_options  # for GroupCourier: limits, lease_s, …
        self.group_courier: GroupCourier | None = None
        self._typing_tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ wiring
    def install(self, application: Application) -> None:  # type: ignore[type-arg]
        from telegram.ext import CallbackQueryHandler, ChatMemberHandler, MessageHandler, filters

        application.add_handler(CallbackQueryHandler(self.on_update))
        application.add_handler(MessageHandler(filters.ALL, self.on_update))
        application.add_handler(
            ChatMemberHandler(self.on_update, ChatMemberHandler.MY_CHAT_MEMBER)
        )
        application.add_error_handler(self.on_error)

    async def set_commands(self, application: Application) -> None:  # type: ignore[type-arg]
        """The command menu in every language; Vietnamese also for everyone else."""
        for locale in (*LOCALES, None):
            with using_locale(locale or "vi"):
                commands = [BotCommand(name, _(text)) for name, text in MENU_COMMANDS]
            await with_retries(
                lambda c=commands, lc=locale: application.bot.set_my_commands(c, language_code=lc)
            )

    # ------------------------------------------------------------------ inbound
    async def on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        member = update.my_chat_member
        if member is not None and member.new_chat_member.status in ("left", "kicked"):
            await self.engine.group_left(CHANNEL, str(member.chat.id))
            return
        event = event_from_update(update, context.bot.username or "")
        query = update.callback_query
        if query is not None:
            await self._answer_query(query)
        if event is None:
            return
        if isinstance(event, GroupCommand):
            await self._to_private_chat(context, event)
            return
        # A timer, not a task: most turns end long before it fires (and then cost nothing).
        typing = asyncio.get_running_loop().call_later(
            TYPING_AFTER_S, self._typing, context, event.chat_id
        )
        try:
            result = await self.engine.process(event)
        finally:
            typing.cancel()
        if query is not None:
            await self._retire_keyboard(query, accepted=result.choice_accepted)
        await self.send(context, event, result.replies)
        self.outbox_wakeup.set()  # the turn may have written notices for others

    async def _answer_query(self, query: CallbackQuery) -> None:
        """Stop the button's spinner at once, whatever happens next."""
        try:
            await query.answer()
        except TelegramError as error:  # too old, already answered: nothing to fix
            log.info("could not answer a callback query: %s", error)

    async def _retire_keyboard(self, query: CallbackQuery, *, accepted: bool) -> None:
        """Remove the pressed question's keyboard; show the pick when it was taken."""
        message = query.message
        if message is None or not hasattr(message, "text"):
            return
        label = next(
            (
                button.text
                for row in (message.reply_markup.inline_keyboard if message.reply_markup else ())
                for button in row
                if button.callback_data == query.data
            ),
            None,
        )
        chat_id, message_id = message.chat.id, message.message_id
        try:
            if accepted and label and message.text:
                text = html.escape(message.text, quote=False) + chosen_suffix(label)
                await with_retries(
                    lambda: calls.edit_html(query.get_bot(), chat_id, message_id, text)
                )
            else:
                await with_retries(
                    lambda: calls.drop_keyboard(query.get_bot(), chat_id, message_id)
                )
        except (BadRequest, Unreachable) as error:  # gone, or not modified: fine either way
            log.info("could not retire a keyboard: %s", error)

    def _typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: str) -> None:
        """The turn is slow: show "typing…" (a task of its own, never awaited by the turn)."""
        task = asyncio.create_task(self._send_typing(context, chat_id))
        self._typing_tasks.add(task)
        task.add_done_callback(self._typing_tasks.discard)

    async def _send_typing(self, context: ContextTypes.DEFAULT_TYPE, chat_id: str) -> None:
        with contextlib.suppress(TelegramError):
            await context.bot.send_chat_action(chat_id=int(chat_id), action=ChatAction.TYPING)

    async def _to_private_chat(
        self, context: ContextTypes.DEFAULT_TYPE, command: GroupCommand
    ) -> None:
        """Group commands (``/register``) go to the engine; personal flows happen in the
        private chat: answer in the group with a way there."""
        replies = await self.engine.group_command(command.event)
        if replies is not None:
            for reply in replies:
                for part in render(reply):
                    with contextlib.suppress(TelegramError, Unreachable):
                        await self._send_part(context, command.chat_id, part)
            return
        username = context.bot.username
        payload = command.start_payload
        link = f"https://t.me/{username}"
        if payload and _DEEP_LINK_PAYLOAD.fullmatch(payload):
            link += f"?start={payload}"
        with using_locale(normalise_locale(command.locale_hint)):
            text = _(
                "Initiatives are written in a private chat with me, so that your answers stay "
                "yours. Tap the button to open it."
            )
            markup = calls.url_keyboard(_("💬 Open the private chat"), link)
        try:
            await with_retries(
                lambda: calls.send_html(
                    context.bot, command.chat_id, html.escape(text, quote=False), markup
                )
            )
        except (TelegramError, Unreachable) as error:
            log.warning("could not answer in group %s: %s", command.chat_id, error)

    # ------------------------------------------------------------------ outbound
    async def send(
        self, context: ContextTypes.DEFAULT_TYPE, event: Event, replies: list[Reply]
    ) -> None:
        """Send the replies in order; stop (and remember) if the person blocked the bot."""
        for reply in replies:
            chat_id = int(reply.chat_id or event.chat_id)
            for part in render(reply):
                try:
                    await self._send_part(context, chat_id, part)
                except Unreachable:
                    log.info("chat %s blocked the bot; marking it unreachable", chat_id)
                    await self.engine.mark_unreachable(CHANNEL, event.user_id)
                    return
                except BadRequest as error:
                    log.error("Telegram refused a message to chat %s: %s", chat_id, error)

    async def _send_part(
        self, context: ContextTypes.DEFAULT_TYPE, chat_id: int, part: Outgoing
    ) -> None:
        await with_retries(lambda: calls.send_html(context.bot, chat_id, part.html, part.markup))

    # ------------------------------------------------------------------ notices
    async def deliver_notices(self, bot: Bot) -> int:
        """Send what the outbox holds for Telegram accounts; edit replaced prompts in place."""
        delivered = 0
        for notice, external_id in await self.engine.undelivered(CHANNEL):
            chat_id = int(external_id)
            reply = Reply(
                text=notice.text,
                options=tuple(Option(code, label) for code, label in notice.options),
                prompt_id=NOTICE_PROMPT,
            )
            try:
                reference = await self.engine.replaced_reference(notice, CHANNEL)
                if reference is not None:
                    [part, *_rest] = render(reply)
                    with contextlib.suppress(BadRequest):  # gone or unchanged: fine
                        await with_retries(
                            lambda p=part, r=reference, c=chat_id: calls.edit_html(
                                bot, c, int(r), p.html
                            )
                        )
                else:
                    for part in render(reply):
                        sent = await with_retries(
                            lambda p=part, c=chat_id: calls.send_html(bot, c, p.html, p.markup)
                        )
                        reference = str(sent)
            except Unreachable:
                await self.engine.mark_unreachable(CHANNEL, external_id)
                continue
            except BadRequest as error:
                log.error("Telegram refused notice %s: %s", notice.id, error)
                reference = "refused"
            await self.engine.mark_delivered(notice.id, CHANNEL, reference or "sent")
            delivered += 1
        return delivered

    async def deliver_group_notices(self, bot: Bot, stop: asyncio.Event | None = None) -> int:
        """One pass of the group courier (claims, pacing, 429s, removed groups: see
        :mod:`bot.courier`), which also reports the broadcasts that finished."""
        if self.group_courier is None:

            async def send(notice: GroupNotice, group: Group) -> str:
                return await self.send_group_notice(bot, notice, group)

            self.group_courier = GroupCourier(self.engine, CHANNEL, send, **self.courier_options)
        return await self.group_courier.deliver(stop)

    async def send_group_notice(self, bot: Bot, notice: GroupNotice, group: Group) -> str:
        """Send one group notice (with a button opening the bot when it has a link); Bot API
        errors become the courier's."""
        markup = None
        if notice.link and bot.username:
            with using_locale(group.locale):
                label = _("✍️ Write an initiative")
            url = f"https://t.me/{bot.username}?start={notice.link}"
            markup = calls.url_keyboard(label, url)
        parts = render(Reply(text=notice.text))
        reference = ""
        try:
            for index, part in enumerate(parts):
                last = index == len(parts) - 1
                sent = await calls.send_html(
                    bot, int(group.chat_id), part.html, markup if last else None
                )
                reference = str(sent)
        except RetryAfter as error:
            wait = error.retry_after
            raise courier.RetryAfter(
                wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            ) from error
        except Forbidden as error:
            raise courier.GroupGone(str(error)) from error
        except BadRequest as error:
            if any(sign in str(error).lower() for sign in _GROUP_GONE):
                raise courier.GroupGone(str(error)) from error
            raise courier.Refused(str(error)) from error
        except NetworkError as error:  # TimedOut included; BadRequest was taken above
            raise courier.Transient(str(error)) from error
        return reference

    # ------------------------------------------------------------------ errors
    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log with context (no message text), and tell the person in their language."""
        chat = update.effective_chat if isinstance(update, Update) else None
        user = update.effective_user if isinstance(update, Update) else None
        log.error(
            "turn failed (update %s, chat %s)",
            getattr(update, "update_id", None),
            getattr(chat, "id", None),
            exc_info=context.error,
        )
        if chat is None or user is None or chat.type != "private":
            return
        event = Event(
            channel=CHANNEL,
            user_id=str(user.id),
            chat_id=str(chat.id),
            locale_hint=user.language_code,
        )
        apology = self.engine.apology(event)
        with contextlib.suppress(TelegramError, Unreachable):
            await self._send_part(
                context, chat.id, Outgoing(html.escape(apology.text, quote=False))
            )
