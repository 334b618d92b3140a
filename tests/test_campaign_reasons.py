"""Standard reasons an officer picks when asking for changes or rejecting, as campaign data."""

from __future__ import annotations

from pathlib import Path

import pytest

from conversations.campaign import REASON_DECISIONS, Campaign, Reason, load_campaign
from conversations.i18n import LOCALES
from tests.campaign_files import (
    assert_rejected,
    default_without_reasons,
    write_campaign,
    write_variant,
)

PLAN_SECTIONS_WITH_CONDITIONS = {"IV.2.1", "IV.2.2", "IV.2.3", "IV.2.4", "IV.3"}


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign()


def codes(reasons: list[Reason] | tuple[Reason, ...]) -> list[str]:
    return [r.code for r in reasons]


# --- the default campaign's reasons come from the plan ------------------------------------


def test_default_campaign_has_reasons_for_both_decisions(campaign: Campaign) -> None:
    assert 6 <= len(campaign.reasons) <= 9
    for decision in REASON_DECISIONS:
        assert campaign.reasons_for(decision), decision


def test_default_reasons_cite_conditions_and_exclusions_of_the_plan(campaign: Campaign) -> None:
    for reason in campaign.reasons:
        assert reason.section in PLAN_SECTIONS_WITH_CONDITIONS, reason.code
        assert campaign.section(reason.section) is not None, reason.section


def test_default_reasons_are_the_expected_ones_in_plan_order(campaign: Campaign) -> None:
    assert [(r.code, r.section) for r in campaign.reasons] == [
        ("not_recognised", "IV.2.1"),
        ("not_new", "IV.2.1"),
        ("duplicate", "IV.2.1"),
        ("not_applied", "IV.2.2"),
        ("benefit_unclear", "IV.2.2"),
        ("authors_shares", "IV.2.4"),
        ("applied_outside_period", "IV.3"),
        ("ip_protected", "IV.3"),
        ("public_order", "IV.3"),
    ]


def test_default_reasons_are_translated_and_vietnamese_carries_diacritics(
    campaign: Campaign,
) -> None:
    for reason in campaign.reasons:
        for locale in LOCALES:
            assert reason.text.get(locale).strip(), f"{reason.code} has no {locale} text"
        assert reason.text.get("vi") != reason.text.get("en"), reason.code
        assert not reason.text.get("vi").isascii(), reason.code


def test_default_reasons_use_the_plans_wording(campaign: Campaign) -> None:
    def vi(code: str) -> str:
        reason = campaign.reason(code)
        assert reason is not None, code
        return reason.text.get("vi")

    assert "Hội đồng sáng kiến" in vi("not_recognised")
    assert "tính mới" in vi("not_new")
    assert "áp dụng thử" in vi("not_applied")
    assert "lợi ích thiết thực" in vi("benefit_unclear")
    assert "tỷ lệ đóng góp" in vi("authors_shares")
    assert "01/9/2021" in vi("applied_outside_period")
    assert "sở hữu trí tuệ" in vi("ip_protected")
    assert "trật tự công cộng hoặc đạo đức xã hội" in vi("public_order")


def test_every_exclusion_of_section_iv_3_can_be_given_as_a_rejection(campaign: Campaign) -> None:
    rejections = set(codes(campaign.reasons_for("reject")))
    assert {"applied_outside_period", "not_recognised", "public_order", "ip_protected"} <= (
        rejections
    )


def test_reasons_for_filters_by_decision_in_file_order(campaign: Campaign) -> None:
    changes = campaign.reasons_for("changes")
    reject = campaign.reasons_for("reject")
    assert all("changes" in r.decisions for r in changes)
    assert all("reject" in r.decisions for r in reject)
    assert set(changes) | set(reject) == set(campaign.reasons)
    assert codes(changes) == [c for c in codes(campaign.reasons) if c in codes(changes)]
    # Something fixable is asked for, never refused outright; a duplicate cannot be fixed.
    assert "authors_shares" in codes(changes) and "authors_shares" not in codes(reject)
    assert "duplicate" in codes(reject) and "duplicate" not in codes(changes)


def test_reasons_for_an_unknown_decision_is_an_error(campaign: Campaign) -> None:
    with pytest.raises(ValueError, match="unknown decision 'approve'"):
        campaign.reasons_for("approve")


def test_reason_by_code(campaign: Campaign) -> None:
    reason = campaign.reason("ip_protected")
    assert reason is not None
    assert reason.section == "IV.3"
    assert reason.decisions == frozenset({"reject"})
    assert reason.text.get("en") == "Currently under intellectual-property protection by law"
    assert campaign.reason("nope") is None


# --- the loader guards them ----------------------------------------------------------------


def test_campaign_without_reasons_loads(tmp_path: Path) -> None:
    campaign = load_campaign(write_campaign(tmp_path, default_without_reasons()))
    assert campaign.reasons == ()
    assert campaign.reasons_for("reject") == []
    assert campaign.reason("duplicate") is None


def test_rejects_duplicate_reason_code(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'code = "not_new"', 'code = "not_recognised"')
    assert_rejected(path, r"reasons\[1\]\.code: 'not_recognised' is used")


def test_rejects_reason_missing_an_english_text(tmp_path: Path) -> None:
    path = write_variant(tmp_path, ', en = "Duplicate of an initiative already submitted"', "")
    assert_rejected(path, r'reasons\[2\]\.text: missing the "en" text')


def test_rejects_reason_with_blank_vietnamese_text(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'vi = "Trùng với sáng kiến đã gửi trước đó"', 'vi = "  "')
    assert_rejected(path, r"reasons\[2\]\.text\.vi: must be non-empty text")


@pytest.mark.parametrize(
    "value",
    ['["approve"]', "[]", '"reject"', '["reject", 42]', '["reject", "reject"]'],
)
def test_rejects_bad_decisions(tmp_path: Path, value: str) -> None:
    path = write_variant(tmp_path, 'for = ["reject"]', f"for = {value}")
    assert_rejected(path, r"reasons\[2\]\.for: ")


def test_rejects_reason_without_decisions(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'for = ["reject"]\n', "")
    assert_rejected(path, r"reasons\[2\]\.for: missing")


def test_rejects_reason_citing_a_section_without_a_title(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'section = "IV.2.4"', 'section = "IV.9"')
    assert_rejected(path, r"reasons\[5\]\.section: 'IV\.9' has no title")


def test_rejects_reason_with_empty_section(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'section = "IV.2.4"', 'section = ""')
    assert_rejected(path, r"reasons\[5\]\.section: must be non-empty text")


def test_rejects_reason_code_unfit_for_a_button(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'code = "public_order"', 'code = "Public order"')
    assert_rejected(path, r"reasons\[8\]\.code: must be 1-32 lower-case")


def test_rejects_unknown_key_in_a_reason(tmp_path: Path) -> None:
    path = write_variant(tmp_path, 'code = "ip_protected"', 'code = "ip_protected"\nsevere = true')
    assert_rejected(path, r"reasons\[7\]\.severe: unknown key")


def test_rejects_reasons_that_are_not_tables(tmp_path: Path) -> None:
    path = write_campaign(tmp_path, f'reasons = ["duplicate"]\n{default_without_reasons()}')
    assert_rejected(path, r"reasons\[0\]: must be a table")
