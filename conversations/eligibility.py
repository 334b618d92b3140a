"""The eligibility checker: an initiative record and a campaign in, a verdict out. No I/O.

Every rule is a small function citing its section of the plan and declaring the record fields
it reads. :func:`check` runs them all and reports every problem, not only the first;
:func:`early_findings` runs only the rules whose fields the person has already answered, so the
conversation can say at once what would make the initiative ineligible.

Dates, windows and periods come from the :class:`~conversations.campaign.Campaign`; nothing
here knows the 2022–2023 calendar. Messages are English msgids marked with ``N_`` and
translated when rendered (``Finding.render``), in whatever locale is current then.

Rule codes in findings: ``V`` (windows and counting periods), ``IV.1`` (kind), the kind's own
section for its sub-kinds (``IV.1.1`` …), ``IV.1.7`` (research level), ``IV.2.1`` to
``IV.2.4`` (conditions) and ``IV.3`` (exclusions).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from conversations.campaign import Campaign, DatePeriod, LocalText, Phase
from conversations.i18n import N_, _, format_date, format_datetime, format_money, format_number
from conversations.record import Application, Author, InitiativeRecord, KindCode, Recognizer

SHARE_TOTAL = Decimal(100)
SHARE_TOLERANCE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Money:
    """A parameter shown as money (``45.000.000 ₫``) in the locale of the moment."""

    vnd: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found, citing its plan section; rendered in the current locale on demand.

    ``params`` values may be dates, aware datetimes, :class:`Money`, numbers, localised
    campaign texts, periods or sequences of those: all are formatted at render time.
    """

    rule: str
    message_id: str
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    def render(self) -> str:
        return _(self.message_id).format(**{k: _show(v) for k, v in self.params.items()})

    def cite(self, campaign: Campaign) -> str:
        """``"IV.2.1 – New in the unit and recognised…"``: the rule by number and name."""
        title = campaign.section(self.rule)
        return f"{self.rule} – {title.get()}" if title else self.rule

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "message": self.render()}


def _show(value: object) -> str:
    if isinstance(value, LocalText):
        return value.get()
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        tz = value.tzinfo
        return format_datetime(value, tz.key if isinstance(tz, ZoneInfo) else "UTC")
    if isinstance(value, date):
        return format_date(value)
    if isinstance(value, Money):
        return format_money(value.vnd)
    if isinstance(value, DatePeriod):
        return f"{format_date(value.start)} – {format_date(value.end)}"
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return format_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(_show(item) for item in value)
    return str(value)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the checker decided; ``problems`` make the initiative ineligible."""

    eligible: bool
    phase: int | None
    credited_author: str | None
    problems: tuple[Finding, ...]
    officer_checks: tuple[Finding, ...]

    def to_json(self) -> dict[str, Any]:
        """The PROGRAM.md verdict, messages rendered in the current locale."""
        return {
            "eligible": self.eligible,
            "phase": self.phase,
            "credited_author": self.credited_author,
            "problems": [f.to_json() for f in self.problems],
            "officer_checks": [f.to_json() for f in self.officer_checks],
        }


RuleCheck = Callable[[InitiativeRecord, Campaign], Iterable[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A check of the plan's ``section`` that reads only ``fields`` of the record."""

    section: str
    fields: frozenset[str]
    check: RuleCheck


RULES: list[Rule] = []


def rule(section: str, *fields: str) -> Callable[[RuleCheck], RuleCheck]:
    def register(check: RuleCheck) -> RuleCheck:
        RULES.append(Rule(section, frozenset(fields), check))
        return check

    return register


def _found(rule: str, message_id: str, **params: object) -> Finding:
    return Finding(rule, message_id, params)


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _kind_name(record: InitiativeRecord, campaign: Campaign) -> LocalText | str:
    kind = campaign.kind(record.kind) if record.kind else None
    return kind.name if kind else str(record.kind)


def _submitted_phase(record: InitiativeRecord, campaign: Campaign) -> Phase | None:
    return campaign.phase_open_at(record.submitted_at) if record.submitted_at else None


# --- V, II.3: submission windows and counting periods ------------------------------------

