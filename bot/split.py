"""Long texts cut for messengers with a length limit (Telegram 4,096, Zalo 2,000 characters)."""

from __future__ import annotations


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long text into parts of at most ``limit`` characters, at a paragraph, a line, a
    sentence or a space when there is one, so no word is cut in two."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = -1
        for separator in ("\n\n", "\n", ". ", " "):
            cut = window.rfind(separator)
            if cut > limit // 2:
                cut += len(separator)
                break
        if cut <= limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [part for part in parts if part] or [""]
