"""An emulated Telegram Bot API server on loopback, for end-to-end tests of the real PTB stack.

:class:`BotApiEmulator` speaks the Bot API's JSON over real HTTP on ``127.0.0.1``, so a real
``telegram.Bot`` or a whole ``Application`` — in this process or in another one — can be pointed
at it with ``base_url=emu.base_url, base_file_url=emu.base_file_url``::

    with BotApiEmulator() as emu:
        bot = telegram.Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url)
        emu.user_sends(42, "/start")
        ...                                   # run the bot
        emu.wait_for_message(42, "Xin chào")

It follows the real server where a bot can tell the difference:

- requests may be ``GET`` or ``POST`` with a query string, ``application/json``,
  ``application/x-www-form-urlencoded`` or ``multipart/form-data`` body (nested values arrive as
  JSON-encoded strings); method names are case-insensitive; a wrong token is
  ``401 Unauthorized``, an unknown method ``404 Not Found``;
- every answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N,
  "description": ..., "parameters"?: ...}`` with that HTTP status, with the real descriptions;
- dates are Unix seconds, message ids grow per chat, ``getMe`` says ``is_bot``, callback queries
  carry ``chat_instance``, edits answer the edited message with ``edit_date``;
- ``getUpdates`` honours ``offset`` (confirming older updates; negative counts from the end),
  ``limit``, ``timeout`` (long poll, answering as soon as an update arrives) and
  ``allowed_updates``; a second concurrent ``getUpdates`` ends the first with ``409 Conflict``;
- HTML is parsed like tdlib does it (same tags, same error messages with byte offsets), lengths
  are counted on the visible text, leading/trailing whitespace is trimmed, and entities are
  reported in UTF-16 code units; ``bot_command``, ``mention``, ``hashtag`` and ``url`` entities
  are detected in plain text, approximately like the real server;
- flood limits, when a test turns them on with :meth:`BotApiEmulator.enforce_limits`: too many
  messages per second overall, or per minute in one group, get ``429 Too Many Requests`` with
  ``retry_after``, as the real server answers a bulk sender (off by default; for a one-off 429
  use :meth:`BotApiEmulator.fail_next`).

Not emulated (answered with a distinctive 400 naming this file, or not at all): Markdown parse
modes, inline mode, payments, webhooks actually being called, bare-domain URL detection,
email/phone entities.

:meth:`BotApiEmulator.kill_on_send` is not about the API at all: it SIGKILLs a bot process the
moment its n-th send arrives, so a test can check what a bot that died mid-broadcast does next.

Everything here is standard library only and thread-safe: the HTTP server runs in daemon threads
and all state sits behind one lock, so tests may drive and observe it from any thread. The
blocking ``wait_*`` helpers have ``*_async`` twins for tests whose bot runs on the test's own
event loop (a blocking wait there would starve the bot).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import mimetypes
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tests.loopback import Fault, LoopbackEmulator, LoopbackHandler, Response

__all__ = ["ApiError", "BotApiEmulator", "Upload", "parse_html"]

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_INLINE_BUTTONS = 100
MAX_DOWNLOAD_SIZE = 20 * 1024 * 1024
MAX_COMMANDS = 100

# Telegram's documented limits for bots (core.telegram.org/bots/faq): about 30 messages per
# second in all, at most 20 messages per minute in one group. Defaults of enforce_limits().
FLOOD_PER_SECOND = 30
FLOOD_PER_GROUP_PER_MINUTE = 20
# The calls that put a new message in a chat, which is what those limits count. Edits,
# callback answers and chat actions make no message; the other send* methods are not emulated.
_MESSAGE_SENDS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_HTTP_PHRASES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    420: "Flood",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}

_CHAT_ACTIONS = _words(
    "typing upload_photo record_video upload_video record_voice upload_voice upload_document "
    "choose_sticker find_location record_video_note upload_video_note"
)

_ALL_UPDATE_TYPES = _words(
    "message edited_message channel_post edited_channel_post business_connection "
    "business_message edited_business_message deleted_business_messages message_reaction "
    "message_reaction_count inline_query chosen_inline_result callback_query shipping_query "
    "pre_checkout_query purchased_paid_media poll poll_answer my_chat_member chat_member "
    "chat_join_request chat_boost removed_chat_boost"
)
# What a bot gets when it never chose (or chose an empty list): everything but these three.
_DEFAULT_UPDATE_TYPES = _ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

_BUTTON_KINDS = _words(
    "url callback_data web_app login_url switch_inline_query switch_inline_query_current_chat "
    "switch_inline_query_chosen_chat copy_text callback_game pay"
)

_SCOPE_TYPES = _words(
    "default all_private_chats all_group_chats all_chat_administrators chat "
    "chat_administrators chat_member"
)

# Real Bot API methods this emulator does not implement: they get a 400 that says so, rather
# than the real server's 404 for unknown methods (which PTB would report as InvalidToken).
_NOT_EMULATED = frozenset(
    name.lower()
    for name in _words(
        "logOut close forwardMessage forwardMessages copyMessage copyMessages sendAudio "
        "sendVideo sendAnimation sendVoice sendVideoNote sendPaidMedia sendMediaGroup "
        "sendLocation sendVenue sendContact sendPoll sendChecklist sendDice sendMessageDraft "
        "setMessageReaction getUserProfilePhotos setUserEmojiStatus banChatMember "
        "unbanChatMember restrictChatMember promoteChatMember setChatAdministratorCustomTitle "
        "banChatSenderChat unbanChatSenderChat setChatPermissions exportChatInviteLink "
        "createChatInviteLink editChatInviteLink revokeChatInviteLink approveChatJoinRequest "
        "declineChatJoinRequest setChatPhoto deleteChatPhoto setChatTitle setChatDescription "
        "pinChatMessage unpinChatMessage unpinAllChatMessages getChatAdministrators "
        "getChatMemberCount getChatMember setChatStickerSet deleteChatStickerSet "
        "getForumTopicIconStickers createForumTopic editForumTopic closeForumTopic "
        "reopenForumTopic deleteForumTopic unpinAllForumTopicMessages getUserChatBoosts "
        "setMyName getMyName setMyDefaultAdministratorRights getMyDefaultAdministratorRights "
        "editMessageMedia editMessageLiveLocation stopMessageLiveLocation editMessageChecklist "
        "stopPoll deleteMessages sendSticker getStickerSet answerInlineQuery sendInvoice "
        "createInvoiceLink answerShippingQuery answerPreCheckoutQuery sendGame setGameScore "
        "getGameHighScores getBusinessConnection getAvailableGifts sendGift"
    )
)

_INT_PARAMS = _words(
    "chat_id from_chat_id message_id message_thread_id reply_to_message_id user_id offset "
    "limit timeout cache_time max_connections until_date"
)
_TEXT_PARAMS = _words(
    "text caption description short_description name title query url callback_query_id "
    "inline_message_id file_id language_code parse_mode action secret_token ip_address"
)

_BLANK_LEFT = " \n"
_BLANK_RIGHT = " \t\r\n\v\f"


class ApiError(Exception):
    """A Bot API error answer: HTTP ``status`` and the body's ``description``/``parameters``."""

    def __init__(
        self, status: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.parameters:
            answer["parameters"] = self.parameters
        return answer


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def _forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


@dataclass(frozen=True)
class Upload:
    """A file part of a ``multipart/form-data`` request."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {
            "upload": self.field,
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


# --------------------------------------------------------------------------------------------
# Request decoding


def _header_params(value: str) -> tuple[str, dict[str, str]]:
    """``'form-data; name="a"; filename="b"'`` -> ``("form-data", {"name": "a", ...})``."""
    main, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in re.finditer(r'\s*([\w*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)\s*;?', rest):
        key, raw = match.group(1).lower(), match.group(2).strip()
        if len(raw) >= 2 and raw[0] == raw[-1] == '"':
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        # httpx (like browsers) percent-escapes quotes and line breaks in names.
        params[key] = raw.replace("%22", '"').replace("%0D", "\r").replace("%0A", "\n")
    return main.strip().lower(), params


def _parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, Upload]]:
    fields: dict[str, str] = {}
    uploads: dict[str, Upload] = {}
    delimiter = b"--" + boundary.encode("latin-1")
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        part = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, _, data = part.partition(b"\r\n\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        _, disposition = _header_params(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if name is None:
            continue
        if "filename" in disposition or "filename*" in disposition:
            uploads[name] = Upload(
                field=name,
                filename=disposition.get("filename"),
                content_type=headers.get("content-type"),
                data=bytes(data),
            )
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, uploads


def decode_request(
    content_type: str | None, body: bytes, query: str = ""
) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Parameters and uploaded files of a request, however PTB (or anyone) encoded them."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    uploads: dict[str, Upload] = {}
    if not body:
        return params, uploads
    kind, options = _header_params(content_type or "")
    if kind == "application/json":
        try:
            decoded = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise _bad("can't parse JSON object") from exc
        if not isinstance(decoded, dict):
            raise _bad("JSON object expected")
        params.update(decoded)
    elif kind == "application/x-www-form-urlencoded":
        params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    elif kind == "multipart/form-data":
        if "boundary" not in options:
            raise _bad("can't parse multipart/form-data: boundary is missing")
        fields, uploads = _parse_multipart(body, options["boundary"])
        params.update(fields)
    return params, uploads


def _normalize(params: dict[str, Any]) -> dict[str, Any]:
    """Typed values for the call log: JSON strings decoded, numbers and booleans recognised."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, str) and key not in _TEXT_PARAMS:
            stripped = value.strip()
            if stripped[:1] in ("{", "["):
                with contextlib.suppress(ValueError):
                    value = json.loads(stripped)
            elif key in _INT_PARAMS and re.fullmatch(r"-?\d+", stripped):
                value = int(stripped)
            elif stripped in ("true", "false"):
                value = stripped == "true"
        out[key] = value
    return out


# --------------------------------------------------------------------------------------------
# Text: HTML parsing (a port of tdlib's parse_html), trimming, entity detection


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _is_space(byte: int) -> bool:
    return byte in (0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x00)


def _decode_html_entity(src: bytes, pos: int) -> tuple[int, int]:
    """tdlib's decode_html_entity: ``(code point or 0, position after the entity)``."""

    def at(i: int) -> int:
        return src[i] if i < len(src) else 0

    end = pos + 1
    code = 0
    if at(pos + 1) == ord("#"):
        end += 1
        if at(pos + 2) == ord("x"):
            end += 1
            while chr(at(end)) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(at(end)), 16)
                end += 1
        else:
            while ord("0") <= at(end) <= ord("9"):
                code = code * 10 + at(end) - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while chr(at(end)).isascii() and chr(at(end)).isalpha():
            end += 1
        code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(src[pos + 1 : end], 0)
        if not code:
            return 0, pos
    if at(end) == ord(";"):
        end += 1
    return code, end


