"""Text as people type it on phones: normalised for storing, folded for matching.

Vietnamese arrives in NFC or NFD depending on the keyboard (Telex, VNI, iOS, Android); stored
text is always NFC. Matching folds case and diacritics away, so "Hoi dong" finds "Hội đồng".
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[^\S\n]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = {c for c in map(chr, range(32)) if c not in "\n\t"} | {"\x7f"}


def normalise(text: str) -> str:
    """NFC, no control characters, runs of spaces collapsed, at most one blank line in a row."""
    if (
        text.isprintable()  # one line, no control characters
        and "  " not in text
        and text == text.strip()
        and unicodedata.is_normalized("NFC", text)
    ):
        return text  # already normal: the common case, read on every turn
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = "".join(ch for ch in text if ch not in _CONTROL)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def fold(text: str) -> str:
    """Lower case, no diacritics (đ → d), single spaces: the key for loose matching."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.replace("đ", "d").split())


def has_letters_or_digits(text: str) -> bool:
    """False for input made only of emoji, punctuation or spaces."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
