"""Commands as people type them: ``/start join-CD01``, ``/new@sangkien_bot``, or a word
instead of a command ("hủy", "quay lại") — one parser for private chats and groups."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from conversations.text import fold

# ``/start`` payloads (deep links): join a union, become an officer, or — the button under a
# group notice — start writing (a person not onboarded yet is onboarded first).
JOIN_PREFIX: Final = "join-"
OFFICER_PREFIX: Final = "officer-"
OPEN_NEW: Final = "new"


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    argument: str = ""


# Words people type instead of slash commands; matched on the whole message, folded.
_COMMAND_WORDS: Final[dict[str, str]] = {
    "huy": "cancel",
    "cancel": "cancel",
    "quay lai": "back",
    "tro lai": "back",
    "back": "back",
    "tro giup": "help",
    "giup do": "help",
    "help": "help",
    "menu": "menu",
    "ngon ngu": "lang",
    "language": "lang",
}

# Text arrives NFC; folding only drops accents and squeezes spaces, so a message over twice
# the longest word is a sentence (an answer), never one of these words.
_LONGEST_WORD: Final = 2 * max(map(len, _COMMAND_WORDS))


def parse_command(text: str) -> Command | None:
    """``/start join-CD01`` → Command("start", "join-CD01"); "Hủy" → Command("cancel")."""
    if text.startswith("/"):
        head, _sep, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        return Command(name, rest.strip()) if name else None
    if len(text) > _LONGEST_WORD:  # a sentence, not a command word: no need to fold it
        return None
    word = _COMMAND_WORDS.get(fold(text))
    return Command(word) if word else None
