"""The campaign file: the 2022–2023 Bắc Kạn plan as data, and the loader that guards it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conversations.campaign import (
    Campaign,
    CampaignError,
    DatePeriod,
    LocalText,
    load_campaign,
)
from conversations.eligibility import RULES
from conversations.i18n import LOCALES, using_locale
from conversations.record import KindCode
from tests.campaign_files import assert_rejected, write_campaign, write_variant

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=VN)


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign()


def every_text(campaign: Campaign) -> Iterator[tuple[str, LocalText]]:
    yield "name", campaign.name
    yield "plan", campaign.plan
    for phase in campaign.phases:
        yield f"phase {phase.number}", phase.name
    for kind in campaign.kinds:
        yield f"{kind.code}.name", kind.name
        yield f"{kind.code}.description", kind.description
        for i, example in enumerate(kind.examples):
            yield f"{kind.code}.examples[{i}]", example
        for sub in kind.sub_kinds:
            yield f"{kind.code}.{sub.code}.name", sub.name
            yield f"{kind.code}.{sub.code}.example", sub.example
    for level in campaign.research_levels:
        yield f"level {level.code}", level.name
    for code, title in campaign.sections:
        yield f"section {code}", title


# --- the default campaign is the plan -----------------------------------------------------


def test_default_campaign_has_every_text_in_every_language(campaign: Campaign) -> None:
    for where, text in every_text(campaign):
        for locale in LOCALES:
            assert text.get(locale).strip(), f"{where} has no {locale} text"
        assert text.get("vi") != text.get("en"), f"{where} is not translated"


def test_default_campaign_vietnamese_names_carry_diacritics(campaign: Campaign) -> None:
    for kind in campaign.kinds:
        assert not kind.name.get("vi").isascii(), kind.code
        assert not kind.description.get("vi").isascii(), kind.code


def test_default_campaign_identifies_the_plan(campaign: Campaign) -> None:
    assert campaign.id == "bac-kan-2022-2023"
    assert "3259/TTr-TLĐ" in campaign.plan.get("vi")
    assert "Bắc Kạn" in campaign.plan.get("vi")
    assert campaign.timezone == "Asia/Ho_Chi_Minh"
    assert campaign.tz == VN


def test_default_campaign_targets_follow_section_ii_3(campaign: Campaign) -> None:
    assert campaign.targets.total == 700
    assert campaign.targets.per_grassroots_unit == 1


def test_default_campaign_periods_and_settings(campaign: Campaign) -> None:
    assert campaign.application_period == DatePeriod(date(2021, 9, 1), date(2023, 9, 1))
    assert campaign.research_since == date(2021, 9, 1)
    assert campaign.review_days == 5
    assert campaign.accept_earlier_recognition is False


def test_default_phases_follow_section_v(campaign: Campaign) -> None:
    one, two = campaign.phases
    assert (one.number, two.number) == (1, 2)
    assert one.opens == at(2022, 1, 8, 7, 0)
    assert one.closes == at(2022, 6, 1, 0, 0)
    assert (one.counts_from, one.counts_until) == (date(2021, 9, 1), date(2022, 5, 31))
    assert one.last_day == date(2022, 5, 31)
    assert two.opens == at(2022, 6, 1, 7, 0)
    assert two.closes == at(2023, 9, 2, 0, 0)
    assert (two.counts_from, two.counts_until) == (date(2022, 6, 1), date(2023, 9, 1))
    assert two.last_day == date(2023, 9, 1)
    assert "Tháng Công nhân" in one.name.get("vi")
    assert campaign.phase(2) is two
    assert campaign.phase(3) is None


def test_default_campaign_has_the_seven_kinds_of_section_iv_1(campaign: Campaign) -> None:
    assert [(k.code, k.section) for k in campaign.kinds] == [
        ("technical", "IV.1.1"),
        ("management", "IV.1.2"),
        ("operational", "IV.1.3"),
        ("tech_application", "IV.1.4"),
        ("union_work", "IV.1.5"),
        ("covid", "IV.1.6"),
        ("research", "IV.1.7"),
    ]
    assert {k.code for k in campaign.kinds} == set(KindCode)
    for kind in campaign.kinds:
        assert 1 <= len(kind.examples) <= 2, kind.code


def test_default_campaign_sub_kinds_for_kinds_one_to_three(campaign: Campaign) -> None:
    def codes(kind: str) -> list[str]:
        found = campaign.kind(kind)
        assert found is not None
        return [s.code for s in found.sub_kinds]

    assert codes("technical") == ["product", "process"]
    assert codes("management") == ["work_organisation", "direction_supervision"]
    assert codes("operational") == ["administrative", "appraisal", "communication_training"]
    for kind in ("tech_application", "union_work", "covid", "research"):
        assert codes(kind) == []
    technical = campaign.kind("technical")
    assert technical is not None
    assert technical.sub_kind("process") is technical.sub_kinds[1]
    assert technical.sub_kind("nope") is None
    assert campaign.kind("nope") is None


def test_default_campaign_research_levels(campaign: Campaign) -> None:
    assert [r.code for r in campaign.research_levels] == ["province", "ministry", "sector"]
    level = campaign.research_level("province")
    assert level is not None
    assert level.name.get("vi") == "Cấp tỉnh"


def test_every_rule_the_checker_cites_has_a_title(campaign: Campaign) -> None:
    cited = {r.section for r in RULES} | {k.section for k in campaign.kinds}
    for code in cited:
        title = campaign.section(code)
        assert title is not None, code
        for locale in LOCALES:
            assert title.get(locale)
    assert campaign.rule_title("IV.2.1", "en") == (
        "New in the unit and recognised by its Initiative Council or head"
    )
    assert campaign.rule_title("IV.1.4", "en") == "Applying technical progress"
    assert campaign.rule_title("IX.9") is None


# --- windows ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "phase"),
    [
        (at(2022, 1, 8, 6, 59, 59), None),
        (at(2022, 1, 8, 7, 0), 1),
        (at(2022, 5, 31, 23, 59, 59, 999999), 1),
        (at(2022, 6, 1, 0, 0), None),
        (at(2022, 6, 1, 6, 59, 59), None),
        (at(2022, 6, 1, 7, 0), 2),
        (at(2023, 9, 1, 23, 59, 59), 2),
        (at(2023, 9, 2, 0, 0), None),
    ],
)
def test_phase_open_at_window_boundaries(
    campaign: Campaign, moment: datetime, phase: int | None
) -> None:
    found = campaign.phase_open_at(moment)
    assert (found.number if found else None) == phase


def test_phase_open_at_compares_instants_not_wall_clocks(campaign: Campaign) -> None:
    # 00:00 UTC on 08/01/2022 is 07:00 in Hà Nội: open.
    phase = campaign.phase_open_at(datetime(2022, 1, 8, 0, 0, tzinfo=UTC))
    assert phase is not None and phase.number == 1
    assert campaign.phase_open_at(datetime(2022, 1, 7, 23, 59, tzinfo=UTC)) is None
    assert campaign.local_date(datetime(2022, 5, 31, 17, 30, tzinfo=UTC)) == date(2022, 6, 1)


def test_next_phase_after_gives_the_next_opening(campaign: Campaign) -> None:
    before = campaign.next_phase_after(at(2021, 12, 1))
    gap = campaign.next_phase_after(at(2022, 6, 1, 3, 0))
    assert before is not None and before.number == 1
    assert gap is not None and gap.number == 2
    assert campaign.next_phase_after(at(2023, 1, 1)) is None


def test_has_ended_only_after_the_last_window(campaign: Campaign) -> None:
    assert not campaign.has_ended(at(2023, 9, 1, 23, 59))
    assert campaign.has_ended(at(2023, 9, 2, 0, 0))
    assert not campaign.has_ended(at(2021, 1, 1))


def test_naive_datetimes_are_refused(campaign: Campaign) -> None:
    for method in (campaign.phase_open_at, campaign.next_phase_after, campaign.has_ended):
        with pytest.raises(ValueError, match="aware"):
            method(datetime(2022, 3, 1, 8, 0))


def test_counting_periods_are_strict_by_default(campaign: Campaign) -> None:
    two = campaign.phase(2)
    assert two is not None
    assert campaign.counting_periods(two) == (DatePeriod(date(2022, 6, 1), date(2023, 9, 1)),)


def test_counting_periods_merge_earlier_phases_when_the_setting_allows(
    campaign: Campaign,
) -> None:
    lenient = dataclasses.replace(campaign, accept_earlier_recognition=True)
    one, two = lenient.phases
    assert lenient.counting_periods(two) == (DatePeriod(date(2021, 9, 1), date(2023, 9, 1)),)
    assert lenient.counting_periods(one) == (DatePeriod(date(2021, 9, 1), date(2022, 5, 31)),)


def test_phase_two_setting_is_read_from_the_file(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, "accept_earlier_recognition = false", "accept_earlier_recognition = true"
    )
    assert load_campaign(path).accept_earlier_recognition is True


def test_window_offsets_are_shown_in_the_campaign_zone(tmp_path: Path) -> None:
    path = write_variant(
        tmp_path, "opens = 2022-01-08T07:00:00+07:00", "opens = 2022-01-08T00:00:00Z"
    )
    phase = load_campaign(path).phases[0]
    assert phase.opens == at(2022, 1, 8, 7, 0)
    assert phase.opens.utcoffset() == timedelta(hours=7)
    assert phase.opens.tzinfo == VN


# --- localised text -----------------------------------------------------------------------


def test_local_text_follows_the_current_locale() -> None:
    text = LocalText.of({"vi": "Giai đoạn", "en": "Phase"})
    with using_locale("en"):
        assert text.get() == "Phase"
        assert str(text) == "Phase"
    with using_locale("vi"):
        assert str(text) == "Giai đoạn"
    assert text.get("en") == "Phase"
    assert text.get("fr") == "Giai đoạn"  # unknown language: the default locale


# --- the loader refuses unusable files ----------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        pytest.param(
            ', en = "Phase 1 – Workers\' Month 2022"',
            "",
            r'phases\[0\]\.name: missing the "en" text',
            id="missing_an_english_text",
        ),
        pytest.param(
            '{ vi = "Quy trình ủ phân vi sinh từ rơm rạ cho hợp tác xã.", ',
            "{ ",
            r'kinds\[0\]\.examples\[1\]: missing the "vi" text',
            id="missing_a_vietnamese_example",
        ),
        pytest.param(
            ', en = "Initiatives that cannot take part"',
            ', fr = "Exclues"',
            r'sections\.IV\.3: missing the "en" text',
            id="missing_a_section_translation",
        ),
        pytest.param(
            'name = { vi = "Sản phẩm", en = "Product" }',
            'name = "Sản phẩm"',
            r"kinds\[0\]\.sub_kinds\[0\]\.name: must be a table",
            id="plain_string_where_localised_text_is_needed",
        ),
        pytest.param(
            "review_days = 5",
            "review_days = 5\nreveiw_days = 6",
            r"rules\.reveiw_days: unknown key",
            id="unknown_keys",
        ),
        pytest.param(
            "opens = 2022-06-01T07:00:00+07:00",
            "opens = 2022-06-01T07:00:00",
            r"phases\[1\]\.opens: must be a date-time with",
            id="window_without_offset",
        ),
        pytest.param(
            "opens = 2022-06-01T07:00:00+07:00",
            "opens = 2022-05-01T07:00:00+07:00",
            r"phases\[1\]\.opens",
            id="overlapping_phases",
        ),
        pytest.param(
            "closes = 2022-06-01T00:00:00+07:00",
            "closes = 2022-01-01T00:00:00+07:00",
            r"phases\[0\]\.closes: must be after opens",
            id="window_closing_before_it_opens",
        ),
        pytest.param(
            'code = "covid"',
            'code = "corona"',
            r"kinds\[5\]\.code: must be one of",
            id="kind_the_record_cannot_hold",
        ),
        pytest.param(
            '"Asia/Ho_Chi_Minh"',
            '"Asia/Saigon_City"',
            "timezone: unknown time zone",
            id="unknown_time_zone",
        ),
        pytest.param(
            "[targets]\ntotal = 700\nper_grassroots_unit = 1\n",
            "",
            "targets: missing",
            id="missing_table",
        ),
    ],
)
def test_rejects_unusable_campaign(tmp_path: Path, old: str, new: str, match: str) -> None:
    assert_rejected(write_variant(tmp_path, old, new), match)


def test_rejects_invalid_toml_and_missing_files(tmp_path: Path) -> None:
    assert_rejected(write_campaign(tmp_path, "id = \n", name="broken.toml"), "not valid TOML")
    assert_rejected(tmp_path / "absent.toml", "cannot read")


def test_campaign_error_is_a_value_error() -> None:
    assert issubclass(CampaignError, ValueError)
