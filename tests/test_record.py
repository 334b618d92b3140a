"""The initiative record: PROGRAM.md's fields, a strict parser for files, exact round trips."""

from __future__ import annotations

import json
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from conversations.i18n import using_locale
from conversations.record import (
    FIELDS,
    Application,
    Author,
    InitiativeRecord,
    KindCode,
    Recognizer,
    RecordError,
    ResearchLevel,
    parse_record,
    record_from_json_lenient,
    record_to_json,
)

RECORDS = Path(__file__).parent / "data" / "records"
PLUS7 = timezone(timedelta(hours=7))

PROGRAM_FIELDS = (
    "title",
    "kind",
    "sub_kind",
    "research_level",
    "summary",
    "origin",
    "unit_code",
    "novel_in_unit",
    "recognized_by",
    "recognized_on",
    "decision_no",
    "application",
    "applied_on",
    "economic_benefit",
    "social_benefit",
    "value_vnd",
    "research_accepted_on",
    "effect_confirmed_by_head",
    "authors",
    "ip_protected",
    "submitted_at",
)


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RECORDS / name).read_text(encoding="utf-8"))
    return data


def refused(obj: object) -> RecordError:
    with pytest.raises(RecordError) as caught:
        parse_record(obj)
    return caught.value


def test_fields_are_program_md_fields_in_order() -> None:
    assert FIELDS == PROGRAM_FIELDS


def test_every_field_defaults_to_unknown() -> None:
    record = InitiativeRecord()
    assert all(getattr(record, name) is None for name in FIELDS)


def test_parses_a_complete_record_into_typed_values() -> None:
    record = parse_record(sample("eligible_phase1.json"))
    assert record.kind is KindCode.TECHNICAL
    assert record.recognized_by is Recognizer.COUNCIL
    assert record.application is Application.APPLIED
    assert record.recognized_on == date(2022, 3, 15)
    assert record.submitted_at == datetime(2022, 5, 30, 20, 0, tzinfo=PLUS7)
    assert record.value_vnd == 45_000_000
    assert record.authors == (
        Author("Nguyễn Văn An", Decimal(60)),
        Author("Trần Thị Bình", Decimal(40)),
    )
    research = parse_record(sample("eligible_research_phase2.json"))
    assert research.research_level is ResearchLevel.SECTOR
    assert research.authors is not None and research.authors[0].lead is True
    assert research.authors[1].lead is False  # "lead" left out


def test_missing_fields_are_unknown_including_the_submission_time() -> None:
    record = parse_record({"title": "Sổ giao ca"})
    assert record == InitiativeRecord(title="Sổ giao ca")
    assert parse_record({}) == InitiativeRecord()
    assert parse_record({"kind": None}).kind is None


def test_text_is_normalised_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "  Đồ gá   khoan ")
    record = parse_record({"title": decomposed, "authors": [{"name": decomposed, "share": 100}]})
    assert record.title == "Đồ gá khoan"
    assert record.authors is not None and record.authors[0].name == "Đồ gá khoan"


def test_refuses_a_record_that_is_not_an_object() -> None:
    error = refused([1, 2])
    assert error.field is None
    assert "JSON object" in str(error)


def test_refuses_unknown_field_naming_it() -> None:
    error = refused({"title": "x", "sumary": "typo"})
    assert error.field == "sumary"
    assert "unknown field" in str(error)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("kind", "robot"),
        ("kind", 3),
        ("research_level", "national"),
        ("recognized_by", "boss"),
        ("application", "yes"),
        ("title", 12),
        ("novel_in_unit", "true"),
        ("novel_in_unit", 1),
        ("ip_protected", "no"),
        ("recognized_on", "2022/03/15"),
        ("recognized_on", "15/03/2022"),
        ("recognized_on", "20220315"),
        ("recognized_on", "2022-02-30"),
        ("applied_on", "2022-03-15T08:00:00+07:00"),
        ("research_accepted_on", 20220315),
        ("submitted_at", "2022-05-30T20:00:00"),
        ("submitted_at", "2022-05-30"),
        ("submitted_at", "yesterday"),
        ("value_vnd", -1),
        ("value_vnd", 1.5),
        ("value_vnd", True),
        ("value_vnd", "45000000"),
        ("authors", "An 100%"),
        ("authors", {"name": "An", "share": 100}),
    ],
)
def test_refuses_ill_typed_value_naming_the_field(field: str, value: object) -> None:
    assert refused({field: value}).field == field


