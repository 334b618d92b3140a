"""``python -m bot check-eligibility FILE.json [--campaign FILE] [--lang vi|en]``.

Reads one initiative record (PROGRAM.md field names), checks it against the campaign and
prints the verdict as JSON on stdout. The exit status says whether the check could be made,
not what it found: 0 for any verdict, 2 when the file, its JSON, the record or the campaign
cannot be used (the reason, naming the field, goes to stderr). ``-`` reads stdin.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conversations.campaign import CampaignError, load_campaign
from conversations.eligibility import check
from conversations.i18n import _, using_locale
from conversations.record import RecordError, parse_record

EXIT_OK = 0
EXIT_UNUSABLE = 2


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_UNUSABLE


def main(path: str, campaign_path: str | None = None, lang: str = "vi") -> int:
    """Check the record in ``path``; the verdict's messages are in ``lang``."""
    with using_locale(lang):
        try:
            campaign = load_campaign(campaign_path)
        except CampaignError as error:
            return _fail(_("Cannot use the campaign file: {error}").format(error=error))
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except OSError as error:
            return _fail(
                _("Cannot read {path}: {reason}").format(path=path, reason=error.strerror or error)
            )
        except UnicodeDecodeError:
            return _fail(_("{path} is not UTF-8 text.").format(path=path))
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as error:
            return _fail(
                _("{path} is not valid JSON (line {line}, column {column}): {reason}").format(
                    path=path, line=error.lineno, column=error.colno, reason=error.msg
                )
            )
        try:
            record = parse_record(obj)
        except RecordError as error:
            return _fail(
                _("{path}: invalid record: {error}").format(path=path, error=error.render())
            )
        verdict = check(record, campaign)
        print(json.dumps(verdict.to_json(), ensure_ascii=False, indent=2))
        return EXIT_OK
