"""Every user-facing string is in both catalogs, translated, with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

from conversations.campaign import load_campaign
from conversations.i18n import LOCALES, translations, using_locale

ROOT = Path(__file__).resolve().parent.parent
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
PLACEHOLDER = re.compile(r"\{(\w*)[^{}]*\}")


def _code_msgids() -> set[str]:
    found: set[str] = set()
    for folder in ("conversations", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        return read_po(fp, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_in_the_code_is_translated(locale: str) -> None:
    catalog = _catalog(locale)
    missing = sorted(m for m in _code_msgids() if not catalog.get(m) or not _done(catalog[m]))
    assert missing == [], f"{locale}: run `make update-catalogs` and translate {missing[:5]}"


def _done(message) -> bool:  # type: ignore[no-untyped-def]
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings) and not message.fuzzy


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_every_placeholder(locale: str) -> None:
    wrong = []
    for message in _catalog(locale):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(PLACEHOLDER.findall(ids[-1]))
        wrong += [ids[0] for s in strings if s and set(PLACEHOLDER.findall(s)) != expected]
    assert wrong == []


def test_vietnamese_catalog_is_really_vietnamese() -> None:
    with using_locale("vi"):
        assert translations("vi").gettext("Yes") == "Có"
    diacritics = re.compile(
        "[ăâđêôơưáàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ]"
    )
    catalog = _catalog("vi")
    texts = [m.string for m in catalog if m.id and isinstance(m.string, str) and len(m.id) > 30]
    assert sum(bool(diacritics.search(t.lower())) for t in texts) / len(texts) > 0.95


def test_campaign_texts_exist_in_every_language() -> None:
    campaign = load_campaign()
    for kind in campaign.kinds:
        for locale in LOCALES:
            assert kind.name.get(locale) and kind.description.get(locale)