def test_accepts_submission_time_in_any_offset() -> None:
    record = parse_record({"submitted_at": "2022-05-30T13:00:00Z"})
    assert record.submitted_at == datetime(2022, 5, 30, 20, 0, tzinfo=PLUS7)


def test_accepts_zero_value() -> None:
    assert parse_record({"value_vnd": 0}).value_vnd == 0


@pytest.mark.parametrize(
    ("author", "field"),
    [
        ({"name": "Mai", "share": "30%"}, "authors[1].share"),
        ({"name": "Mai", "share": 0}, "authors[1].share"),
        ({"name": "Mai", "share": -5}, "authors[1].share"),
        ({"name": "Mai", "share": True}, "authors[1].share"),
        ({"name": "Mai", "share": float("nan")}, "authors[1].share"),
        ({"name": "Mai"}, "authors[1].share"),
        ({"name": "  ", "share": 30}, "authors[1].name"),
        ({"share": 30}, "authors[1].name"),
        ({"name": 7, "share": 30}, "authors[1].name"),
        ({"name": "Mai", "share": 30, "lead": "yes"}, "authors[1].lead"),
        ({"name": "Mai", "share": 30, "role": "lead"}, "authors[1].role"),
        ("Mai 30", "authors[1]"),
    ],
)
def test_refuses_bad_author_naming_the_author_and_key(author: object, field: str) -> None:
    error = refused({"authors": [{"name": "Long", "share": 70}, author]})
    assert error.field == field
    assert str(error).startswith(field + ":")


def test_sample_with_bad_share_names_the_second_author() -> None:
    assert refused(sample("invalid_share.json")).field == "authors[1].share"


def test_record_error_renders_in_the_current_locale() -> None:
    error = refused({"recognized_on": "15/03/2022"})
    with using_locale("en"):
        assert error.render() == "recognized_on: must be a date written YYYY-MM-DD"
    assert isinstance(error, ValueError)


def test_record_to_json_writes_every_field_as_json_values() -> None:
    out = record_to_json(parse_record(sample("eligible_phase1.json")))
    assert list(out) == list(FIELDS)
    assert out["kind"] == "technical" and type(out["kind"]) is str
    assert out["recognized_on"] == "2022-03-15"
    assert out["submitted_at"] == "2022-05-30T20:00:00+07:00"
    assert out["authors"] == [
        {"name": "Nguyễn Văn An", "share": 60, "lead": False},
        {"name": "Trần Thị Bình", "share": 40, "lead": False},
    ]
    assert out["research_level"] is None
    json.dumps(out)  # serialisable as is


VALID_SAMPLES = (
    "eligible_phase1.json",
    "eligible_research_phase2.json",
    "tie_for_highest_share.json",
    "many_problems.json",
)


@pytest.mark.parametrize("name", VALID_SAMPLES)
def test_round_trip_is_exact_for_every_valid_sample(name: str) -> None:
    record = parse_record(sample(name))
    assert parse_record(record_to_json(record)) == record
    assert record_from_json_lenient(record_to_json(record)) == record
    assert record_to_json(parse_record(record_to_json(record))) == record_to_json(record)


def test_round_trip_keeps_fractional_shares() -> None:
    record = parse_record(
        {
            "authors": [
                {"name": "A", "share": 33.33},
                {"name": "B", "share": 33.33},
                {"name": "C", "share": 33.34, "lead": True},
            ]
        }
    )
    assert record.authors is not None
    assert [a.share for a in record.authors] == [
        Decimal("33.33"),
        Decimal("33.33"),
        Decimal("33.34"),
    ]
    assert record_to_json(record)["authors"][0]["share"] == 33.33
    assert parse_record(json.loads(json.dumps(record_to_json(record)))) == record


def test_lenient_reading_ignores_fields_it_does_not_know() -> None:
    record = record_from_json_lenient({"title": "Sổ giao ca", "_step": "kind", "old": 1})
    assert record == InitiativeRecord(title="Sổ giao ca")


def test_lenient_reading_still_checks_values() -> None:
    with pytest.raises(RecordError) as caught:
        record_from_json_lenient({"recognized_on": "hôm qua"})
    assert caught.value.field == "recognized_on"