MSG_SUBMITTED_MISSING = N_(
    "The submission time is missing; it decides which phase the initiative enters."
)
MSG_NOT_OPEN = N_("Submissions are not accepted at {submitted}: {phase} opens at {opens}.")
MSG_ENDED = N_("The program has ended: the last day to submit was {last_day}.")
MSG_RECOGNISED_AFTER_SUBMISSION = N_(
    "The initiative was recognised on {recognized_on}, after it was submitted on "
    "{submitted_on}; an initiative is entered only once it has been recognised."
)
MSG_OUTSIDE_PERIOD = N_(
    "{phase} counts only initiatives recognised from {counts_from} to {counts_until}; "
    "this one was recognised on {recognized_on}."
)
MSG_OUTSIDE_PERIODS = N_(
    "{phase} counts only initiatives recognised in these periods: {periods}; "
    "this one was recognised on {recognized_on}."
)


@rule("V", "submitted_at")
def submission_window(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """V: submissions are accepted only inside a phase's window (opens ≤ t < closes)."""
    moment = record.submitted_at
    if moment is None:
        yield _found("V", MSG_SUBMITTED_MISSING)
    elif campaign.phase_open_at(moment) is None:
        upcoming = campaign.next_phase_after(moment)
        if upcoming is not None:
            yield _found(
                "V",
                MSG_NOT_OPEN,
                submitted=moment.astimezone(campaign.tz),
                phase=upcoming.name,
                opens=upcoming.opens,
            )
        else:
            yield _found("V", MSG_ENDED, last_day=campaign.phases[-1].last_day)


def _recognised_after_submission(record: InitiativeRecord, campaign: Campaign) -> bool:
    return (
        record.recognized_on is not None
        and record.submitted_at is not None
        and record.recognized_on > campaign.local_date(record.submitted_at)
    )


@rule("V", "submitted_at", "recognized_on")
def recognised_before_submission(
    record: InitiativeRecord, campaign: Campaign
) -> Iterator[Finding]:
    """II.4, V: an initiative is entered after its recognition, not before."""
    if _recognised_after_submission(record, campaign):
        assert record.submitted_at is not None
        yield _found(
            "V",
            MSG_RECOGNISED_AFTER_SUBMISSION,
            recognized_on=record.recognized_on,
            submitted_on=campaign.local_date(record.submitted_at),
        )


@rule("V", "submitted_at", "recognized_on")
def recognition_counts_in_phase(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """V: a phase counts initiatives recognised in its own period (the campaign's
    ``accept_earlier_recognition`` adds earlier phases' periods)."""
    phase = _submitted_phase(record, campaign)
    day = record.recognized_on
    if phase is None or day is None or _recognised_after_submission(record, campaign):
        return  # no window, no date, or already reported as a future recognition
    periods = campaign.counting_periods(phase)
    if any(day in period for period in periods):
        return
    if len(periods) == 1:
        yield _found(
            "V",
            MSG_OUTSIDE_PERIOD,
            phase=phase.name,
            counts_from=periods[0].start,
            counts_until=periods[0].end,
            recognized_on=day,
        )
    else:
        yield _found(
            "V", MSG_OUTSIDE_PERIODS, phase=phase.name, periods=periods, recognized_on=day
        )


# --- IV.1: the kinds ---------------------------------------------------------------------

MSG_KIND_MISSING = N_("The kind of initiative is missing; choose one of: {kinds}.")
MSG_KIND_NOT_OFFERED = N_("This campaign does not accept initiatives of the kind “{kind}”.")
MSG_NO_SUB_KINDS = N_("{kind} has no sub-kinds, so “{sub_kind}” does not apply.")
MSG_SUB_KIND_UNKNOWN = N_("“{sub_kind}” is not a sub-kind of {kind}; choose one of: {choices}.")
MSG_LEVEL_MISSING = N_("A research topic must give its level: {levels}.")
MSG_LEVEL_NOT_OFFERED = N_("This campaign accepts research topics at these levels only: {levels}.")
MSG_LEVEL_NOT_RESEARCH = N_("A research level applies only to research topics, not to “{kind}”.")


@rule("IV.1", "kind")
def kind_offered(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.1: the initiative is one of the campaign's kinds."""
    if record.kind is None:
        yield _found("IV.1", MSG_KIND_MISSING, kinds=tuple(k.name for k in campaign.kinds))
    elif campaign.kind(record.kind) is None:
        yield _found("IV.1", MSG_KIND_NOT_OFFERED, kind=str(record.kind))


@rule("IV.1", "kind", "sub_kind")
def sub_kind_fits(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.1.1–IV.1.3: a sub-kind, when given, is one of its kind's."""
    kind = campaign.kind(record.kind) if record.kind else None
    if kind is None or record.sub_kind is None or _blank(record.sub_kind):
        return
    if not kind.sub_kinds:
        yield _found(kind.section, MSG_NO_SUB_KINDS, kind=kind.name, sub_kind=record.sub_kind)
    elif kind.sub_kind(record.sub_kind) is None:
        yield _found(
            kind.section,
            MSG_SUB_KIND_UNKNOWN,
            sub_kind=record.sub_kind,
            kind=kind.name,
            choices=tuple(s.name for s in kind.sub_kinds),
        )


@rule("IV.1.7", "kind", "research_level")
def research_level_given(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.1.7: a research topic is at province or ministry/sector level; others have none."""
    levels = tuple(level.name for level in campaign.research_levels)
    if record.kind == KindCode.RESEARCH:
        if record.research_level is None:
            yield _found("IV.1.7", MSG_LEVEL_MISSING, levels=levels)
        elif campaign.research_level(record.research_level) is None:
            yield _found("IV.1.7", MSG_LEVEL_NOT_OFFERED, levels=levels)
    elif record.kind is not None and record.research_level is not None:
        yield _found("IV.1.7", MSG_LEVEL_NOT_RESEARCH, kind=_kind_name(record, campaign))


# --- IV.2.1: new in the unit and recognised ----------------------------------------------

MSG_NOVELTY_MISSING = N_(
    "It is not stated whether the initiative is new within its own agency, unit or enterprise."
)
MSG_NOT_NOVEL = N_("The initiative must be new within its own agency, unit or enterprise.")
MSG_RECOGNISER_MISSING = N_(
    "It is not stated who recognised the initiative: the unit's Initiative Council or its head."
)
MSG_NOT_RECOGNISED = N_(
    "The initiative must first be recognised by its unit's Initiative Council or head; "
    "an initiative not recognised by a competent level cannot take part."
)
MSG_RECOGNITION_DATE_MISSING = N_(
    "The date of recognition is missing; it decides which phase the initiative counts in."
)


@rule("IV.2.1", "novel_in_unit")
def new_in_unit(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.1: new within the applicant's own agency, unit or enterprise."""
    if record.novel_in_unit is None:
        yield _found("IV.2.1", MSG_NOVELTY_MISSING)
    elif not record.novel_in_unit:
        yield _found("IV.2.1", MSG_NOT_NOVEL)


@rule("IV.2.1", "recognized_by")
def recognised_by_council_or_head(
    record: InitiativeRecord, campaign: Campaign
) -> Iterator[Finding]:
    """IV.2.1 (and IV.3's "not recognised by a competent level"): council or head."""
    if record.recognized_by is None:
        yield _found("IV.2.1", MSG_RECOGNISER_MISSING)
    elif record.recognized_by == Recognizer.NONE:
        yield _found("IV.2.1", MSG_NOT_RECOGNISED)


@rule("IV.2.1", "recognized_by", "recognized_on")
def recognition_dated(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.1, V: a recognition has a date, which decides the counting period."""
    recognised = record.recognized_by in (Recognizer.COUNCIL, Recognizer.HEAD)
    if recognised and record.recognized_on is None:
        yield _found("IV.2.1", MSG_RECOGNITION_DATE_MISSING)


# --- IV.2.2: applied, with a practical benefit -------------------------------------------

MSG_APPLICATION_MISSING = N_("It is not stated whether the initiative is applied in its unit.")
MSG_NOT_APPLIED = N_("The initiative must be applied, or at least trial-applied, in its unit.")
MSG_APPLIED_DATE_MISSING = N_("The date the initiative was put into use is missing.")
MSG_APPLIED_AFTER_SUBMISSION = N_(
    "The initiative was put into use on {applied_on}, after it was submitted on "
    "{submitted_on}; it must already be applied when it is submitted."
)
MSG_BENEFIT_MISSING = N_(
    "Describe at least one practical benefit: economic (productivity, lower cost, better "
    "quality) or social (safety, working conditions, environment, health, awareness)."
)


@rule("IV.2.2", "application")
def applied_in_unit(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.2: applied or trial-applied in the unit."""
    if record.application is None:
        yield _found("IV.2.2", MSG_APPLICATION_MISSING)
    elif record.application == Application.NONE:
        yield _found("IV.2.2", MSG_NOT_APPLIED)


@rule("IV.2.2", "application", "applied_on")
def application_dated(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.2, IV.3: an application has a date (the exclusion period is checked on it)."""
    applied = record.application in (Application.APPLIED, Application.TRIAL)
    if applied and record.applied_on is None:
        yield _found("IV.2.2", MSG_APPLIED_DATE_MISSING)


@rule("IV.2.2", "applied_on", "submitted_at")
def applied_before_submission(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.2: "đã được áp dụng" — already in use when submitted."""
    if record.applied_on is None or record.submitted_at is None:
        return
    submitted_on = campaign.local_date(record.submitted_at)
    if record.applied_on > submitted_on:
        yield _found(
            "IV.2.2",
            MSG_APPLIED_AFTER_SUBMISSION,
            applied_on=record.applied_on,
            submitted_on=submitted_on,
        )


@rule("IV.2.2", "economic_benefit", "social_benefit")
def practical_benefit(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.2: an economic and/or a social benefit."""
    if _blank(record.economic_benefit) and _blank(record.social_benefit):
        yield _found("IV.2.2", MSG_BENEFIT_MISSING)


# --- IV.2.3: research topics -------------------------------------------------------------

MSG_ACCEPTED_MISSING = N_("The date the research topic was accepted (nghiệm thu) is missing.")
MSG_ACCEPTED_TOO_EARLY = N_(
    "The research topic was accepted on {accepted_on}; only topics accepted on or after "
    "{since} count."
)
MSG_RESEARCH_APPLIED_TOO_EARLY = N_(
    "The research topic was put into use on {applied_on}; only topics applied on or after "
    "{since} count."
)
MSG_EFFECT_MISSING = N_(
    "It is not stated whether the head of the unit applying the research topic has confirmed "
    "its effect."
)
MSG_EFFECT_NOT_CONFIRMED = N_(
    "The head of the unit where the research topic is applied must confirm its economic and "
    "social effect."
)


@rule("IV.2.3", "kind", "research_accepted_on")
def research_accepted(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.3: a research topic accepted (nghiệm thu) since the campaign's research date."""
    if record.kind != KindCode.RESEARCH:
        return
    if record.research_accepted_on is None:
        yield _found("IV.2.3", MSG_ACCEPTED_MISSING)
    elif record.research_accepted_on < campaign.research_since:
        yield _found(
            "IV.2.3",
            MSG_ACCEPTED_TOO_EARLY,
            accepted_on=record.research_accepted_on,
            since=campaign.research_since,
        )


@rule("IV.2.3", "kind", "applied_on")
def research_applied(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.3: a research topic applied since the research date.

    A date before the whole application period is IV.3's exclusion, reported there once.
    """
    day = record.applied_on
    if record.kind != KindCode.RESEARCH or day is None:
        return
    if day < campaign.research_since and day in campaign.application_period:
        yield _found(
            "IV.2.3", MSG_RESEARCH_APPLIED_TOO_EARLY, applied_on=day, since=campaign.research_since
        )


@rule("IV.2.3", "kind", "effect_confirmed_by_head")
def research_effect_confirmed(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.3: effect confirmed by the head of the unit where the topic is applied."""
    if record.kind != KindCode.RESEARCH:
        return
    if record.effect_confirmed_by_head is None:
        yield _found("IV.2.3", MSG_EFFECT_MISSING)
    elif not record.effect_confirmed_by_head:
        yield _found("IV.2.3", MSG_EFFECT_NOT_CONFIRMED)


# --- IV.2.4: authorship ------------------------------------------------------------------

MSG_AUTHORS_MISSING = N_("List at least one author, with their contribution share.")
MSG_SHARE_NOT_POSITIVE = N_("The contribution share of {name} must be more than 0 %.")
MSG_SHARES_TOTAL = N_("The contribution shares add up to {total} %; they must add up to 100 %.")
MSG_SEVERAL_LEADS = N_("Only one author can be the topic lead; {names} are all marked as lead.")
MSG_TIE = N_(
    "{names} share the highest contribution ({share} %) and nobody is marked as the topic "
    "lead: decide who is credited with the initiative."
)


@rule("IV.2.4", "authors")
def authorship(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.2.4: shares in percent adding up to 100, at most one topic lead."""
    authors = record.authors
    if not authors:
        yield _found("IV.2.4", MSG_AUTHORS_MISSING)
        return
    for author in authors:
        if author.share <= 0:
            yield _found("IV.2.4", MSG_SHARE_NOT_POSITIVE, name=author.name)
    total = sum((a.share for a in authors), Decimal(0))
    if abs(total - SHARE_TOTAL) > SHARE_TOLERANCE:
        yield _found("IV.2.4", MSG_SHARES_TOTAL, total=total)
    leads = tuple(a.name for a in authors if a.lead)
    if len(leads) > 1:
        yield _found("IV.2.4", MSG_SEVERAL_LEADS, names=leads)


def credit(authors: Sequence[Author] | None) -> tuple[str | None, tuple[str, ...]]:
    """IV.2.4: who is credited, and the authors tied for the highest share if nobody is.

    The topic lead when exactly one is marked; otherwise the single highest share. Several
    leads (a problem of its own) credit nobody; a tie with no lead is for the officer.
    """
    if not authors:
        return None, ()
    leads = [a for a in authors if a.lead]
    if leads:
        return (leads[0].name, ()) if len(leads) == 1 else (None, ())
    top = max(a.share for a in authors)
    tied = tuple(a.name for a in authors if a.share == top)
    return (tied[0], ()) if len(tied) == 1 else (None, tied)


# --- IV.3: exclusions --------------------------------------------------------------------

MSG_APPLIED_OUTSIDE_PERIOD = N_(
    "The initiative was put into use on {applied_on}, outside the period {period}, so it "
    "cannot take part."
)
MSG_IP_MISSING = N_(
    "It is not stated whether the initiative is under intellectual-property protection."
)
MSG_IP_PROTECTED = N_(
    "The initiative is under intellectual-property protection by law, so it cannot take part."
)
MSG_PUBLIC_ORDER = N_("Check that the content is not contrary to public order or social ethics.")


@rule("IV.3", "applied_on")
def applied_within_period(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.3: excluded if put into use outside the application period."""
    day = record.applied_on
    if day is not None and day not in campaign.application_period:
        yield _found(
            "IV.3", MSG_APPLIED_OUTSIDE_PERIOD, applied_on=day, period=campaign.application_period
        )


@rule("IV.3", "ip_protected")
def not_ip_protected(record: InitiativeRecord, campaign: Campaign) -> Iterator[Finding]:
    """IV.3: excluded if currently under intellectual-property protection."""
    if record.ip_protected is None:
        yield _found("IV.3", MSG_IP_MISSING)
    elif record.ip_protected:
        yield _found("IV.3", MSG_IP_PROTECTED)


# --- the verdict -------------------------------------------------------------------------


def findings_by(
    record: InitiativeRecord, campaign: Campaign, rules: Iterable[Rule]
) -> list[Finding]:
    """What ``rules`` find wrong with the record."""
    return [finding for r in rules for finding in r.check(record, campaign)]


def check(record: InitiativeRecord, campaign: Campaign) -> Verdict:
    """Every rule on a (supposedly complete) record: all problems, officer checks, credit."""
    problems = findings_by(record, campaign, RULES)
    phase = _submitted_phase(record, campaign)
    credited, tied = credit(record.authors)
    officer = [_found("IV.3", MSG_PUBLIC_ORDER)]
    if tied:
        top = max(a.share for a in record.authors or ())
        officer.append(_found("IV.2.4", MSG_TIE, names=tied, share=top))
    return Verdict(
        eligible=not problems,
        phase=phase.number if phase else None,
        credited_author=credited,
        problems=tuple(problems),
        officer_checks=tuple(officer),
    )


def early_findings(
    record: InitiativeRecord,
    campaign: Campaign,
    answered: frozenset[str],
    touching: frozenset[str] | None = None,
) -> list[Finding]:
    """Problems from :func:`early_rules` (a draft in progress).

    A field in ``answered`` whose value is still ``None`` counts as answered "unknown", so
    its rule reports it missing. Officer checks are left to :func:`check`.
    """
    return findings_by(record, campaign, early_rules(answered, touching))


def early_rules(answered: frozenset[str], touching: frozenset[str] | None = None) -> list[Rule]:
    """The rules whose fields are all in ``answered``; with ``touching``, only those reading
    one of those fields (what an answer changed: no other rule's verdict changed with it)."""
    return [
        r
        for r in RULES
        if r.fields <= answered and (touching is None or not r.fields.isdisjoint(touching))
    ]
