"""Translations between Telegram's objects and the engine's neutral messages.

Inbound: an ``Update`` becomes an :class:`Event` (or a group command to redirect, or nothing).
Outbound: a :class:`Reply` becomes one or more HTML messages, the last one carrying the options
as an inline keyboard. Callback payloads are ``"<prompt id>:<option code>"`` — short codes the
engine checks against what it asked, never text to trust.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from telegram import Message, Update, User
from telegram.constants import ChatType, MessageLimit

from bot.split import split_text
from bot.telegram.calls import Button, markup_json
from conversations.messages import Attachment, Event, GroupEvent, Option, Reply

CHANNEL = "telegram"
MAX_CALLBACK_BYTES = 64
BUTTONS_PER_ROW_SHORT = 2  # short labels (Yes / No) side by side; long ones one per row
SHORT_LABEL = 18


@dataclass(frozen=True, slots=True)
class GroupCommand:
    """A command addressed to the bot in a group: a group command for the engine
    (``/register``), or else answered with a way to the private chat."""

    chat_id: int
    start_payload: str
    locale_hint: str | None
    event: GroupEvent


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One Telegram message to send: HTML text and, on the last part, the keyboard
    (JSON-serialised, as the Bot API takes it)."""

    html: str
    markup: str | None = None


def _display_name(user: User) -> str:
    return user.full_name or user.username or str(user.id)


def _attachment(message: Message) -> Attachment | None:
    if message.photo:
        largest = message.photo[-1]  # Telegram lists sizes smallest first
        return Attachment("photo", largest.file_id, "image/jpeg", "", largest.file_size or 0)
    if message.document:
        doc = message.document
        return Attachment(
            "document", doc.file_id, doc.mime_type or "", doc.file_name or "", doc.file_size or 0
        )
    for kind in ("video", "voice", "audio", "video_note", "animation"):
        media = getattr(message, kind)
        if media is not None:
            mime = getattr(media, "mime_type", None) or kind
            return Attachment(kind, media.file_id, mime, "", media.file_size or 0)
    return None


def command_target(text: str) -> tuple[str, str | None]:
    """``/new@sangkien_bot args`` → (``/new args``, ``sangkien_bot``)."""
    head, sep, rest = text.partition(" ")
    command, _at, target = head.partition("@")
    return command + sep + rest, (target or None)


def event_from_update(update: Update, bot_username: str) -> Event | GroupCommand | None:
    """What the person did, for the engine; ``None`` for what the bot should not react to."""
    user = update.effective_user
    chat = update.effective_chat
    if user is None or chat is None or user.is_bot:
        return None
    common = {
        "channel": CHANNEL,
        "user_id": str(user.id),
        "chat_id": str(chat.id),
        "display_name": _display_name(user),
        "locale_hint": user.language_code,
        "has_buttons": True,
    }
    query = update.callback_query
    if query is not None:
        if chat.type != ChatType.PRIVATE:
            return None
        prompt_id, _sep, code = (query.data or "").partition(":")
        return Event(**common, choice=code, prompt_id=prompt_id)
    message = update.message
    if message is None:
        return None  # edits, channel posts, member updates: nothing to answer
    text = message.text or message.caption or ""
    if chat.type != ChatType.PRIVATE:
        if not message.text or not message.text.startswith("/"):
            return None  # in groups only commands addressed to the bot are answered
        command, target = command_target(message.text)
        if target is not None and target.casefold() != bot_username.casefold():
            return None
        name, _sep, argument = command.partition(" ")
        payload = argument.strip() if name == "/start" else ""
        group_event = GroupEvent(
            channel=CHANNEL,
            chat_id=str(chat.id),
            user_id=str(user.id),
            text=command,
            title=chat.title or "",
            display_name=_display_name(user),
            locale_hint=user.language_code,
        )
        return GroupCommand(chat.id, payload, user.language_code, group_event)
    if text.startswith("/"):
        text, _target = command_target(text)
    return Event(**common, text=text, attachment=_attachment(message))


def callback_data(prompt_id: str, code: str) -> str:
    data = f"{prompt_id}:{code}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"option code too long for a Telegram button: {code!r}")
    return data


def keyboard(options: tuple[Option, ...], prompt_id: str) -> str | None:
    """The options as an inline keyboard: short labels two to a row, long ones alone."""
    if not options:
        return None
    rows: list[list[Button]] = []
    for option in options:
        button = {"text": option.label, "callback_data": callback_data(prompt_id, option.code)}
        short = len(option.label) <= SHORT_LABEL
        if (
            short
            and rows
            and len(rows[-1]) < BUTTONS_PER_ROW_SHORT
            and rows[-1][-1]["text"]
            and len(rows[-1][-1]["text"]) <= SHORT_LABEL
        ):
            rows[-1].append(button)
        else:
            rows.append([button])
    return markup_json(rows)


def render(reply: Reply) -> list[Outgoing]:
    """The reply as Telegram messages; the person's own words are escaped (HTML mode)."""
    parts = split_text(reply.text, MessageLimit.MAX_TEXT_LENGTH)
    markup = keyboard(reply.options, reply.prompt_id)
    return [
        Outgoing(html.escape(part, quote=False), markup if index == len(parts) - 1 else None)
        for index, part in enumerate(parts)
    ]


def chosen_suffix(label: str) -> str:
    """Appended to a question once answered by a button, so the chat shows what was picked."""
    return "\n\n✔️ <i>" + html.escape(label, quote=False) + "</i>"