_HTML_TAGS = _words(
    "a b strong i em s strike del u ins tg-spoiler tg-emoji span pre code blockquote"
)
_SIMPLE_TAG_TYPES = {
    "i": "italic",
    "em": "italic",
    "b": "bold",
    "strong": "bold",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
# tdlib's sort order for entities starting at the same offset with the same length.
_ENTITY_PRIORITY = {
    "mention": 50,
    "hashtag": 50,
    "bot_command": 50,
    "url": 50,
    "email": 50,
    "bold": 90,
    "italic": 91,
    "code": 20,
    "pre": 11,
    "text_link": 49,
    "text_mention": 49,
    "cashtag": 50,
    "phone_number": 50,
    "underline": 92,
    "strikethrough": 93,
    "blockquote": 0,
    "expandable_blockquote": 0,
    "spoiler": 94,
    "custom_emoji": 99,
}


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _sort_entities(entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        entities,
        key=lambda e: (e["offset"], -e["length"], _ENTITY_PRIORITY.get(e["type"], 50)),
    )


def _checked_link(url: str) -> str | None:
    """Roughly tdlib's LinkManager::get_checked_link: a usable URL, or None to drop the link."""
    url = url.strip()
    if not url:
        return None
    if "://" not in url and not url.lower().startswith(("tg:", "mailto:")):
        url = "http://" + url
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https", "ftp"):
        if not parts.netloc or " " in parts.netloc:
            return None
        if not parts.path:
            url = parts._replace(scheme=scheme, path="/").geturl()
        return url
    if scheme in ("tg", "ton", "mailto"):
        return url
    return None


def parse_html(text: str, users: dict[int, dict[str, Any]] | None = None) -> tuple[str, list]:
    """Parse Telegram-HTML like the real server (tdlib ``parse_html``).

    Returns the visible text and its entities (UTF-16 offsets, Bot API JSON); raises
    :class:`ApiError` 400 ``"Bad Request: can't parse entities: ..."`` with tdlib's wording
    and byte offsets.
    """
    src = text.encode("utf-8", "surrogatepass")
    n = len(src)

    def at(i: int) -> int:
        return src[i] if i < n else 0

    def fail(message: str) -> ApiError:
        return _bad(f"can't parse entities: {message}")

    out = bytearray()
    utf16 = 0
    entities: list[dict[str, Any]] = []
    # (tag name, argument, entity's UTF-16 offset, entity's start in `out`)
    nested: list[tuple[str, str, int, int]] = []
    i = 0
    while i < n:
        c = src[i]
        if c == 0x26:  # '&'
            code, after = _decode_html_entity(src, i)
            if code:
                utf16 += 2 if code > 0xFFFF else 1
                out += chr(code).encode("utf-8", "surrogatepass")
                i = after
                continue
        if c != 0x3C:  # not '<'
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue

        begin = i
        i += 1
        if at(i) != 0x2F:  # a start tag
            while not _is_space(at(i)) and at(i) != 0x3E:
                i += 1
            if at(i) == 0:
                raise fail(f"Unclosed start tag at byte offset {begin}")
            tag = src[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _HTML_TAGS:
                raise fail(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument = ""
            while at(i) != 0x3E:
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0x3E:
                    break
                name_begin = i
                while not _is_space(at(i)) and at(i) not in (0x3D, 0x3E):
                    i += 1
                attribute = src[name_begin:i].decode("utf-8", "replace")
                if not attribute:
                    raise fail(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if tag == "blockquote" and attribute.lower() == "expandable" and at(i) != 0x3D:
                    argument = "expandable"
                    continue
                if at(i) != 0x3D:
                    raise fail(
                        "Expected equal sign in declaration of an attribute of the tag "
                        f'"{tag}" at byte offset {begin}'
                    )
                i += 1
                while at(i) != 0 and _is_space(at(i)):
                    i += 1
                if at(i) == 0:
                    raise fail(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if at(i) not in (0x22, 0x27):
                    token_begin = i
                    while chr(at(i)).isascii() and (chr(at(i)).isalnum() or at(i) in (0x2E, 0x2D)):
                        i += 1
                    value = src[token_begin:i].decode("utf-8", "replace").lower()
                    if not _is_space(at(i)) and at(i) != 0x3E:
                        raise fail(f"Unexpected end of name token at byte offset {token_begin}")
                else:
                    quote = at(i)
                    i += 1
                    raw = bytearray()
                    while at(i) != quote and at(i) != 0:
                        if at(i) == 0x26:
                            code, after = _decode_html_entity(src, i)
                            if code:
                                raw += chr(code).encode("utf-8", "surrogatepass")
                                i = after
                                continue
                        raw.append(at(i))
                        i += 1
                    if at(i) == quote:
                        i += 1
                    value = raw.decode("utf-8", "replace")
                if at(i) == 0:
                    raise fail(f"Unclosed start tag at byte offset {begin}")
                if tag == "a" and attribute == "href":
                    argument = value
                elif tag == "code" and attribute == "class" and value.startswith("language-"):
                    argument = value[len("language-") :]
                elif tag == "span" and attribute == "class" and value.startswith("tg-"):
                    argument = value[len("tg-") :]
                elif tag == "tg-emoji" and attribute == "emoji-id":
                    argument = value
            if tag == "span" and argument != "spoiler":
                raise fail(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            nested.append((tag, argument, utf16, len(out)))
            i += 1  # past '>'
            continue

        # an end tag
        if not nested:
            raise fail(f"Unexpected end tag at byte offset {begin}")
        while not _is_space(at(i)) and at(i) != 0x3E:
            i += 1
        end_tag = src[begin + 2 : i].decode("utf-8", "replace").lower()
        while _is_space(at(i)) and at(i) != 0:
            i += 1
        if at(i) != 0x3E:
            raise fail(f"Unclosed end tag at byte offset {begin}")
        tag, argument, offset, out_begin = nested[-1]
        if end_tag and end_tag != tag:
            raise fail(
                f'Unmatched end tag at byte offset {begin}, expected "</{tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > offset:
            length = utf16 - offset
            last = entities[-1] if entities else None
            same_span = last is not None and (last["offset"], last["length"]) == (offset, length)
            if tag in _SIMPLE_TAG_TYPES:
                entities.append(
                    {"type": _SIMPLE_TAG_TYPES[tag], "offset": offset, "length": length}
                )
            elif tag == "tg-emoji":
                if not argument.isdigit() or int(argument) == 0:
                    raise _bad("Invalid custom emoji identifier specified")
                entities.append(
                    {
                        "type": "custom_emoji",
                        "offset": offset,
                        "length": length,
                        "custom_emoji_id": argument,
                    }
                )
            elif tag == "a":
                url = argument or out[out_begin:].decode("utf-8", "replace")
                mention = re.fullmatch(r"tg://user\?id=(\d+)", url.strip())
                if mention:
                    user_id = int(mention.group(1))
                    user = (users or {}).get(user_id) or {
                        "id": user_id,
                        "is_bot": False,
                        "first_name": "",
                    }
                    entities.append(
                        {"type": "text_mention", "offset": offset, "length": length, "user": user}
                    )
                else:
                    checked = _checked_link(url)
                    if checked:
                        entities.append(
                            {
                                "type": "text_link",
                                "offset": offset,
                                "length": length,
                                "url": checked,
                            }
                        )
            elif tag == "pre":
                if same_span and last is not None and last["type"] == "code" and last.get("_lang"):
                    last["type"] = "pre"
                    last["language"] = last.pop("_lang")
                else:
                    entities.append({"type": "pre", "offset": offset, "length": length})
            elif tag == "code":
                if same_span and last is not None and last["type"] == "pre" and argument:
                    last["language"] = argument
                else:
                    entity = {"type": "code", "offset": offset, "length": length}
                    if argument:
                        entity["_lang"] = argument
                    entities.append(entity)
            elif tag == "blockquote":
                kind = "expandable_blockquote" if argument == "expandable" else "blockquote"
                entities.append({"type": kind, "offset": offset, "length": length})
        nested.pop()
        i += 1  # past '>'

    if nested:
        raise fail(f'Can\'t find end tag corresponding to start tag "{nested[-1][0]}"')
    for entity in entities:
        entity.pop("_lang", None)
    try:
        visible = out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(
            "Text contains invalid Unicode characters after decoding HTML entities, check for "
            "unmatched surrogate code units"
        ) from exc
    return visible, _sort_entities(entities)


def _trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim like tdlib's fix_formatted_text, clipping entities to what remains."""
    right = text.rstrip(_BLANK_RIGHT)
    trimmed = right.lstrip(_BLANK_LEFT)
    shift = _utf16_len(right[: len(right) - len(trimmed)])
    size = _utf16_len(trimmed)
    kept = []
    for entity in entities:
        start = max(0, int(entity["offset"]) - shift)
        end = min(size, int(entity["offset"]) + int(entity["length"]) - shift)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return trimmed, kept


_COMMAND_RE = re.compile(r"(?<![\w/<>])/[A-Za-z0-9_]{1,64}+(?:@[A-Za-z0-9_]{3,32}+)?+(?![\w/<>@])")
_MENTION_RE = re.compile(r"(?<!\w)@[A-Za-z0-9_]{4,32}+(?!\w)")
_HASHTAG_RE = re.compile(r"(?<![\w\u200c])#[\w\u200c]+")
_URL_RE = re.compile(r"(?i)(?<![\w/])(?:https?|ftp)://[^\s<>\"«»]+")
_NOT_AUTO_INSIDE = _words("code pre text_link text_mention custom_emoji url bot_command")


def find_entities(text: str, existing: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Entities the real server detects by itself in plain text (an approximation)."""
    found: list[tuple[int, int, str]] = []
    for match in _COMMAND_RE.finditer(text):
        found.append((match.start(), match.end(), "bot_command"))
    for match in _MENTION_RE.finditer(text):
        found.append((match.start(), match.end(), "mention"))
    for match in _HASHTAG_RE.finditer(text):
        end = match.end()
        if text[end : end + 1] == "#" or not any(ch.isalpha() for ch in match.group()[1:]):
            continue
        found.append((match.start(), min(end, match.start() + 257), "hashtag"))
    for match in _URL_RE.finditer(text):
        url = match.group().rstrip(".:;,('?!`")
        if "://" in url and len(url.split("://", 1)[1]) > 0:
            found.append((match.start(), match.start() + len(url), "url"))
    blocked = [
        (e["offset"], e["offset"] + e["length"])
        for e in existing or []
        if e["type"] in _NOT_AUTO_INSIDE
    ]
    result = []
    for start, end, kind in sorted(found):
        offset = _utf16_len(text[:start])
        length = _utf16_len(text[start:end])
        if any(offset < b_end and b_start < offset + length for b_start, b_end in blocked):
            continue
        blocked.append((offset, offset + length))
        result.append({"type": kind, "offset": offset, "length": length})
    return result


# --------------------------------------------------------------------------------------------
# Images: just enough to answer width/height and to refuse what is not an image


def _image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a JPEG/PNG/GIF/WebP/BMP, or None when it is not an image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    if data.startswith(b"BM") and len(data) >= 26:
        return int.from_bytes(data[18:22], "little"), abs(
            int.from_bytes(data[22:26], "little", signed=True)
        )
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return 512, 512
    if data.startswith(b"\xff\xd8\xff"):
        pos = 2
        while pos + 9 < len(data):
            if data[pos] != 0xFF:
                pos += 1
                continue
            marker = data[pos + 1]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height = int.from_bytes(data[pos + 5 : pos + 7], "big")
                width = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return width, height
            pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
        return 1280, 960
    return None


# --------------------------------------------------------------------------------------------
# State


@dataclass
class _Chat:
    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    user_id: int | None = None  # the other party of a private chat
    bot_status: str = "member"  # member | administrator | left | kicked
    blocked: bool = False  # private: the user blocked the bot
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    actions: list[str] = field(default_factory=list)
    reply_keyboard: dict[str, Any] | None = None


@dataclass
class _File:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document"
    data: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    sizes: list[str] = field(default_factory=list)  # photo: the file ids of every size


class _Ok:
    """A successful answer that carries a ``description`` too, like deleteWebhook's."""

    def __init__(self, result: Any, description: str) -> None:
        self.result = result
        self.description = description


# --------------------------------------------------------------------------------------------
# HTTP plumbing


class _Handler(LoopbackHandler):
    server_version = "nginx/1.18.0"

    def respond(self, body: bytes) -> Response:
        return self.server.emulator._handle_http(
            self.command, self.path, self.headers.get("Content-Type"), body
        )


# --------------------------------------------------------------------------------------------
# The emulator


class BotApiEmulator(LoopbackEmulator):
    """A Telegram Bot API server on ``127.0.0.1`` with a test API to act as users and observe.

    Test API (all thread-safe):

    - drive: :meth:`user_sends`, :meth:`user_edits`, :meth:`user_presses`,
      :meth:`user_sends_photo`, :meth:`user_sends_document`, :meth:`bot_added_to_group`,
      :meth:`bot_removed_from_group`, :meth:`register_chat`;
    - faults: :meth:`fail_next`, :meth:`disconnect_next`, :meth:`delay_next`, :meth:`block`,
      :meth:`unblock`, :meth:`enforce_limits`, :meth:`kill_on_send`;
    - observe: :meth:`sent`, :meth:`sent_count`, :attr:`flood_refusals`, :attr:`killed`,
      :meth:`last_sent`, :meth:`history`, :attr:`calls`,
      :meth:`calls_to`, :meth:`commands`, :meth:`visible_commands`, :meth:`chat_actions`,
      :attr:`answered_callbacks`, :meth:`reply_keyboard`, :meth:`file_bytes`,
      :attr:`pending_updates`, :attr:`webhook`, :attr:`errors`;
    - wait: :meth:`wait_for`, :meth:`wait_for_message`, :meth:`wait_idle` and their
      ``*_async`` twins.
    """

    _name = "BotApiEmulator"
    _handler = _Handler
    _api_error = ApiError
    _crash_description = "Internal Server Error: emulator crashed: {!r}"

    def __init__(
        self,
        token: str = "123456:TEST",
        bot_username: str = "sangkien_test_bot",
        bot_id: int | None = None,
        *,
        bot_first_name: str = "Sáng kiến (test)",
        privacy_mode: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        prefix = token.partition(":")[0]
        derived_id = int(prefix) if prefix.isdigit() else 123456
        if bot_id is not None and prefix.isdigit() and bot_id != derived_id:
            raise ValueError(f"bot_id {bot_id} does not match the token's prefix {prefix}")
        self.token = token
        self.bot_id = bot_id if bot_id is not None else derived_id
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.privacy_mode = privacy_mode
        self._clock = clock
        super().__init__()

        self._users: dict[int, dict[str, Any]] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._allowed_updates: frozenset[str] = _DEFAULT_UPDATE_TYPES
        self._poll_generation = 0
        self._webhook: dict[str, Any] | None = None
        self._callbacks: dict[str, dict[str, Any]] = {}
        self._answered: list[dict[str, Any]] = []
        self._callback_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self._descriptions: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._files: dict[str, _File] = {}
        self._file_paths: dict[str, str] = {}
        self._file_seq = itertools.count(1)

        # Flood limits (enforce_limits): None while off, else (per second, per group per minute),
        # and the clock times of the sends accepted within each window, oldest first.
        self._limits: tuple[int, int] | None = None
        self._window_all: deque[float] = deque()
        self._window_groups: dict[int, deque[float]] = {}
        self._flood_refusals = 0
        self._send_counts: dict[int, int] = {}
        # The kill hook (kill_on_send): (method in lower case, nth, pid) while armed, and how
        # many calls of that method arrived since it was armed.
        self._kill: tuple[str, int, int] | None = None
        self._kill_seen = 0
        self._killed = False

        self._methods: dict[str, tuple[str, Callable[..., Any]]] = {}
        for attribute in dir(self):
            if attribute.startswith("_api_"):
                name = attribute[len("_api_") :]
                self._methods[name.lower()] = (name, getattr(self, attribute))

    # ---------------------------------------------------------------- lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """For ``telegram.Bot(base_url=...)``: PTB appends the token, then ``/method``."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """For ``telegram.Bot(base_file_url=...)``."""
        return f"{self.url}/file/bot"

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot as a ``User`` object (as it appears in ``from``)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # ---------------------------------------------------------------- faults

    def fail_next(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with this error instead of doing them.

        ``description`` defaults to the status's usual text; with ``retry_after`` (for 429) the
        answer carries ``"parameters": {"retry_after": N}`` and, by default, the description
        ``"Too Many Requests: retry after N"``, as the real server does.
        """
        params = dict(parameters or {})
        if retry_after is not None:
            params["retry_after"] = retry_after
        if description is None:
            if status == 429 and retry_after is not None:
                description = f"Too Many Requests: retry after {retry_after}"
            else:
                description = _HTTP_PHRASES.get(status, "Error")
        fault = Fault("error", error=ApiError(status, description, params or None))
        self._add_fault(method, fault, times)

    def _fault_key(self, method: str) -> str:
        return method.lower()  # method names are case-insensitive

    def enforce_limits(
        self,
        *,
        per_second: int = FLOOD_PER_SECOND,
        per_group_per_minute: int = FLOOD_PER_GROUP_PER_MINUTE,
    ) -> None:
        """Refuse sends beyond Telegram's flood limits with 429, as the real server does.

        From now on, a message-sending call (``sendMessage``, ``sendPhoto``, ``sendDocument``)
        is refused when ``per_second`` sends were already accepted (to any chat) within the last
        second, or ``per_group_per_minute`` to the same group or supergroup within the last 60
        seconds: ``429`` with ``"parameters": {"retry_after": N}``, N the whole seconds (at least
        1) until a slot frees up. A refused call delivers nothing and takes no slot, so a bot
        that waits ``retry_after`` gets through. Windows slide on the emulator's clock (the
        ``clock`` it was built with), so a test with a fake clock decides when time passes.
        Calling this again sets new limits and forgets what the windows held.
        """
        if per_second < 1 or per_group_per_minute < 1:
            raise ValueError("flood limits must allow at least one message")
        with self._lock:
            self._limits = (per_second, per_group_per_minute)
            self._window_all.clear()
            self._window_groups.clear()

    def kill_on_send(self, nth: int, pid: int, method: str = "sendMessage") -> None:
        """SIGKILL process ``pid`` when the ``nth`` call of ``method`` from now on arrives.

        That call is neither done nor logged in :attr:`calls` — it never reached Telegram — and
        its connection is dropped without an answer (its sender is dead anyway): the bot died
        with this send in flight. Fires once, then disarms; :attr:`killed` tells it fired.
        Arming again starts counting afresh. ``pid`` must be another process: the emulator's
        own would take the test down, and 0 or a negative pid would signal process groups.
        """
        if nth < 1:
            raise ValueError("nth counts calls from 1")
        if pid <= 0 or pid == os.getpid():
            raise ValueError(f"refusing to SIGKILL pid {pid}: pass the bot's own process id")
        with self._lock:
            self._kill = (method.lower(), nth, pid)
            self._kill_seen = 0
            self._killed = False

    def block(self, user_id: int) -> dict[str, Any]:
        """The user blocks the bot: sends, edits and chat actions to them get 403 from now on.

        Like the real server, this delivers a ``my_chat_member`` update (member -> kicked);
        it is returned.
        """
        with self._lock:
            chat = self._private_chat(user_id)
            chat.blocked = True
            return self._my_chat_member(chat, user_id, "member", "kicked")

    def unblock(self, user_id: int) -> dict[str, Any]:
        """The user unblocks the bot (``my_chat_member`` kicked -> member, returned)."""
        with self._lock:
            chat = self._private_chat(user_id)
            chat.blocked = False
            return self._my_chat_member(chat, user_id, "kicked", "member")

    # ---------------------------------------------------------------- acting as people

    def register_chat(
        self,
        chat_id: int,
        *,
        chat_type: str = "private",
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        title: str | None = None,
    ) -> dict[str, Any]:
        """Make a chat known without any update, as if the user started the bot long ago.

        Returns the ``Chat`` object.
        """
        with self._lock:
            if chat_type == "private":
                self._touch_user(chat_id, first_name, last_name, username, language_code)
                chat = self._private_chat(chat_id, create=True)
            else:
                chat = self._group_chat(chat_id, chat_type, title)
            self._notify()
            return self._chat_json(chat)

    def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """A user sends a text message; returns the ``message`` update the bot will get.

        Profile fields left ``None`` keep what the user had (first_name defaults to "Lan",
        language_code to "vi"). Texts get ``bot_command``/``mention``/``hashtag``/``url``
        entities as the real server adds them. A private chat with a blocked bot is
        unblocked first (a real client does that when the user writes again).

        In groups (``chat_type="group"``/``"supergroup"``, negative ``chat_id``) with privacy
        mode on, only commands, mentions of the bot and replies to it reach the bot; a message
        the bot does not get is still returned, without ``update_id``.
        """
        if not text:
            raise ValueError("a user can't send an empty message")
        with self._lock:
            user = self._touch_user(user_id, first_name, last_name, username, language_code)
            chat = self._chat_for_user(user_id, chat_id, chat_type, chat_title)
            message = self._user_message(chat, user, reply_to_message_id)
            message["text"] = text
            entities = find_entities(text)
            if entities:
                message["entities"] = entities
            return self._deliver_user_message(chat, message)

    def user_edits(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user edits one of their text messages: an ``edited_message`` update."""
        with self._lock:
            chat = self._chats.get(chat_id if chat_id is not None else user_id)
            message = chat.messages.get(message_id) if chat else None
            if chat is None or message is None or message["from"]["id"] != user_id:
                raise ValueError(f"user {user_id} has no message {message_id} to edit there")
            if "text" not in message:
                raise ValueError("only text messages can be edited this way")
            message["text"] = text
            message["edit_date"] = self._now()
            entities = find_entities(text)
            message.pop("entities", None)
            if entities:
                message["entities"] = entities
            if chat.type != "private" and chat.bot_status not in ("member", "administrator"):
                self._notify()
                return {"edited_message": copy.deepcopy(message)}
            return self._enqueue("edited_message", message)

    def user_presses(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user presses an inline button of a bot message: a ``callback_query`` update.

        ``message`` is that message as it is now. Raises :class:`ValueError` when the message
        (still) has no button with this ``callback_data`` — a real client can only press
        buttons that exist.
        """
        with self._lock:
            chat_key = chat_id if chat_id is not None else user_id
            chat = self._chats.get(chat_key)
            message = chat.messages.get(message_id) if chat else None
            if chat is None or message is None:
                raise ValueError(f"there is no message {message_id} in chat {chat_key}")
            if message["from"]["id"] != self.bot_id:
                raise ValueError(f"message {message_id} in chat {chat_key} is not the bot's")
            buttons = [
                button
                for row in message.get("reply_markup", {}).get("inline_keyboard", [])
                for button in row
            ]
            if not any(button.get("callback_data") == callback_data for button in buttons):
                present = [b.get("callback_data") for b in buttons if "callback_data" in b]
                raise ValueError(
                    f"message {message_id} in chat {chat_key} has no button with callback_data "
                    f"{callback_data!r}; its buttons carry {present!r}"
                )
            user = self._touch_user(user_id, None, None, None, None)
            query_id = str(4_000_000_000_000_000_000 + next(self._callback_ids))
            self._callbacks[query_id] = {
                "answered": False,
                "user_id": user_id,
                "chat_id": chat.id,
                "message_id": message_id,
                "data": callback_data,
            }
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(message),
                "chat_instance": self._chat_instance(chat.id),
                "data": callback_data,
            }
            return self._enqueue("callback_query", query)

    def user_sends_photo(
        self,
        user_id: int,
        *,
        caption: str | None = None,
        file_bytes: bytes = b"\xff\xd8\xff\xe0 not really a JPEG",
        chat_id: int | None = None,
        chat_type: str = "private",
        width: int = 1280,
        height: int = 960,
    ) -> dict[str, Any]:
        """The user sends a photo; its sizes are registered so getFile and downloads work."""
        with self._lock:
            user = self._touch_user(user_id, None, None, None, None)
            chat = self._chat_for_user(user_id, chat_id, chat_type, None)
            message = self._user_message(chat, user, None)
            message["photo"] = self._register_photo(file_bytes, width, height)
            if caption:
                message["caption"] = caption
                entities = find_entities(caption)
                if entities:
                    message["caption_entities"] = entities
            return self._deliver_user_message(chat, message)

    def user_sends_document(
        self,
        user_id: int,
        *,
        file_name: str,
        mime_type: str,
        file_bytes: bytes = b"%PDF-1.4 test document",
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
    ) -> dict[str, Any]:
        """The user sends a file; it is registered so getFile and downloads work."""
        with self._lock:
            user = self._touch_user(user_id, None, None, None, None)
            chat = self._chat_for_user(user_id, chat_id, chat_type, None)
            message = self._user_message(chat, user, None)
            stored = self._register_file("document", file_bytes, file_name, mime_type)
            message["document"] = self._document_json(stored)
            if caption:
                message["caption"] = caption
                entities = find_entities(caption)
                if entities:
                    message["caption_entities"] = entities
            return self._deliver_user_message(chat, message)

    def bot_added_to_group(
        self,
        chat_id: int,
        *,
        by_user_id: int,
        title: str = "Công đoàn test",
        chat_type: str = "group",
        status: str = "member",
    ) -> dict[str, Any]:
        """Someone adds the bot to a group: a ``my_chat_member`` update (left -> status)."""
        if status not in ("member", "administrator"):
            raise ValueError("status must be 'member' or 'administrator'")
        with self._lock:
            self._touch_user(by_user_id, None, None, None, None)
            chat = self._group_chat(chat_id, chat_type, title)
            old = chat.bot_status if chat.bot_status in ("left", "kicked") else "left"
            chat.bot_status = status
            return self._my_chat_member(chat, by_user_id, old, status)

    def bot_removed_from_group(
        self, chat_id: int, *, by_user_id: int, kicked: bool = True
    ) -> dict[str, Any]:
        """Someone removes the bot from a group: ``my_chat_member`` (-> kicked, or left)."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None or chat.type == "private":
                raise ValueError(f"the bot is in no group {chat_id}")
            self._touch_user(by_user_id, None, None, None, None)
            old = chat.bot_status
            chat.bot_status = "kicked" if kicked else "left"
            return self._my_chat_member(chat, by_user_id, old, chat.bot_status)

    # ---------------------------------------------------------------- observing

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in that chat as they are now (after edits), oldest first."""
        with self._lock:
            chat = self._chats.get(chat_id)
            if chat is None:
                return []
            return [
                copy.deepcopy(m) for m in chat.messages.values() if m["from"]["id"] == self.bot_id
            ]

    def sent_count(self, chat_id: int) -> int:
        """How many sends (``sendMessage``, ``sendPhoto``, ``sendDocument``) to that chat
        succeeded, whether or not limits are on.

        Unlike ``len(sent(chat_id))`` it counts deleted messages too and costs nothing, so a
        benchmark may poll it while thousands of messages go out.
        """
        with self._lock:
            return self._send_counts.get(chat_id, 0)

    @property
    def flood_refusals(self) -> int:
        """How many calls :meth:`enforce_limits` refused with 429 (not :meth:`fail_next`'s)."""
        with self._lock:
            return self._flood_refusals

    @property
    def killed(self) -> bool:
        """Whether the :meth:`kill_on_send` hook armed last has fired."""
        with self._lock:
            return self._killed

    def last_sent(self, chat_id: int) -> dict[str, Any] | None:
        """The bot's latest (not deleted) message in that chat, or None."""
        messages = self.sent(chat_id)
        return messages[-1] if messages else None

    def history(self, chat_id: int) -> list[dict[str, Any]]:
        """Every message in the chat, the users' and the bot's, as they are now."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(list(chat.messages.values())) if chat else []

    @property
    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """Every API call received, in order: ``(method, params)``.

        ``method`` is the official spelling when known; params are decoded (JSON strings
        parsed, ids and booleans typed); uploaded files appear as ``{"upload": ..., "size": N}``.
        """
        with self._lock:
            return copy.deepcopy(self._calls)

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The params of every call of ``method`` (case-insensitive), in order."""
        wanted = method.lower()
        return [params for name, params in self.calls if name.lower() == wanted]

    def commands(
        self, language_code: str | None = None, scope: dict[str, Any] | None = None
    ) -> list[dict[str, str]]:
        """The commands stored for exactly this scope and language (as getMyCommands answers)."""
        with self._lock:
            key = (self._scope_key(scope), language_code or "")
            return copy.deepcopy(self._commands.get(key, []))

    def visible_commands(
        self, chat_id: int, language_code: str = "", *, user_id: int | None = None
    ) -> list[dict[str, str]]:
        """The command menu a user would see there, resolving scopes the way Telegram does."""
        with self._lock:
            chat = self._chats.get(chat_id)
            private = chat.type == "private" if chat else chat_id > 0
            scopes: list[dict[str, Any]] = []
            if not private and user_id is not None:
                scopes.append({"type": "chat_member", "chat_id": chat_id, "user_id": user_id})
            scopes.append({"type": "chat", "chat_id": chat_id})
            scopes.append({"type": "all_private_chats" if private else "all_group_chats"})
            scopes.append({"type": "default"})
            for scope in scopes:
                for language in dict.fromkeys((language_code, "")):
                    found = self._commands.get((self._scope_key(scope), language))
                    if found:
                        return copy.deepcopy(found)
            return []

    def chat_actions(self, chat_id: int) -> list[str]:
        """The chat actions (``typing`` ...) the bot sent to that chat, in order."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return list(chat.actions) if chat else []

    @property
    def answered_callbacks(self) -> list[dict[str, Any]]:
        """answerCallbackQuery calls that succeeded: id, text, show_alert, url, cache_time."""
        with self._lock:
            return copy.deepcopy(self._answered)

    def reply_keyboard(self, chat_id: int) -> dict[str, Any] | None:
        """The custom reply keyboard (or force_reply) the user currently sees, if any."""
        with self._lock:
            chat = self._chats.get(chat_id)
            return copy.deepcopy(chat.reply_keyboard) if chat else None

    def file_bytes(self, file_id: str) -> bytes:
        """The content behind a file id (the users' files and the bot's uploads)."""
        with self._lock:
            return self._files[file_id].data

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Updates not yet confirmed by the bot (via getUpdates' offset)."""
        with self._lock:
            return copy.deepcopy(self._updates)

    @property
    def webhook(self) -> dict[str, Any] | None:
        """What setWebhook set (url, options), or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    # ---------------------------------------------------------------- waiting

    def wait_for_message(
        self, chat_id: int, contains: str, timeout: float = 10, *, after: int | None = None
    ) -> dict[str, Any]:
        """Wait until a bot message in that chat contains ``contains`` (text or caption).

        Returns the newest such message (as it is now). ``after``: only messages with a larger
        ``message_id`` count — e.g. the id of the user's message being answered.
        """
        found: list[dict[str, Any]] = []

        def check() -> bool:
            for message in reversed(self.sent(chat_id)):
                if after is not None and message["message_id"] <= after:
                    break
                if contains in (message.get("text") or message.get("caption") or ""):
                    found.append(message)
                    return True
            return False

        self.wait_for(check, timeout, message=f"no bot message in {chat_id} with {contains!r}")
        return found[-1]

    def wait_idle(self, quiet: float = 0.3, timeout: float = 10) -> None:
        """Wait until the bot took every update and made no call (but getUpdates) for ``quiet``."""
        self._wait_quiet(lambda: not self._updates and self._in_flight == 0, quiet, timeout)

    async def wait_for_message_async(
        self, chat_id: int, contains: str, timeout: float = 10, *, after: int | None = None
    ) -> dict[str, Any]:
        """:meth:`wait_for_message` without blocking the event loop."""
        return await asyncio.to_thread(
            self.wait_for_message, chat_id, contains, timeout, after=after
        )

    def _diagnosis(self) -> list[str]:
        if self._updates:
            return [f"  ({len(self._updates)} update(s) not yet confirmed by the bot)"]
        return []

    # ---------------------------------------------------------------- internals: state

    def _now(self) -> int:
        return int(self._clock())

    def _touch_user(
        self,
        user_id: int,
        first_name: str | None,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
    ) -> dict[str, Any]:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        if user_id == self.bot_id:
            raise ValueError("that is the bot's own id")
        user = self._users.setdefault(
            user_id,
            {"id": user_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
        )
        if first_name is not None:
            user["first_name"] = first_name
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        # keep the Bot API's field order
        order = ("id", "is_bot", "first_name", "last_name", "username", "language_code")
        ordered = {key: user[key] for key in order if key in user}
        user.clear()
        user.update(ordered)
        return user

    def _private_chat(self, user_id: int, *, create: bool = True) -> _Chat:
        chat = self._chats.get(user_id)
        if chat is None:
            if not create:
                raise ValueError(f"no private chat with {user_id}")
            self._touch_user(user_id, None, None, None, None)
            chat = _Chat(id=user_id, type="private", user_id=user_id)
            self._chats[user_id] = chat
        return chat

    def _group_chat(self, chat_id: int, chat_type: str, title: str | None) -> _Chat:
        if chat_type not in ("group", "supergroup"):
            raise ValueError(f"unsupported chat type {chat_type!r}")
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        if chat_type == "supergroup" and not str(chat_id).startswith("-100"):
            raise ValueError("supergroup ids look like -100xxxxxxxxxx")
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = _Chat(id=chat_id, type=chat_type, title=title or f"Nhóm {-chat_id}")
            self._chats[chat_id] = chat
        elif chat.type != chat_type:
            raise ValueError(f"chat {chat_id} is a {chat.type}")
        if title:
            chat.title = title
        return chat

    def _chat_for_user(
        self, user_id: int, chat_id: int | None, chat_type: str, title: str | None
    ) -> _Chat:
        if chat_type == "private":
            if chat_id is not None and chat_id != user_id:
                raise ValueError("a private chat's id is the user's id")
            chat = self._private_chat(user_id)
            if chat.blocked:
                chat.blocked = False
                self._my_chat_member(chat, user_id, "kicked", "member")
            return chat
        if chat_id is None:
            raise ValueError("pass chat_id (negative) for a group message")
        return self._group_chat(chat_id, chat_type, title)

    def _chat_json(self, chat: _Chat) -> dict[str, Any]:
        if chat.type == "private":
            user = self._users[chat.id]
            data: dict[str, Any] = {"id": chat.id, "first_name": user["first_name"]}
            for key in ("last_name", "username"):
                if key in user:
                    data[key] = user[key]
            data["type"] = "private"
            return data
        return {"id": chat.id, "title": chat.title, "type": chat.type}

    def _chat_instance(self, chat_id: int) -> str:
        return str((chat_id * 6364136223846793005 + self.bot_id) % (1 << 63) - (1 << 62))

    def _new_message(self, chat: _Chat, sender: dict[str, Any]) -> dict[str, Any]:
        message_id = chat.next_message_id
        chat.next_message_id += 1
        message = {
            "message_id": message_id,
            "from": copy.deepcopy(sender),
            "chat": self._chat_json(chat),
            "date": self._now(),
        }
        chat.messages[message_id] = message
        return message

    def _user_message(
        self, chat: _Chat, user: dict[str, Any], reply_to_message_id: int | None
    ) -> dict[str, Any]:
        replied = None
        if reply_to_message_id is not None:
            replied = chat.messages.get(reply_to_message_id)
            if replied is None:
                raise ValueError(f"no message {reply_to_message_id} in chat {chat.id}")
        message = self._new_message(chat, user)
        if replied is not None:
            message["reply_to_message"] = self._quoted(replied)
        return message

    @staticmethod
    def _quoted(message: dict[str, Any]) -> dict[str, Any]:
        quoted = copy.deepcopy(message)
        quoted.pop("reply_to_message", None)
        return quoted

    def _deliver_user_message(self, chat: _Chat, message: dict[str, Any]) -> dict[str, Any]:
        if self._bot_gets(chat, message):
            return self._enqueue("message", message)
        self._notify()
        return {"message": copy.deepcopy(message)}

    def _bot_gets(self, chat: _Chat, message: dict[str, Any]) -> bool:
        if chat.type == "private":
            return True
        if chat.bot_status not in ("member", "administrator"):
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        replied = message.get("reply_to_message")
        if replied and replied["from"]["id"] == self.bot_id:
            return True
        text = message.get("text") or message.get("caption") or ""
        mine = f"@{self.bot_username}".lower()
        for entity in message.get("entities") or message.get("caption_entities") or []:
            piece = text.encode("utf-16-le")[
                entity["offset"] * 2 : (entity["offset"] + entity["length"]) * 2
            ].decode("utf-16-le")
            if entity["type"] == "mention" and piece.lower() == mine:
                return True
            if entity["type"] == "bot_command":
                _, _, target = piece.partition("@")
                if not target or f"@{target}".lower() == mine:
                    return True
        return False

    def _enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: copy.deepcopy(payload)}
        self._next_update_id += 1
        self._updates.append(update)
        self._notify()
        return copy.deepcopy(update)

    def _my_chat_member(self, chat: _Chat, by_user_id: int, old: str, new: str) -> dict[str, Any]:
        actor = self.bot_user if by_user_id == self.bot_id else self._users[by_user_id]
        return self._enqueue(
            "my_chat_member",
            {
                "chat": self._chat_json(chat),
                "from": copy.deepcopy(actor),
                "date": self._now(),
                "old_chat_member": self._member(old),
                "new_chat_member": self._member(new),
            },
        )

    def _member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        elif status == "administrator":
            rights = _words(
                "is_anonymous can_manage_chat can_delete_messages can_manage_video_chats "
                "can_restrict_members can_promote_members can_change_info can_invite_users "
                "can_post_stories can_edit_stories can_delete_stories can_pin_messages"
            )
            member["can_be_edited"] = False
            member.update({right: right != "is_anonymous" for right in rights})
        return member

    def _register_file(
        self,
        kind: str,
        data: bytes,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
    ) -> _File:
        seq = next(self._file_seq)
        prefix, unique_prefix, folder = {
            "photo": ("AgACAgUAAxkBAA", "AQAD", "photos"),
            "document": ("BQACAgUAAxkBAA", "AgAD", "documents"),
        }[kind]
        extension = ".jpg"
        if kind == "document":
            extension = ""
            if file_name and "." in file_name:
                extension = "." + file_name.rsplit(".", 1)[1]
        stored = _File(
            file_id=f"{prefix}{self.bot_id}x{seq:06d}",
            file_unique_id=f"{unique_prefix}{seq:06d}",
            kind=kind,
            data=data,
            file_path=f"{folder}/file_{seq}{extension}",
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
        )
        self._files[stored.file_id] = stored
        self._file_paths[stored.file_path] = stored.file_id
        return stored

    def _register_photo(self, data: bytes, width: int, height: int) -> list[dict[str, Any]]:
        scale = min(1.0, 90 / max(width, height, 1))
        thumb = self._register_file(
            "photo", data, width=max(1, round(width * scale)), height=max(1, round(height * scale))
        )
        full_scale = min(1.0, 1280 / max(width, height, 1))
        full = self._register_file(
            "photo",
            data,
            width=max(1, round(width * full_scale)),
            height=max(1, round(height * full_scale)),
        )
        thumb.sizes = full.sizes = [thumb.file_id, full.file_id]
        return self._photo_json(full)

    def _photo_json(self, stored: _File) -> list[dict[str, Any]]:
        sizes = []
        for file_id in stored.sizes or [stored.file_id]:
            size = self._files[file_id]
            sizes.append(
                {
                    "file_id": size.file_id,
                    "file_unique_id": size.file_unique_id,
                    "file_size": len(size.data),
                    "width": size.width,
                    "height": size.height,
                }
            )
        return sizes

    @staticmethod
    def _document_json(stored: _File) -> dict[str, Any]:
        document: dict[str, Any] = {}
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        document.update(
            file_id=stored.file_id,
            file_unique_id=stored.file_unique_id,
            file_size=len(stored.data),
        )
        return document

    @staticmethod
    def _scope_key(scope: dict[str, Any] | None) -> str:
        scope = scope or {"type": "default"}
        normalized = {key: scope[key] for key in ("type", "chat_id", "user_id") if key in scope}
        return json.dumps(normalized, sort_keys=True)

    # ---------------------------------------------------------------- internals: HTTP

    def _handle_http(
        self, verb: str, raw_path: str, content_type: str | None, body: bytes
    ) -> Response:
        parts = urlsplit(raw_path)
        path = unquote(parts.path)
        if path.startswith("/file/bot"):
            return self._serve_file(path[len("/file/bot") :])
        try:
            method = self._api_method(path)
        except ApiError as error:
            return self._error(error)
        if self._kill_fires(method):
            return Response(0, b"", disconnect=True)
        try:
            params, uploads = decode_request(content_type, body, parts.query)
        except ApiError as error:
            return self._error(error)

        entry = self._methods.get(method.lower()) if method and "/" not in method else None
        logged = _normalize(params)
        for key, upload in uploads.items():
            logged[key] = upload.describe()
        if entry is None:
            return self._serve_call(method, logged, None)
        name, api = entry

        def call() -> Any:
            return api(params, uploads)

        if name in _MESSAGE_SENDS:
            return self._serve_call(name, logged, lambda: self._send_within_limits(params, call))
        return self._serve_call(name, logged, call)

    def _kill_fires(self, method: str) -> bool:
        """Count a call of ``method`` for the kill hook; if it is the one, SIGKILL and disarm."""
        with self._lock:
            if self._kill is None or method.lower() != self._kill[0]:
                return False
            self._kill_seen += 1
            _, nth, pid = self._kill
            if self._kill_seen < nth:
                return False
            self._kill = None
            with contextlib.suppress(ProcessLookupError):  # died already: the call is lost too
                os.kill(pid, signal.SIGKILL)
            self._killed = True
            self._touch()
            return True

    # ---------------------------------------------------------------- internals: flood limits

    def _send_within_limits(self, params: dict[str, Any], send: Callable[[], Any]) -> Any:
        """Do a message send (with the lock held) unless the flood limits refuse it; count it.

        Only a send that delivers takes a slot: a refused or invalid one does not.
        """
        now = self._clock()
        group = self._flood_group(params)
        if self._limits is not None:
            wait = self._flood_wait(group, now)
            if wait:
                self._flood_refusals += 1
                raise ApiError(
                    429, f"Too Many Requests: retry after {wait}", {"retry_after": wait}
                )
        message = send()
        if self._limits is not None:
            self._window_all.append(now)
            if group is not None:
                self._window_groups.setdefault(group, deque()).append(now)
        chat_id = message["chat"]["id"]
        self._send_counts[chat_id] = self._send_counts.get(chat_id, 0) + 1
        return message

    def _flood_group(self, params: dict[str, Any]) -> int | None:
        """The group or supergroup a send goes to (its per-minute window), or None."""
        try:
            chat_id = self._opt_int(params, "chat_id")
        except ApiError:  # the send itself will say what is wrong with it
            return None
        if chat_id is None:
            return None
        chat = self._chats.get(chat_id)
        private = chat.type == "private" if chat is not None else chat_id > 0
        return None if private else chat_id

    def _flood_wait(self, group: int | None, now: float) -> int:
        """0 if a send to ``group`` fits the limits at ``now``, else the seconds until it would.

        Drops the times that left their window first, so each check costs O(window), not
        O(history), however many messages went out before.
        """
        assert self._limits is not None
        per_second, per_group = self._limits
        waits = [self._window_wait(self._window_all, per_second, 1.0, now)]
        if group is not None:
            window = self._window_groups.get(group)
            if window is not None:
                waits.append(self._window_wait(window, per_group, 60.0, now))
                if not window:
                    del self._window_groups[group]
        return max(waits)

    @staticmethod
    def _window_wait(times: deque[float], limit: int, span: float, now: float) -> int:
        """Seconds (rounded up, at least 1) until ``times`` holds fewer than ``limit`` sends
        within ``span``; 0 if it already does. Forgets the times older than ``span``."""
        while times and now - times[0] >= span:
            times.popleft()
        if len(times) < limit:
            return 0
        # The slot frees when the send ``limit`` places from the end leaves the window. A hair
        # under a whole number stays that number (float noise must not turn 45 into 46).
        frees_at = times[-limit] + span
        return max(1, min(math.ceil(frees_at - now - 1e-6), math.ceil(span)))

    def _unknown_method(self, method: str) -> Response:
        if method.lower() in _NOT_EMULATED:
            description = f"Bad Request: method {method} is not emulated by tests/botapi/server.py"
            return self._error(ApiError(400, description))
        return self._error(ApiError(404, "Not Found"))

    def _success(self, result: Any) -> dict[str, Any]:
        if isinstance(result, _Ok):
            return {"ok": True, "result": result.result, "description": result.description}
        return {"ok": True, "result": result}

    def _serve_file(self, rest: str) -> Response:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return self._error(ApiError(401, "Unauthorized"))
        with self._lock:
            file_id = self._file_paths.get(file_path)
            stored = self._files.get(file_id) if file_id else None
        if stored is None:
            return self._error(ApiError(404, "Not Found"))
        content_type = stored.mime_type or (
            "image/jpeg" if stored.kind == "photo" else "application/octet-stream"
        )
        return Response(200, stored.data, content_type=content_type)

    # ---------------------------------------------------------------- internals: params

    @staticmethod
    def _opt_int(params: dict[str, Any], name: str) -> int | None:
        value = params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise _bad(f'field "{name}" must be of type Integer') from None

    @staticmethod
    def _opt_bool(params: dict[str, Any], name: str) -> bool:
        value = params.get(name)
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1")
        return bool(value)

    @staticmethod
    def _opt_obj(params: dict[str, Any], name: str, what: str | None = None) -> Any:
        value = params.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _bad(f"can't parse {what or name} JSON object") from None
        return value

    @staticmethod
    def _opt_str(params: dict[str, Any], name: str) -> str | None:
        value = params.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            return value
        return json.dumps(value) if isinstance(value, dict | list) else str(value)

    # ---------------------------------------------------------------- internals: checks

    def _target_chat(self, params: dict[str, Any], *, for_sending: bool = True) -> _Chat:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat_id = int(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            chat_id = None
        if chat_id is None:
            raise _bad("chat not found")
        if chat_id == self.bot_id:
            raise _forbidden("bot can't send messages to bots")
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_id in self._users:
                raise _forbidden("bot can't initiate conversation with a user")
            raise _bad("chat not found")
        if not for_sending:
            return chat
        if chat.type == "private":
            if chat.blocked:
                raise _forbidden("bot was blocked by the user")
        elif chat.bot_status == "kicked":
            raise _forbidden(f"bot was kicked from the {chat.type} chat")
        elif chat.bot_status == "left":
            raise _forbidden(f"bot is not a member of the {chat.type} chat")
        return chat

    def _formatted(
        self,
        params: dict[str, Any],
        text_key: str,
        entities_key: str,
        *,
        limit: int,
        empty: str | None,
        too_long: str,
    ) -> tuple[str, list[dict[str, Any]]]:
        text = self._opt_str(params, text_key) or ""
        entities: list[dict[str, Any]] = []
        given = self._opt_obj(params, entities_key, "message entities")
        parse_mode = (self._opt_str(params, "parse_mode") or "").strip()
        if given:
            if not isinstance(given, list) or not all(
                isinstance(e, dict)
                and isinstance(e.get("type"), str)
                and isinstance(e.get("offset"), int)
                and isinstance(e.get("length"), int)
                for e in given
            ):
                raise _bad("can't parse entities: an Array of MessageEntity expected")
            entities = [dict(e) for e in given]
        elif parse_mode:
            mode = parse_mode.lower()
            if mode == "html":
                text, entities = parse_html(text, self._users)
            elif mode in ("markdown", "markdownv2"):
                raise _bad(
                    f"can't parse entities: parse_mode {parse_mode} is not emulated by "
                    "tests/botapi/server.py (use HTML)"
                )
            else:
                raise _bad(f"unsupported parse_mode: {parse_mode}")
        text, entities = _trim(text, entities)
        if not text:
            if empty is not None:
                raise _bad(empty)
            return "", []
        if len(text) > limit:
            raise _bad(too_long)
        entities = _sort_entities(entities + find_entities(text, entities))
        return text, entities

    def _inline_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """The inline keyboard given, or None; other keyboards only change the chat's state."""
        markup = self._opt_obj(params, "reply_markup", "reply keyboard markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return self._validate_inline(markup["inline_keyboard"])
        if "keyboard" in markup or "remove_keyboard" in markup or "force_reply" in markup:
            self._validate_reply_keyboard(markup)
            return None
        raise _bad('can\'t find field "inline_keyboard"')

    @staticmethod
    def _validate_inline(rows: Any) -> dict[str, Any] | None:
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        if sum(len(row) for row in rows) > MAX_INLINE_BUTTONS:
            raise _bad("reply markup is too long")
        clean_rows = []
        for row in rows:
            clean_row = []
            for button in row:
                if not isinstance(button, dict):
                    raise _bad(
                        "can't parse inline keyboard button: InlineKeyboardButton should be an "
                        "Object"
                    )
                if "text" not in button:
                    raise _bad("can't parse inline keyboard button: Can't find field \"text\"")
                if not isinstance(button["text"], str):
                    raise _bad(
                        'can\'t parse inline keyboard button: Field "text" must be of type String'
                    )
                if not any(kind in button for kind in _BUTTON_KINDS):
                    raise _bad(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    data = button["callback_data"]
                    size = len(str(data).encode("utf-8"))
                    if not isinstance(data, str) or size == 0 or size > MAX_CALLBACK_DATA_BYTES:
                        raise _bad("BUTTON_DATA_INVALID")
                if "url" in button:
                    url = button["url"]
                    if not isinstance(url, str) or _checked_link(url) is None:
                        raise _bad(f"inline keyboard button URL '{url}' is invalid: Wrong URL")
                clean_row.append(dict(button))
            if clean_row:
                clean_rows.append(clean_row)
        return {"inline_keyboard": clean_rows} if clean_rows else None

    @staticmethod
    def _validate_reply_keyboard(markup: dict[str, Any]) -> None:
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad(
                    'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
                )
            for row in rows:
                for button in row:
                    if isinstance(button, dict) and "text" not in button:
                        raise _bad("can't parse keyboard button: Can't find field \"text\"")
                    if not isinstance(button, dict | str):
                        raise _bad(
                            "can't parse keyboard button: KeyboardButton should be an Object"
                        )

    def _apply_reply_keyboard(self, chat: _Chat, params: dict[str, Any]) -> None:
        markup = self._opt_obj(params, "reply_markup")
        if not isinstance(markup, dict) or "inline_keyboard" in markup:
            return
        if markup.get("remove_keyboard"):
            chat.reply_keyboard = None
        else:
            shown = copy.deepcopy(markup)
            if "keyboard" in shown:
                shown["keyboard"] = [
                    [b if isinstance(b, dict) else {"text": b} for b in row]
                    for row in shown["keyboard"]
                ]
            chat.reply_keyboard = shown

    def _reply_target(self, chat: _Chat, params: dict[str, Any]) -> dict[str, Any] | None:
        reply = self._opt_obj(params, "reply_parameters", "reply parameters")
        if reply is None and params.get("reply_to_message_id") not in (None, ""):
            reply = {
                "message_id": self._opt_int(params, "reply_to_message_id"),
                "allow_sending_without_reply": self._opt_bool(
                    params, "allow_sending_without_reply"
                ),
            }
        if not reply:
            return None
        if not isinstance(reply, dict) or "message_id" not in reply:
            raise _bad("can't parse reply parameters JSON object")
        other_chat = reply.get("chat_id")
        if other_chat not in (None, "") and int(other_chat) != chat.id:
            chat = self._target_chat({"chat_id": other_chat}, for_sending=False)
        message = chat.messages.get(int(reply["message_id"]))
        if message is None:
            if reply.get("allow_sending_without_reply") in (True, "true"):
                return None
            raise _bad("message to be replied not found")
        return self._quoted(message)

    def _bot_message(
        self, chat: _Chat, params: dict[str, Any], inline: dict[str, Any] | None
    ) -> dict[str, Any]:
        reply_to = self._reply_target(chat, params)
        message = self._new_message(chat, self.bot_user)
        if reply_to is not None:
            message["reply_to_message"] = reply_to
        if self._opt_bool(params, "protect_content"):
            message["has_protected_content"] = True
        self._apply_reply_keyboard(chat, params)
        if inline is not None:
            message["_markup"] = inline  # moved to the end once the content is in place
        return message

    @staticmethod
    def _finish(message: dict[str, Any]) -> dict[str, Any]:
        markup = message.pop("_markup", None)
        if markup is not None:
            message["reply_markup"] = markup
        return copy.deepcopy(message)

    def _message_to_edit(self, params: dict[str, Any]) -> tuple[_Chat, dict[str, Any]]:
        if params.get("inline_message_id") not in (None, ""):
            raise _bad("MESSAGE_ID_INVALID")
        if params.get("chat_id") in (None, ""):
            raise _bad("chat_id is empty")
        chat = self._target_chat(params)
        message_id = self._opt_int(params, "message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        message = chat.messages.get(message_id)
        if message is None:
            raise _bad("message to edit not found")
        if message["from"]["id"] != self.bot_id:
            raise _bad("message can't be edited")
        return chat, message

    @staticmethod
    def _not_modified() -> ApiError:
        return _bad(
            "message is not modified: specified new message content and reply markup are "
            "exactly the same as a current content and reply markup of the message"
        )

    def _media_file(
        self, params: dict[str, Any], uploads: dict[str, Upload], key: str, kind: str
    ) -> tuple[_File, list[dict[str, Any]] | None]:
        value = self._opt_str(params, key)
        upload = uploads.get(key)
        if value and value.startswith("attach://"):
            upload = uploads.get(value[len("attach://") :])
        if upload is not None:
            if not upload.data:
                raise _bad("file must be non-empty")
            if kind == "photo":
                size = _image_size(upload.data)
                if size is None:
                    raise _bad("IMAGE_PROCESS_FAILED")
                photo = self._register_photo(upload.data, *size)
                return self._files[photo[-1]["file_id"]], photo
            mime = upload.content_type or mimetypes.guess_type(upload.filename or "")[0]
            stored = self._register_file(
                "document",
                upload.data,
                upload.filename or "file",
                mime or "application/octet-stream",
            )
            return stored, None
        if not value:
            raise _bad(f"there is no {kind} in the request")
        if value.lower().startswith(("http://", "https://")):
            raise _bad("failed to get HTTP URL content")
        stored = self._files.get(value)
        if stored is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise _bad(f"can't use file of type {stored.kind.title()} as {kind.title()}")
        return stored, (self._photo_json(stored) if kind == "photo" else None)

    # ---------------------------------------------------------------- API methods
    # Each runs with the lock held; params are raw (strings from forms, typed from JSON).

    def _api_getMe(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": not self.privacy_mode,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_getUpdates(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        offset = self._opt_int(params, "offset") or 0
        limit = self._opt_int(params, "limit")
        limit = 100 if limit is None or limit <= 0 else min(limit, 100)
        timeout = max(0, self._opt_int(params, "timeout") or 0)
        allowed = self._opt_obj(params, "allowed_updates")
        if self._webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if isinstance(allowed, list):
            chosen = frozenset(str(kind) for kind in allowed) & _ALL_UPDATE_TYPES
            self._allowed_updates = chosen or _DEFAULT_UPDATE_TYPES
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older long poll now ends with 409

        if offset < 0:
            self._updates = self._updates[offset:]
        elif offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        deadline = time.monotonic() + timeout
        while True:
            self._updates = [u for u in self._updates if _update_kind(u) in self._allowed_updates]
            if self._updates:
                return copy.deepcopy(self._updates[:limit])
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping:
                return []
            self._cond.wait(remaining)
            if self._poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )

    def _api_setWebhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        url = (self._opt_str(params, "url") or "").strip()
        if not url:
            self._webhook = None
            return _Ok(True, "Webhook was deleted")
        if not url.lower().startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        if self._opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        allowed = self._opt_obj(params, "allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or _DEFAULT_UPDATE_TYPES
        self._webhook = {
            "url": url,
            "max_connections": self._opt_int(params, "max_connections") or 40,
            "secret_token": self._opt_str(params, "secret_token"),
            "allowed_updates": allowed,
        }
        return _Ok(True, "Webhook was set")

    def _api_deleteWebhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        if self._opt_bool(params, "drop_pending_updates"):
            self._updates.clear()
        if self._webhook is None:
            return _Ok(True, "Webhook is already deleted")
        self._webhook = None
        return _Ok(True, "Webhook was deleted")

    def _api_getWebhookInfo(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        info: dict[str, Any] = {
            "url": self._webhook["url"] if self._webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._webhook["allowed_updates"]:
                info["allowed_updates"] = self._webhook["allowed_updates"]
        return info

    def _command_target(self, params: dict[str, Any]) -> tuple[str, str]:
        scope = self._opt_obj(params, "scope", "bot command scope")
        if scope is not None:
            if not isinstance(scope, dict) or scope.get("type") not in _SCOPE_TYPES:
                raise _bad("unsupported bot command scope type")
            if scope["type"] in ("chat", "chat_administrators", "chat_member"):
                self._target_chat({"chat_id": scope.get("chat_id")}, for_sending=False)
        language = (self._opt_str(params, "language_code") or "").strip()
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return self._scope_key(scope), language

    def _api_setMyCommands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        commands = self._opt_obj(params, "commands", "bot commands")
        if not isinstance(commands, list):
            raise _bad('parameter "commands" is required')
        if len(commands) > MAX_COMMANDS:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        clean = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad("command must be non-empty")
            command = str(item.get("command", "")).strip().removeprefix("/")
            description = str(item.get("description", "")).strip()
            if not command:
                raise _bad("command must be non-empty")
            if len(command) > 32:
                raise _bad("command length must not exceed 32")
            if not description:
                raise _bad("command description must be non-empty")
            if len(description) > 256:
                raise _bad("command description length must not exceed 256")
            if not re.fullmatch(r"[a-z0-9_]+", command):
                raise _bad("BOT_COMMAND_INVALID")
            clean.append({"command": command, "description": description})
        key = self._command_target(params)
        if clean:
            self._commands[key] = clean
        else:
            self._commands.pop(key, None)
        return True

    def _api_getMyCommands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return copy.deepcopy(self._commands.get(self._command_target(params), []))

    def _api_deleteMyCommands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        self._commands.pop(self._command_target(params), None)
        return True

    def _api_setMyDescription(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return self._set_description(params, "description", 512)

    def _api_setMyShortDescription(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        return self._set_description(params, "short_description", 120)

    def _set_description(self, params: dict[str, Any], key: str, limit: int) -> Any:
        value = (self._opt_str(params, key) or "").strip()
        language = self._opt_str(params, "language_code") or ""
        if len(value) > limit:
            raise _bad(f"{key.replace('_', ' ')} is too long")
        if value:
            self._descriptions[(key, language)] = value
        else:
            self._descriptions.pop((key, language), None)
        return True

    def _api_getMyDescription(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        language = self._opt_str(params, "language_code") or ""
        return {"description": self._descriptions.get(("description", language), "")}

    def _api_getMyShortDescription(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        language = self._opt_str(params, "language_code") or ""
        value = self._descriptions.get(("short_description", language), "")
        return {"short_description": value}

    def _api_setChatMenuButton(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat_id = self._opt_int(params, "chat_id")
        if chat_id is not None:
            self._target_chat(params, for_sending=False)
        button = self._opt_obj(params, "menu_button", "menu button") or {"type": "default"}
        self._menu_buttons[chat_id] = button
        return True

    def _api_getChatMenuButton(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat_id = self._opt_int(params, "chat_id")
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        if not button or button.get("type") == "default":
            return {"type": "commands"}
        return copy.deepcopy(button)

    def _api_sendMessage(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        text, entities = self._formatted(
            params,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            empty="message text is empty",
            too_long="message is too long",
        )
        inline = self._inline_markup(params)
        preview = self._opt_obj(params, "link_preview_options", "link preview options")
        if preview is None and self._opt_bool(params, "disable_web_page_preview"):
            preview = {"is_disabled": True}
        message = self._bot_message(chat, params, inline)
        message["text"] = text
        if entities:
            message["entities"] = entities
        if preview:
            message["link_preview_options"] = preview
        return self._finish(message)

    def _api_sendPhoto(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return self._send_media(params, uploads, "photo")

    def _api_sendDocument(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        return self._send_media(params, uploads, "document")

    def _send_media(self, params: dict[str, Any], uploads: dict[str, Upload], kind: str) -> Any:
        chat = self._target_chat(params)
        caption, entities = self._formatted(
            params,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            empty=None,
            too_long="message caption is too long",
        )
        inline = self._inline_markup(params)
        self._reply_target(chat, params)  # check before storing anything
        stored, photo = self._media_file(params, uploads, kind, kind)
        message = self._bot_message(chat, params, inline)
        if kind == "photo":
            message["photo"] = photo
        else:
            message["document"] = self._document_json(stored)
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        return self._finish(message)

    def _api_editMessageText(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        _, message = self._message_to_edit(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(
            params,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            empty="message text is empty",
            too_long="message is too long",
        )
        # Like the real server: an edit without reply_markup removes the inline keyboard.
        inline = self._inline_markup(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and inline == message.get("reply_markup")
        ):
            raise self._not_modified()
        message["text"] = text
        message.pop("entities", None)
        if entities:
            message["entities"] = entities
        preview = self._opt_obj(params, "link_preview_options", "link preview options")
        if preview:
            message["link_preview_options"] = preview
        return self._edited(message, inline)

    def _api_editMessageCaption(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        _, message = self._message_to_edit(params)
        if "text" in message:
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._formatted(
            params,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            empty=None,
            too_long="message caption is too long",
        )
        inline = self._inline_markup(params)
        if (
            caption == message.get("caption", "")
            and entities == message.get("caption_entities", [])
            and inline == message.get("reply_markup")
        ):
            raise self._not_modified()
        message.pop("caption", None)
        message.pop("caption_entities", None)
        if caption:
            message["caption"] = caption
            if entities:
                message["caption_entities"] = entities
        return self._edited(message, inline)

    def _api_editMessageReplyMarkup(
        self, params: dict[str, Any], uploads: dict[str, Upload]
    ) -> Any:
        _, message = self._message_to_edit(params)
        inline = self._inline_markup(params)
        if inline == message.get("reply_markup"):
            raise self._not_modified()
        return self._edited(message, inline)

    def _edited(self, message: dict[str, Any], inline: dict[str, Any] | None) -> Any:
        message.pop("reply_markup", None)
        message["edit_date"] = max(self._now(), message["date"])
        if inline is not None:
            message["reply_markup"] = inline
        self._notify()
        return copy.deepcopy(message)

    def _api_deleteMessage(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        message_id = self._opt_int(params, "message_id")
        if message_id is None or message_id not in chat.messages:
            raise _bad("message to delete not found")
        theirs = chat.messages[message_id]["from"]["id"] != self.bot_id
        if chat.type != "private" and theirs and chat.bot_status != "administrator":
            raise _bad("message can't be deleted")
        del chat.messages[message_id]
        chat.deleted.add(message_id)
        return True

    def _api_answerCallbackQuery(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        query_id = self._opt_str(params, "callback_query_id") or ""
        query = self._callbacks.get(query_id)
        if query is None or query["answered"]:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        text = self._opt_str(params, "text")
        if text is not None and len(text) > 200:
            raise _bad("MESSAGE_TOO_LONG")
        query["answered"] = True
        self._answered.append(
            {
                "callback_query_id": query_id,
                "text": text,
                "show_alert": self._opt_bool(params, "show_alert"),
                "url": self._opt_str(params, "url"),
                "cache_time": self._opt_int(params, "cache_time") or 0,
                "data": query["data"],
                "user_id": query["user_id"],
            }
        )
        return True

    def _api_sendChatAction(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self._target_chat(params)
        action = (self._opt_str(params, "action") or "").strip()
        if not action:
            raise _bad("action is empty")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat.actions.append(action)
        return True

    def _api_getFile(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        file_id = (self._opt_str(params, "file_id") or "").strip()
        if not file_id:
            raise _bad("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise _bad("wrong file_id or the file is temporarily unavailable")
        if len(stored.data) > MAX_DOWNLOAD_SIZE:
            raise _bad("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.file_path,
        }

    def _api_getChat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        raw = self._opt_int(params, "chat_id")
        if raw is not None and raw not in self._chats and raw in self._users:
            # getChat works for users the bot has seen anywhere, without starting a chat
            chat = _Chat(id=raw, type="private", user_id=raw)
        else:
            chat = self._target_chat(params, for_sending=False)
        full = self._chat_json(chat)
        full.update(
            accent_color_id=chat.id % 7,
            max_reaction_count=11,
            accepted_gift_types={
                "unlimited_gifts": chat.type == "private",
                "limited_gifts": chat.type == "private",
                "unique_gifts": chat.type == "private",
                "premium_subscription": chat.type == "private",
                "gifts_from_channels": chat.type == "private",
            },
        )
        return full

    def _api_leaveChat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        chat = self._target_chat(params, for_sending=False)
        if chat.type == "private":
            raise _bad("chat member status can't be changed in private chats")
        if chat.bot_status not in ("member", "administrator"):
            raise _forbidden(f"bot is not a member of the {chat.type} chat")
        old = chat.bot_status
        chat.bot_status = "left"
        self._my_chat_member(chat, self.bot_id, old, "left")
        return True
