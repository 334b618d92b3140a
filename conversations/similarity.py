"""Possible duplicates: a cheap, explainable "looks alike" between initiatives.

Officers reviewing a submission see up to three earlier initiatives (of the same unit, or of
its parent's other units) whose titles and summaries look alike; a worker is warned when a new
title matches one of their own earlier ones. Neither is a verdict: the officer decides, and
the IV.2.1 reason "duplicate" is theirs to give.

Likeness is word-set overlap (Jaccard) on folded text, so diacritics, case and word order do
not matter: "Máy bóc vỏ quế cải tiến" and "cai tien may boc vo que" are the same title.

Folding merges distinct Vietnamese words ("trong" is both *trong* "in" and *trồng* "plant"),
so the stop-word list keeps only words whose folded form is overwhelmingly a function word,
and leaves out folds that also spell common work words: *do* (đo, đỏ), *da* (đá), *den*
(đèn), *tu* (tự, tủ), *ve* (vệ sinh), *bang* (bảng), *khi* (cơ khí), *thi* (thi đua),
*cung* (cung cấp), *tai* (xe tải). Dropping a word only loses evidence on both sides; it never
makes two texts look more alike. The program's own vocabulary ("sáng kiến", "giải pháp",
the "pháp" of "biện pháp") is dropped too: every record is one, so it says nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from conversations.text import fold

#: Folded words ignored when comparing (see the module docstring for what is left out and why).
STOP_WORDS: frozenset[str] = frozenset(
    {
        # Vietnamese function words, folded: và, của, cho, các, những, một, trong, với, để,
        # là, có, được, này, theo, nhằm, như, hoặc, sẽ, vào, ra, nhiều, trên, giúp.
        "va", "cua", "cho", "cac", "nhung", "mot", "trong", "voi", "de", "la", "co", "duoc",
        "nay", "theo", "nham", "nhu", "hoac", "se", "vao", "ra", "nhieu", "tren", "giup",
        # English function words.
        "the", "and", "of", "for", "to", "in", "on", "with", "by", "an", "at", "is", "are",
        "from", "or", "as", "into",
        # The program's own vocabulary: sáng kiến, giải pháp (and biện pháp's "pháp").
        "sang", "kien", "giai", "phap",
    }
)  # fmt: skip

TITLE_WEIGHT = 0.6
SUMMARY_WEIGHT = 0.4
SAME_TITLE = 0.8

_SEPARATORS = re.compile(r"[\W_]+")


def words(text: str) -> frozenset[str]:
    """The folded words of ``text`` that say something: no 1-character tokens, no stop words."""
    return frozenset(
        word for word in _SEPARATORS.split(fold(text)) if len(word) > 1 and word not in STOP_WORDS
    )


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    union = len(a | b)
    return len(a & b) / union if union else 0.0


def _likeness(
    title_a: frozenset[str],
    summary_a: frozenset[str],
    title_b: frozenset[str],
    summary_b: frozenset[str],
) -> float:
    # A part counts only when both sides have words in it; alone, it decides on its own
    # (a missing summary means "compare titles only"), unscaled so that thresholds are exact.
    titles = _jaccard(title_a, title_b) if title_a and title_b else None
    summaries = _jaccard(summary_a, summary_b) if summary_a and summary_b else None
    if titles is not None and summaries is not None:
        return TITLE_WEIGHT * titles + SUMMARY_WEIGHT * summaries
    return titles if titles is not None else summaries if summaries is not None else 0.0


def likeness(title_a: str, summary_a: str | None, title_b: str, summary_b: str | None) -> float:
    """How alike two initiatives look, in [0, 1]: 0.6 × title overlap + 0.4 × summary overlap.

    When either summary is missing (or has no words that count), titles alone decide."""
    return _likeness(
        words(title_a), words(summary_a or ""), words(title_b), words(summary_b or "")
    )


@dataclass(frozen=True, slots=True)
class Candidate:
    """An earlier initiative that looks like the one being reviewed."""

    id: int
    title: str
    summary: str
    score: float


def most_alike(
    title: str,
    summary: str | None,
    others: Iterable[tuple[int, str, str | None]],
    *,
    limit: int = 3,
    threshold: float = 0.45,
) -> list[Candidate]:
    """Up to ``limit`` of ``others`` (``(id, title, summary)``) scoring at least ``threshold``,
    best first, ties by lower id; one with no word in common is never offered, whatever the
    threshold. The caller leaves the initiative itself out of ``others``."""
    if limit <= 0:
        return []
    title_words, summary_words = words(title), words(summary or "")
    found = []
    for other_id, other_title, other_summary in others:
        score = _likeness(
            title_words, summary_words, words(other_title), words(other_summary or "")
        )
        if score > 0 and score >= threshold:
            found.append(Candidate(other_id, other_title, other_summary or "", score))
    found.sort(key=lambda c: (-c.score, c.id))
    return found[:limit]


def same_title(a: str, b: str) -> bool:
    """Whether two titles name the same thing (word overlap ≥ 0.8); empty titles never do."""
    return _jaccard(words(a), words(b)) >= SAME_TITLE
