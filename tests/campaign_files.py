"""Campaign files for the loader tests: variants of the default campaign, and refusals."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest

from conversations.campaign import CampaignError, load_campaign

DEFAULT_TOML = resources.files("conversations").joinpath("campaigns/default.toml").read_text()


def write_campaign(tmp_path: Path, text: str, name: str = "campaign.toml") -> Path:
    """Write `text` as a campaign file in `tmp_path` and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def write_variant(tmp_path: Path, old: str, new: str) -> Path:
    """Write the default campaign with the first `old` replaced by `new`."""
    assert old in DEFAULT_TOML, old
    return write_campaign(tmp_path, DEFAULT_TOML.replace(old, new, 1))


def default_without_reasons() -> str:
    """The default campaign cut just before its first `[[reasons]]` table."""
    return DEFAULT_TOML[: DEFAULT_TOML.index("[[reasons]]")]


def assert_rejected(path: Path, match: str) -> None:
    """Loading `path` fails with a CampaignError matching `match` (it names the key path)."""
    with pytest.raises(CampaignError, match=match):
        load_campaign(path)
