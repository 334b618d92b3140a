"""Neutral messages at the border between the engine and any messenger.

Adapters turn a Telegram update, a Zalo event or a console line into an :class:`Event`, and a
:class:`Reply` back into whatever their messenger sends. Nothing here knows a messenger.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file the person sent; kept by reference (the messenger's file id), never downloaded."""

    kind: str  # "photo" or "document"
    file_id: str
    mime_type: str = ""
    file_name: str = ""
    size: int = 0


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a person did: typed ``text``, pressed ``choice`` or sent an ``attachment``.

    ``choice`` is an option code as the messenger reported it (a callback payload): the engine
    checks it against the options it actually offered, so a forged or stale code does nothing.
    ``prompt_id`` is the :attr:`Reply.prompt_id` of the question the pressed button belonged to,
    where the messenger can carry it: an old "Yes" button cannot answer a newer yes/no question.
    """

    channel: str
    user_id: str
    chat_id: str
    display_name: str = ""
    text: str | None = None
    choice: str | None = None
    attachment: Attachment | None = None
    has_buttons: bool = False
    locale_hint: str | None = None
    prompt_id: str | None = None


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """A command someone addressed to the bot in a group chat (``/register CD-BB-01``)."""

    channel: str
    chat_id: str
    user_id: str
    text: str
    title: str = ""
    display_name: str = ""
    locale_hint: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """A choice offered to the person: ``code`` travels back in ``Event.choice`` (≤ 64 bytes)."""

    code: str
    label: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One message to send: text, plus options to choose from (buttons or a numbered list)."""

    text: str
    options: tuple[Option, ...] = field(default=())
    chat_id: str = ""
    prompt_id: str = ""  # identifies the question these options answer (see Event.prompt_id)


@dataclass(frozen=True, slots=True)
class TurnResult:
    """What one event led to: the replies, and whether a pressed option was taken as the
    answer (so a messenger can mark the question answered, or just retire a stale keyboard)."""

    replies: list[Reply]
    choice_accepted: bool = False
