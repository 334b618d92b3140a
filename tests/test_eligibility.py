"""The checker against the plan: one test per rule and section, both ways, and the boundaries.

Messages are asserted in English (the msgids) with the locale set to "en"; everything else is
asserted on rule codes and parameters, which do not depend on any catalog.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from conversations.campaign import Campaign, load_campaign
from conversations.eligibility import (
    RULES,
    Finding,
    Money,
    Verdict,
    check,
    credit,
    early_findings,
)
from conversations.i18n import format_date, format_datetime, format_money, using_locale
from conversations.record import (
    FIELDS,
    Application,
    Author,
    InitiativeRecord,
    KindCode,
    Recognizer,
    ResearchLevel,
)

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DEFAULT_TOML = resources.files("conversations").joinpath("campaigns/default.toml").read_text()


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=VN)


def shown(moment: datetime) -> str:
    """A moment as messages show it (Babel puts a narrow no-break space before AM)."""
    return format_datetime(moment, "Asia/Ho_Chi_Minh")


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with using_locale("en"):
        yield


@pytest.fixture(scope="module")
def campaign() -> Campaign:
    return load_campaign()


def authors(*shares: int | str, lead: int | None = None) -> tuple[Author, ...]:
    names = ("An", "Bình", "Cường", "Dung")
    return tuple(
        Author(names[i], Decimal(share), lead=(i == lead)) for i, share in enumerate(shares)
    )


PHASE_ONE = InitiativeRecord(
    title="Đồ gá khoan lỗ mặt bích",
    kind=KindCode.TECHNICAL,
    sub_kind="product",
    summary="Đồ gá giúp khoan lỗ chính xác.",
    origin="Tổ cơ khí hay phải khoan lại.",
    unit_code="CDCS-001",
    novel_in_unit=True,
    recognized_by=Recognizer.COUNCIL,
    recognized_on=date(2022, 3, 15),
    decision_no="12/QĐ-HĐSK",
    application=Application.APPLIED,
    applied_on=date(2022, 2, 1),
    economic_benefit="Năng suất tăng gấp đôi.",
    value_vnd=45_000_000,
    authors=authors(60, 40),
    ip_protected=False,
    submitted_at=at(2022, 5, 30, 20, 0),
)


def phase_one(**changes: Any) -> InitiativeRecord:
    return dataclasses.replace(PHASE_ONE, **changes)


def phase_two(**changes: Any) -> InitiativeRecord:
    base = phase_one(
        recognized_on=date(2022, 9, 20),
        applied_on=date(2022, 10, 1),
        submitted_at=at(2022, 11, 5, 9, 30),
    )
    return dataclasses.replace(base, **changes)


def research(**changes: Any) -> InitiativeRecord:
    base = phase_two(
        kind=KindCode.RESEARCH,
        sub_kind=None,
        research_level=ResearchLevel.PROVINCE,
        research_accepted_on=date(2022, 8, 30),
        effect_confirmed_by_head=True,
    )
    return dataclasses.replace(base, **changes)


def rules(verdict: Verdict) -> list[str]:
    return [p.rule for p in verdict.problems]


def only_problem(verdict: Verdict, rule: str) -> Finding:
    assert rules(verdict) == [rule], [p.render() for p in verdict.problems]
    return verdict.problems[0]


def campaign_file(tmp_path: Path, old: str, new: str) -> Campaign:
    assert old in DEFAULT_TOML
    path = tmp_path / "campaign.toml"
    path.write_text(DEFAULT_TOML.replace(old, new, 1), encoding="utf-8")
    return load_campaign(path)


# --- complete records ---------------------------------------------------------------------


def test_accepts_complete_initiative_in_phase_one(campaign: Campaign) -> None:
    verdict = check(phase_one(), campaign)
    assert verdict.eligible
    assert verdict.phase == 1
    assert verdict.credited_author == "An"
    assert verdict.problems == ()


def test_accepts_complete_initiative_in_phase_two(campaign: Campaign) -> None:
    verdict = check(phase_two(), campaign)
    assert (verdict.eligible, verdict.phase) == (True, 2)


def test_verdict_json_has_exactly_the_program_md_shape(campaign: Campaign) -> None:
    out = check(phase_one(novel_in_unit=False), campaign).to_json()
    assert list(out) == ["eligible", "phase", "credited_author", "problems", "officer_checks"]
    assert out["eligible"] is False
    assert out["phase"] == 1
    assert out["credited_author"] == "An"
    assert out["problems"] == [
        {
            "rule": "IV.2.1",
            "message": "The initiative must be new within its own agency, unit or enterprise.",
        }
    ]
    assert out["officer_checks"] == [
        {
            "rule": "IV.3",
            "message": "Check that the content is not contrary to public order or social ethics.",
        }
    ]


def test_reports_every_problem_at_once(campaign: Campaign) -> None:
    record = InitiativeRecord(
        kind=KindCode.MANAGEMENT,
        sub_kind="work_organisation",
        novel_in_unit=False,
        recognized_by=Recognizer.NONE,
        application=Application.NONE,
        applied_on=date(2021, 6, 1),
        economic_benefit="",
        authors=authors(70, 20),
        ip_protected=True,
        submitted_at=at(2023, 9, 2, 8, 0),
    )
    verdict = check(record, campaign)
    assert not verdict.eligible
    assert verdict.phase is None
    assert rules(verdict) == [
        "V",
        "IV.2.1",
        "IV.2.1",
        "IV.2.2",
        "IV.2.2",
        "IV.2.4",
        "IV.3",
        "IV.3",
    ]
    assert len({p.message_id for p in verdict.problems}) == len(verdict.problems)


def test_an_empty_record_reports_every_missing_field(campaign: Campaign) -> None:
    verdict = check(InitiativeRecord(), campaign)
    assert set(rules(verdict)) == {"V", "IV.1", "IV.2.1", "IV.2.2", "IV.2.4", "IV.3"}
    assert verdict.credited_author is None


# --- V, II.3: windows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [at(2022, 1, 8, 7, 0), at(2022, 5, 31, 23, 59, 59)],
    ids=["07:00 08/01/2022", "23:59:59 31/05/2022"],
)
def test_accepts_phase_one_window_boundaries(campaign: Campaign, moment: datetime) -> None:
    record = phase_one(recognized_on=date(2022, 1, 5), applied_on=date(2022, 1, 2))
    verdict = check(dataclasses.replace(record, submitted_at=moment), campaign)
    assert (verdict.eligible, verdict.phase) == (True, 1)


def test_refuses_submission_one_minute_before_phase_one_opens(campaign: Campaign) -> None:
    record = phase_one(
        recognized_on=date(2022, 1, 5),
        applied_on=date(2022, 1, 2),
        submitted_at=at(2022, 1, 8, 6, 59),
    )
    verdict = check(record, campaign)
    problem = only_problem(verdict, "V")
    assert verdict.phase is None
    assert problem.params["opens"] == at(2022, 1, 8, 7, 0)
    assert problem.render() == (
        f"Submissions are not accepted at {shown(at(2022, 1, 8, 6, 59))}: "
        f"Phase 1 – Workers' Month 2022 opens at {shown(at(2022, 1, 8, 7, 0))}."
    )
    assert shown(at(2022, 1, 8, 7, 0)).replace("\u202f", " ") == "8 Jan 2022, 07:00"


def test_refuses_submission_at_midnight_31_may_saying_phase_two_opens_at_seven(
    campaign: Campaign,
) -> None:
    verdict = check(phase_one(submitted_at=at(2022, 6, 1, 0, 0)), campaign)
    problem = only_problem(verdict, "V")
    assert verdict.phase is None
    assert problem.params["opens"] == at(2022, 6, 1, 7, 0)
    assert "Phase 2" in problem.render()
    assert f"opens at {shown(at(2022, 6, 1, 7, 0))}." in problem.render()


def test_refuses_submission_in_the_gap_before_phase_two(campaign: Campaign) -> None:
    record = phase_one(submitted_at=at(2022, 6, 1, 6, 59, 59))
    verdict = check(record, campaign)
    assert only_problem(verdict, "V").params["opens"] == at(2022, 6, 1, 7, 0)


def test_accepts_phase_two_from_seven_on_1_june(campaign: Campaign) -> None:
    record = phase_two(
        recognized_on=date(2022, 6, 1), applied_on=date(2022, 6, 1), submitted_at=at(2022, 6, 1, 7)
    )
    assert (check(record, campaign).eligible, check(record, campaign).phase) == (True, 2)


def test_accepts_last_minute_of_phase_two(campaign: Campaign) -> None:
    record = phase_two(recognized_on=date(2023, 9, 1), submitted_at=at(2023, 9, 1, 23, 59))
    verdict = check(record, campaign)
    assert (verdict.eligible, verdict.phase) == (True, 2)


def test_refuses_submission_after_the_program_has_ended(campaign: Campaign) -> None:
    verdict = check(phase_two(submitted_at=at(2023, 9, 2, 0, 0)), campaign)
    problem = only_problem(verdict, "V")
    assert verdict.phase is None
    assert problem.params["last_day"] == date(2023, 9, 1)
    assert problem.render() == "The program has ended: the last day to submit was 1 Sep 2023."


def test_refuses_record_without_submission_time(campaign: Campaign) -> None:
    verdict = check(phase_one(submitted_at=None), campaign)
    assert "submission time is missing" in only_problem(verdict, "V").render()
    assert verdict.phase is None


# --- V: counting periods ------------------------------------------------------------------


def test_refuses_initiative_recognised_before_phase_one_period(campaign: Campaign) -> None:
    verdict = check(phase_one(recognized_on=date(2021, 8, 31)), campaign)
    problem = only_problem(verdict, "V")
    assert verdict.phase == 1
    assert problem.render() == (
        "Phase 1 – Workers' Month 2022 counts only initiatives recognised from 1 Sep 2021 "
        "to 31 May 2022; this one was recognised on 31 Aug 2021."
    )


def test_accepts_initiative_recognised_on_first_day_of_phase_one_period(
    campaign: Campaign,
) -> None:
    record = phase_one(recognized_on=date(2021, 9, 1), applied_on=date(2021, 9, 1))
    assert check(record, campaign).eligible


def test_refuses_initiative_recognised_in_phase_one_period_when_submitted_in_phase_two(
    campaign: Campaign,
) -> None:
    verdict = check(phase_two(recognized_on=date(2022, 5, 31)), campaign)
    problem = only_problem(verdict, "V")
    assert verdict.phase == 2
    assert problem.params["counts_from"] == date(2022, 6, 1)
    assert problem.params["counts_until"] == date(2023, 9, 1)


def test_phase_two_accepts_phase_one_recognition_when_the_campaign_allows_it(
    tmp_path: Path,
) -> None:
    lenient = campaign_file(
        tmp_path, "accept_earlier_recognition = false", "accept_earlier_recognition = true"
    )
    verdict = check(phase_two(recognized_on=date(2022, 5, 31)), lenient)
    assert (verdict.eligible, verdict.phase) == (True, 2)
    before = check(phase_two(recognized_on=date(2021, 8, 31)), lenient)
    assert only_problem(before, "V").params["counts_from"] == date(2021, 9, 1)


def test_refuses_recognition_dated_after_the_submission(campaign: Campaign) -> None:
    verdict = check(phase_one(recognized_on=date(2022, 6, 15)), campaign)
    problem = only_problem(verdict, "V")  # not also "outside the period": one fact, one problem
    assert problem.params == {
        "recognized_on": date(2022, 6, 15),
        "submitted_on": date(2022, 5, 30),
    }


def test_submission_date_is_the_local_date(campaign: Campaign) -> None:
    # 18:00 UTC on 30/05 is 01:00 on 31/05 in Hà Nội: a recognition on 31/05 is not "after".
    submitted = datetime(2022, 5, 30, 18, 0, tzinfo=ZoneInfo("UTC"))
    record = phase_one(recognized_on=date(2022, 5, 31), submitted_at=submitted)
    assert check(record, campaign).eligible


# --- IV.1: the kinds ----------------------------------------------------------------------


def test_refuses_record_without_kind(campaign: Campaign) -> None:
    verdict = check(phase_one(kind=None, sub_kind=None), campaign)
    problem = only_problem(verdict, "IV.1")
    assert "Technical solution" in problem.render()


def test_refuses_kind_the_campaign_does_not_offer(campaign: Campaign) -> None:
    without_covid = dataclasses.replace(
        campaign, kinds=tuple(k for k in campaign.kinds if k.code != "covid")
    )
    record = phase_one(kind=KindCode.COVID, sub_kind=None)
    assert check(record, campaign).eligible
    assert "“covid”" in only_problem(check(record, without_covid), "IV.1").render()


def test_refuses_sub_kind_of_another_kind_citing_the_kind_section(campaign: Campaign) -> None:
    verdict = check(phase_one(sub_kind="appraisal"), campaign)
    problem = only_problem(verdict, "IV.1.1")
    assert problem.render() == (
        "“appraisal” is not a sub-kind of Technical solution; choose one of: Product, Process."
    )


def test_refuses_sub_kind_for_a_kind_without_sub_kinds(campaign: Campaign) -> None:
    verdict = check(phase_one(kind=KindCode.COVID, sub_kind="product"), campaign)
    only_problem(verdict, "IV.1.6")


@pytest.mark.parametrize(
    ("kind", "sub_kind"),
    [
        (KindCode.TECHNICAL, "process"),
        (KindCode.MANAGEMENT, "direction_supervision"),
        (KindCode.OPERATIONAL, "communication_training"),
        (KindCode.TECHNICAL, None),
        (KindCode.UNION_WORK, None),
    ],
)
def test_accepts_matching_or_absent_sub_kind(
    campaign: Campaign, kind: KindCode, sub_kind: str | None
) -> None:
    assert check(phase_one(kind=kind, sub_kind=sub_kind), campaign).eligible


def test_refuses_research_topic_without_level(campaign: Campaign) -> None:
    verdict = check(research(research_level=None), campaign)
    assert "Province level" in only_problem(verdict, "IV.1.7").render()


def test_refuses_research_level_on_an_initiative_that_is_not_research(campaign: Campaign) -> None:
    verdict = check(phase_one(research_level=ResearchLevel.MINISTRY), campaign)
    only_problem(verdict, "IV.1.7")


def test_refuses_research_level_the_campaign_does_not_offer(campaign: Campaign) -> None:
    province_only = dataclasses.replace(campaign, research_levels=campaign.research_levels[:1])
    verdict = check(research(research_level=ResearchLevel.SECTOR), province_only)
    only_problem(verdict, "IV.1.7")


# --- IV.2.1: new in the unit and recognised -----------------------------------------------


def test_refuses_initiative_not_new_in_the_unit(campaign: Campaign) -> None:
    only_problem(check(phase_one(novel_in_unit=False), campaign), "IV.2.1")


def test_refuses_initiative_whose_novelty_is_unknown(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(novel_in_unit=None), campaign), "IV.2.1")
    assert "not stated" in problem.render()


def test_refuses_initiative_not_recognised_with_one_clear_problem(campaign: Campaign) -> None:
    verdict = check(phase_one(recognized_by=Recognizer.NONE, recognized_on=None), campaign)
    problem = only_problem(verdict, "IV.2.1")
    assert "Initiative Council or head" in problem.render()


def test_refuses_initiative_when_nobody_said_who_recognised_it(campaign: Campaign) -> None:
    only_problem(check(phase_one(recognized_by=None, recognized_on=None), campaign), "IV.2.1")


def test_accepts_recognition_by_the_head_of_the_unit(campaign: Campaign) -> None:
    assert check(phase_one(recognized_by=Recognizer.HEAD), campaign).eligible


def test_refuses_recognition_without_a_date(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(recognized_on=None), campaign), "IV.2.1")
    assert problem.render().startswith("The date of recognition is missing")


# --- IV.2.2: applied, with a benefit ------------------------------------------------------


def test_refuses_initiative_not_applied(campaign: Campaign) -> None:
    verdict = check(phase_one(application=Application.NONE, applied_on=None), campaign)
    only_problem(verdict, "IV.2.2")


def test_refuses_initiative_whose_application_is_unknown(campaign: Campaign) -> None:
    only_problem(check(phase_one(application=None, applied_on=None), campaign), "IV.2.2")


def test_accepts_trial_application(campaign: Campaign) -> None:
    assert check(phase_one(application=Application.TRIAL), campaign).eligible


def test_refuses_application_without_a_date(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(applied_on=None), campaign), "IV.2.2")
    assert problem.render() == "The date the initiative was put into use is missing."


def test_refuses_application_dated_after_the_submission(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(applied_on=date(2022, 5, 31)), campaign), "IV.2.2")
    assert problem.params == {"applied_on": date(2022, 5, 31), "submitted_on": date(2022, 5, 30)}


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_refuses_initiative_without_any_benefit(campaign: Campaign, blank: str | None) -> None:
    verdict = check(phase_one(economic_benefit=blank, social_benefit=blank), campaign)
    only_problem(verdict, "IV.2.2")


def test_accepts_a_social_benefit_alone(campaign: Campaign) -> None:
    record = phase_one(economic_benefit=None, value_vnd=None, social_benefit="An toàn hơn.")
    assert check(record, campaign).eligible


# --- IV.2.3: research topics --------------------------------------------------------------


def test_accepts_research_topic_accepted_applied_and_confirmed(campaign: Campaign) -> None:
    verdict = check(research(), campaign)
    assert (verdict.eligible, verdict.phase) == (True, 2)


def test_refuses_research_topic_accepted_before_september_2021(campaign: Campaign) -> None:
    problem = only_problem(
        check(research(research_accepted_on=date(2021, 8, 31)), campaign), "IV.2.3"
    )
    assert problem.params == {"accepted_on": date(2021, 8, 31), "since": date(2021, 9, 1)}


def test_accepts_research_topic_accepted_on_1_september_2021(campaign: Campaign) -> None:
    assert check(research(research_accepted_on=date(2021, 9, 1)), campaign).eligible


def test_refuses_research_topic_without_acceptance_date(campaign: Campaign) -> None:
    only_problem(check(research(research_accepted_on=None), campaign), "IV.2.3")


@pytest.mark.parametrize("confirmed", [False, None])
def test_refuses_research_topic_whose_effect_is_not_confirmed(
    campaign: Campaign, confirmed: bool | None
) -> None:
    only_problem(check(research(effect_confirmed_by_head=confirmed), campaign), "IV.2.3")


def test_refuses_research_topic_applied_before_the_campaign_research_date(
    campaign: Campaign,
) -> None:
    later = dataclasses.replace(campaign, research_since=date(2022, 1, 1))
    problem = only_problem(check(research(applied_on=date(2021, 12, 1)), later), "IV.2.3")
    assert problem.params["since"] == date(2022, 1, 1)


def test_research_applied_before_the_application_period_is_one_iv_3_problem(
    campaign: Campaign,
) -> None:
    only_problem(check(research(applied_on=date(2021, 8, 1)), campaign), "IV.3")


def test_research_conditions_do_not_apply_to_other_kinds(campaign: Campaign) -> None:
    record = phase_one(research_accepted_on=None, effect_confirmed_by_head=False)
    assert check(record, campaign).eligible


# --- IV.2.4: authorship -------------------------------------------------------------------


@pytest.mark.parametrize("none", [None, ()])
def test_refuses_initiative_without_authors(campaign: Campaign, none: Any) -> None:
    verdict = check(phase_one(authors=none), campaign)
    only_problem(verdict, "IV.2.4")
    assert verdict.credited_author is None


def test_refuses_shares_not_adding_up_to_100(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(authors=authors(70, 20)), campaign), "IV.2.4")
    assert problem.render() == (
        "The contribution shares add up to 90 %; they must add up to 100 %."
    )


def test_accepts_shares_within_a_hundredth_of_100(campaign: Campaign) -> None:
    record = phase_one(authors=authors("33.33", "33.33", "33.33", "0.01"))
    assert check(record, campaign).eligible
    assert check(phase_one(authors=authors("33.33", "33.33", "33.33")), campaign).eligible
    assert not check(phase_one(authors=authors("33.33", "33.33", "33.32")), campaign).eligible


def test_refuses_share_of_zero(campaign: Campaign) -> None:
    verdict = check(phase_one(authors=authors(100, 0)), campaign)
    assert only_problem(verdict, "IV.2.4").params == {"name": "Bình"}


def test_refuses_two_topic_leads_and_credits_nobody(campaign: Campaign) -> None:
    two_leads = (Author("An", Decimal(50), lead=True), Author("Bình", Decimal(50), lead=True))
    verdict = check(phase_one(authors=two_leads), campaign)
    only_problem(verdict, "IV.2.4")
    assert verdict.credited_author is None
    assert [c.rule for c in verdict.officer_checks] == ["IV.3"]


def test_credits_the_single_author(campaign: Campaign) -> None:
    assert check(phase_one(authors=authors(100)), campaign).credited_author == "An"


def test_credits_the_author_with_the_highest_share(campaign: Campaign) -> None:
    assert check(phase_one(authors=authors(30, 45, 25)), campaign).credited_author == "Bình"


def test_credits_the_topic_lead_even_with_a_smaller_share(campaign: Campaign) -> None:
    verdict = check(research(authors=authors(30, 40, 30, lead=2)), campaign)
    assert verdict.eligible
    assert verdict.credited_author == "Cường"


def test_tie_for_highest_share_goes_to_the_officer(campaign: Campaign) -> None:
    verdict = check(phase_one(authors=authors(40, 40, 20)), campaign)
    assert verdict.eligible
    assert verdict.credited_author is None
    assert [c.rule for c in verdict.officer_checks] == ["IV.3", "IV.2.4"]
    tie = verdict.officer_checks[1]
    assert tie.params["names"] == ("An", "Bình")
    assert tie.render() == (
        "An, Bình share the highest contribution (40 %) and nobody is marked as the topic "
        "lead: decide who is credited with the initiative."
    )


def test_tie_with_a_topic_lead_needs_no_officer(campaign: Campaign) -> None:
    verdict = check(phase_one(authors=authors(50, 50, lead=1)), campaign)
    assert verdict.credited_author == "Bình"
    assert [c.rule for c in verdict.officer_checks] == ["IV.3"]


def test_credit_on_its_own() -> None:
    assert credit(None) == (None, ())
    assert credit(authors(50, 50)) == (None, ("An", "Bình"))
    assert credit(authors(20, 80)) == ("Bình", ())


# --- IV.3: exclusions ---------------------------------------------------------------------


def test_refuses_initiative_put_into_use_before_september_2021(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(applied_on=date(2021, 8, 31)), campaign), "IV.3")
    assert problem.render() == (
        "The initiative was put into use on 31 Aug 2021, outside the period "
        "1 Sep 2021 – 1 Sep 2023, so it cannot take part."
    )


def test_refuses_initiative_put_into_use_after_september_2023(campaign: Campaign) -> None:
    record = phase_two(applied_on=date(2023, 9, 2), submitted_at=at(2023, 9, 1, 12))
    verdict = check(record, campaign)
    assert "IV.3" in rules(verdict)


def test_accepts_initiative_put_into_use_on_the_period_edges(campaign: Campaign) -> None:
    first = phase_one(applied_on=date(2021, 9, 1))
    last = phase_two(recognized_on=date(2023, 9, 1), applied_on=date(2023, 9, 1))
    last = dataclasses.replace(last, submitted_at=at(2023, 9, 1, 22))
    assert check(first, campaign).eligible
    assert check(last, campaign).eligible


def test_refuses_initiative_under_ip_protection(campaign: Campaign) -> None:
    problem = only_problem(check(phase_one(ip_protected=True), campaign), "IV.3")
    assert "intellectual-property protection" in problem.render()


def test_refuses_initiative_whose_ip_status_is_unknown(campaign: Campaign) -> None:
    only_problem(check(phase_one(ip_protected=None), campaign), "IV.3")


def test_always_asks_the_officer_about_public_order_and_ethics(campaign: Campaign) -> None:
    for record in (phase_one(), InitiativeRecord(), research()):
        checks = check(record, campaign).officer_checks
        assert checks[0].rule == "IV.3"
        assert "public order or social ethics" in checks[0].render()


# --- early findings -----------------------------------------------------------------------


def test_early_findings_run_only_rules_whose_fields_are_answered(campaign: Campaign) -> None:
    draft = InitiativeRecord(title="Sổ giao ca", novel_in_unit=False)
    assert early_findings(draft, campaign, frozenset()) == []
    assert early_findings(draft, campaign, frozenset({"title"})) == []
    found = early_findings(draft, campaign, frozenset({"title", "novel_in_unit"}))
    assert [f.rule for f in found] == ["IV.2.1"]


def test_early_findings_warn_as_soon_as_nothing_recognised_it(campaign: Campaign) -> None:
    draft = InitiativeRecord(kind=KindCode.COVID, recognized_by=Recognizer.NONE)
    found = early_findings(draft, campaign, frozenset({"kind", "recognized_by"}))
    assert [f.rule for f in found] == ["IV.2.1"]
    assert "Initiative Council" in found[0].render()


def test_early_findings_treat_a_skipped_answer_as_missing(campaign: Campaign) -> None:
    found = early_findings(InitiativeRecord(), campaign, frozenset({"ip_protected"}))
    assert [f.rule for f in found] == ["IV.3"]


def test_early_findings_wait_for_both_benefits(campaign: Campaign) -> None:
    draft = InitiativeRecord()
    assert early_findings(draft, campaign, frozenset({"economic_benefit"})) == []
    found = early_findings(draft, campaign, frozenset({"economic_benefit", "social_benefit"}))
    assert [f.rule for f in found] == ["IV.2.2"]


def test_early_findings_check_recognition_against_a_provisional_submission(
    campaign: Campaign,
) -> None:
    draft = InitiativeRecord(recognized_on=date(2021, 8, 1), submitted_at=at(2022, 3, 1))
    found = early_findings(draft, campaign, frozenset({"recognized_on", "submitted_at"}))
    assert [f.rule for f in found] == ["V"]


def test_early_findings_of_a_complete_record_equal_the_verdict(campaign: Campaign) -> None:
    record = phase_one(novel_in_unit=False, ip_protected=True, authors=authors(50, 30))
    assert early_findings(record, campaign, frozenset(FIELDS)) == list(
        check(record, campaign).problems
    )


def test_every_rule_declares_real_record_fields_and_a_section() -> None:
    assert RULES
    for rule in RULES:
        assert rule.fields, rule.check.__name__
        assert rule.fields <= set(FIELDS), rule.check.__name__
        assert rule.section, rule.check.__name__
        assert rule.section in (rule.check.__doc__ or ""), rule.check.__name__


# --- rendering ----------------------------------------------------------------------------


def test_findings_format_their_parameters_in_the_current_locale() -> None:
    finding = Finding(
        "IV.2.2",
        "Worth {value}, shares {share} %, on {day}.",
        {
            "value": Money(45_000_000),
            "share": Decimal("33.5"),
            "day": date(2022, 5, 31),
        },
    )
    assert finding.render() == "Worth ₫45,000,000, shares 33.5 %, on 31 May 2022."
    with using_locale("vi"):
        assert finding.render() == (
            f"Worth {format_money(45_000_000)}, shares 33,5 %, "
            f"on {format_date(date(2022, 5, 31))}."
        )


def test_verdict_messages_follow_the_locale_at_render_time(campaign: Campaign) -> None:
    verdict = check(phase_one(recognized_on=date(2021, 8, 31)), campaign)
    english = verdict.to_json()["problems"][0]["message"]
    with using_locale("vi"):
        vietnamese = verdict.to_json()["problems"][0]["message"]
        assert "Giai đoạn 1" in vietnamese
        assert format_date(date(2021, 8, 31)) in vietnamese
    assert "Phase 1" in english


def test_findings_cite_their_rule_by_number_and_name(campaign: Campaign) -> None:
    finding = only_problem(check(phase_one(novel_in_unit=False), campaign), "IV.2.1")
    assert finding.cite(campaign) == (
        "IV.2.1 – New in the unit and recognised by its Initiative Council or head"
    )
    assert Finding("X.9", "x").cite(campaign) == "X.9"


def test_a_rule_reads_only_the_fields_it_declares(campaign: Campaign) -> None:
    """What lets an answer re-check only the rules that read the field it changed: a rule's
    findings stay the same whatever the record holds outside its declared fields."""
    samples = [
        phase_one(),
        phase_two(application=Application.TRIAL, economic_benefit=None, value_vnd=None),
        research(),
        research(research_accepted_on=None, effect_confirmed_by_head=False),
        phase_one(novel_in_unit=False, ip_protected=True, authors=authors(50, 30)),
        phase_one(recognized_by=Recognizer.NONE, recognized_on=None, applied_on=date(2021, 8, 1)),
        phase_one(submitted_at=at(2022, 6, 1, 3, 0), recognized_on=date(2022, 6, 2)),
        InitiativeRecord(),
    ]
    for rule in RULES:
        for base in samples:
            expected = list(rule.check(base, campaign))
            for other in samples:
                mixed = dataclasses.replace(other, **{f: getattr(base, f) for f in rule.fields})
                assert list(rule.check(mixed, campaign)) == expected, rule.check.__name__


def test_early_findings_touching_a_field_are_those_of_the_rules_reading_it(
    campaign: Campaign,
) -> None:
    record = phase_one(novel_in_unit=False, ip_protected=True, recognized_by=Recognizer.NONE)
    everything = early_findings(record, campaign, frozenset(FIELDS))
    touching = early_findings(record, campaign, frozenset(FIELDS), frozenset({"ip_protected"}))
    assert [f.rule for f in everything] == ["IV.2.1", "IV.2.1", "IV.3"]
    assert touching == [f for f in everything if f.rule == "IV.3"]
    assert early_findings(record, campaign, frozenset(FIELDS), frozenset({"title"})) == []
