"""What the union groups hear without anyone typing it: the campaign's own notices (a phase
opens, days left, the last day, the phase closed with the unit's result), the weekly nudge to
grassroots unions with no initiative yet, the card of an approved initiative its author agreed
to share (plan II.4), and the weekly round-up of a district's approved initiatives.

Every notice is written to the groups' outbox under a unique key
(``campaign:phase:notice:g<group>``), so running this twice, in two processes or after a
restart, writes nothing twice; the couriers deliver it after the commit. Texts are rendered in
each group's language and end with what to do, with a button that opens the bot.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from conversations.campaign import Campaign, Phase
from conversations.commands import JOIN_PREFIX, OPEN_NEW
from conversations.i18n import _, format_datetime, ngettext, using_locale
from conversations.ports import (
    Group,
    StoredInitiative,
    Unit,
    UnitDirectory,
    UnitLevel,
    UnitOfWork,
)
from conversations.schedule import (
    COUNTDOWN,
    LAST_DAY,
    OPENING,
    Moment,
    group_moments,
    nudge_moments,
    roundup_week,
)

CAMPAIGN_NOTICE = "campaign"
NUDGE_NOTICE = "nudge"
PUBLICITY = "publicity"
ROUNDUP = "roundup"
ROUNDUP_LINES = 10


# A notice's text for one group, in the current locale; None to send that group nothing.
Render = Callable[[Group], Awaitable[str | None]]


def all_grassroots(units: UnitDirectory) -> list[str]:
    return [u.code for root in units.roots for u in units.grassroots_under(root.code)]


def start_link(unit: Unit | None) -> str:
    """The deep link under a group's notice: a grassroots group's link also joins its union."""
    if unit is not None and unit.level is UnitLevel.GRASSROOTS:
        return f"{JOIN_PREFIX}{unit.code}"
    return OPEN_NEW


def call_to_action() -> str:
    return _(
        "👉 Tap the button below (or write /new to me in a private chat): I ask about the "
        "initiative one question at a time and check it against the program's conditions."
    )


def _closes(campaign: Campaign, phase: Phase) -> str:
    return format_datetime(phase.last_minute, str(campaign.tz))


def _days_left(campaign: Campaign, phase: Phase, now: datetime) -> int:
    return max(campaign.days_left(phase, now), 0)


class PhaseResults:
    """What each union sent in a phase: one query, however many groups ask."""

    def __init__(self, uow: UnitOfWork, units: UnitDirectory, phase: Phase) -> None:
        self._uow, self._units, self._phase = uow, units, phase
        self._by_unit: dict[str, tuple[int, int]] | None = None

    async def _counts(self) -> dict[str, tuple[int, int]]:
        if self._by_unit is None:
            self._by_unit = await self._uow.initiatives.sent_by_unit(
                self._phase.opens, self._phase.closes
            )
        return self._by_unit

    async def of(self, code: str) -> tuple[int, int]:
        """Sent and approved, over the grassroots unions under ``code`` (itself if one)."""
        counts = await self._counts()
        pairs = [counts.get(u.code, (0, 0)) for u in self._units.grassroots_under(code)]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)

    async def without_any(self, codes: Sequence[str]) -> list[str]:
        """Of these grassroots unions, the ones with no initiative sent in the phase."""
        counts = await self._counts()
        return [code for code in codes if counts.get(code, (0, 0))[0] == 0]


async def _result_text(
    campaign: Campaign, units: UnitDirectory, unit: Unit, results: PhaseResults
) -> str:
    sent, approved = await results.of(unit.code)
    lines = [
        _("Result of {unit}: {sent} sent, {approved} approved.").format(
            unit=unit.name, sent=sent, approved=approved
        )
    ]
    if unit.level is UnitLevel.GRASSROOTS:
        # II.3 asks every grassroots union for at least this many; a unit's own target in the
        # units file is for the whole program, not one phase.
        target = campaign.targets.per_grassroots_unit
        if target:
            lines.append(
                _("✅ Target met (at least {target}).").format(target=target)
                if sent >= target
                else _("Target not met yet: at least {target} per grassroots union.").format(
                    target=target
                )
            )
    else:
        grassroots = [u.code for u in units.grassroots_under(unit.code)]
        missing = await results.without_any(grassroots)
        lines.append(
            _("{covered} of {total} grassroots unions sent at least one initiative.").format(
                covered=len(grassroots) - len(missing), total=len(grassroots)
            )
        )
    return "\n".join(lines)


async def _moment_text(
    campaign: Campaign,
    units: UnitDirectory,
    moment: Moment,
    group: Group,
    now: datetime,
    results: PhaseResults,
) -> str:
    phase, unit = moment.phase, units.get(group.unit_code)
    name, closes = phase.name.get(), _closes(campaign, phase)
    if moment.kind == OPENING:
        text = _("📢 {phase} is open: initiatives are accepted until {closes}.").format(
            phase=name, closes=closes
        )
    elif moment.kind == COUNTDOWN:
        days = _days_left(campaign, phase, now)
        text = ngettext(
            "⏳ {days} day left to send initiatives for {phase} (until {closes}).",
            "⏳ {days} days left to send initiatives for {phase} (until {closes}).",
            days,
        ).format(days=days, phase=name, closes=closes)
    elif moment.kind == LAST_DAY:
        text = _(
            "⏰ Today is the last day of {phase}: initiatives are accepted until {closes}. "
            "A draft not sent by then does not count."
        ).format(phase=name, closes=closes)
    else:
        text = _("🏁 {phase} has closed.").format(phase=name)
        if unit is not None:
            text += "\n" + await _result_text(campaign, units, unit, results)
        upcoming = campaign.next_phase_after(phase.closes - timedelta(microseconds=1))
        if upcoming is not None:
            text += "\n" + _("{phase} opens at {opens}.").format(
                phase=upcoming.name.get(), opens=format_datetime(upcoming.opens, str(campaign.tz))
            )
            return text + "\n" + call_to_action()
        return text + "\n" + _("Thank you to everyone who took part.")
    return text + "\n" + call_to_action()


async def _fan_out(
    uow: UnitOfWork,
    units: UnitDirectory,
    groups: Sequence[Group],
    prefix: str,
    kind: str,
    now: datetime,
    render: Render,
) -> int:
    """One notice per group under ``prefix + g<id>``, skipping the ones already written."""
    done = await uow.groups.keys_starting(prefix)
    written = 0
    for group in groups:
        key = f"{prefix}g{group.id}"
        if key in done:
            continue
        with using_locale(group.locale):
            text = await render(group)
        if text is None:
            continue
        unit = units.get(group.unit_code)
        if await uow.groups.add_notice(
            group_id=group.id, text=text, at=now, kind=kind, key=key, link=start_link(unit)
        ):
            written += 1
    return written


async def announce_moments(
    uow: UnitOfWork, campaign: Campaign, units: UnitDirectory, now: datetime
) -> int:
    """The campaign notices due now, to every active group."""
    due = [m for m in group_moments(campaign) if m.is_due(now)]
    if not due:
        return 0
    groups = await uow.groups.all_active()
    written = 0
    for moment in due:
        results = PhaseResults(uow, units, moment.phase)

        async def render(
            group: Group, moment: Moment = moment, results: PhaseResults = results
        ) -> str:
            return await _moment_text(campaign, units, moment, group, now, results)

        written += await _fan_out(
            uow, units, groups, moment.key(campaign), CAMPAIGN_NOTICE, now, render
        )
    return written


async def nudge_groups(
    uow: UnitOfWork, campaign: Campaign, units: UnitDirectory, now: datetime
) -> tuple[int, list[tuple[Moment, list[str]]]]:
    """The weekly nudge of a phase's last month to the groups of grassroots unions with no
    initiative sent yet. Also gives, per due nudge, those unions (their officers are nudged
    personally by the reminders)."""
    written = 0
    quiet_units: list[tuple[Moment, list[str]]] = []
    for moment in (m for m in nudge_moments(campaign) if m.is_due(now)):
        results = PhaseResults(uow, units, moment.phase)
        missing = await results.without_any(all_grassroots(units))
        quiet_units.append((moment, missing))
        without = set(missing)
        groups = [g for g in await uow.groups.all_active() if g.unit_code in without]

        async def render(group: Group, moment: Moment = moment) -> str:
            return nudge_text(campaign, units, moment.phase, group.unit_code, now)

        written += await _fan_out(
            uow, units, groups, moment.key(campaign), NUDGE_NOTICE, now, render
        )
    return written, quiet_units


def nudge_text(
    campaign: Campaign,
    units: UnitDirectory,
    phase: Phase,
    unit_code: str,
    now: datetime,
    *,
    to_officer: bool = False,
) -> str:
    unit = units.get(unit_code)
    days = _days_left(campaign, phase, now)
    text = ngettext(
        "💡 {unit} has no initiative yet in {phase}, and {days} day is left. Every "
        "grassroots union is asked for at least one (plan II.3): a better way of doing "
        "a task, a saving, a safer workplace all count.",
        "💡 {unit} has no initiative yet in {phase}, and {days} days are left. Every "
        "grassroots union is asked for at least one (plan II.3): a better way of doing "
        "a task, a saving, a safer workplace all count.",
        days,
    ).format(unit=unit.name if unit else unit_code, phase=phase.name.get(), days=days)
    if to_officer:
        return (
            text
            + "\n"
            + _(
                "👉 Ask your members: anyone can write an initiative with me; they find the "
                "union by its code {code}."
            ).format(code=unit_code)
        )
    return text + "\n" + call_to_action()


def initiative_card(campaign: Campaign, units: UnitDirectory, item: StoredInitiative) -> str:
    """The short public card of an approved initiative: name, union, kind, how it came about
    and its benefit — nothing personal beyond the union."""
    record = item.record
    unit = units.get(item.unit_code)
    kind = campaign.kind(str(record.get("kind") or ""))
    lines = [
        _("🌟 A new approved initiative: “{title}”").format(title=record.get("title") or ""),
        _("Union: {unit}").format(unit=unit.name if unit else item.unit_code),
    ]
    if kind is not None:
        lines.append(_("Kind: {kind}").format(kind=kind.name.get()))
    if record.get("origin"):
        lines.append(_("How it came about: {origin}").format(origin=record["origin"]))
    benefits = [
        str(b) for b in (record.get("economic_benefit"), record.get("social_benefit")) if b
    ]
    if benefits:
        lines.append(_("Benefit: {benefit}").format(benefit="; ".join(benefits)))
    return "\n".join(lines)


async def publicise(
    uow: UnitOfWork,
    campaign: Campaign,
    units: UnitDirectory,
    item: StoredInitiative,
    now: datetime,
) -> int:
    """An approved initiative whose author agreed goes to its union's groups, once."""
    if item.record.get("publish") is not True:
        return 0
    groups = await uow.groups.active_in_units([item.unit_code])

    async def render(group: Group) -> str:
        return initiative_card(campaign, units, item) + "\n" + call_to_action()

    return await _fan_out(uow, units, groups, f"approved:{item.id}:", PUBLICITY, now, render)


async def round_up(
    uow: UnitOfWork, campaign: Campaign, units: UnitDirectory, now: datetime
) -> int:
    """Each week, the initiatives approved (and agreed to be shared) in a district's or
    sector's unions, to that district's groups; nothing when there is nothing new."""
    week = roundup_week(campaign, now)
    if week is None:
        return 0
    shared = [
        item
        for item in await uow.initiatives.approved_between(week.start, week.due)
        if item.record.get("publish") is True
    ]
    if not shared:
        return 0
    above = {item.id: {u.code for u in units.ancestors(item.unit_code)} for item in shared}
    groups = [
        g
        for g in await uow.groups.all_active()
        if (unit := units.get(g.unit_code)) is not None and unit.level is not UnitLevel.GRASSROOTS
    ]

    async def render(group: Group) -> str | None:
        items = [item for item in shared if group.unit_code in above[item.id]]
        if not items:
            return None
        unit = units.get(group.unit_code)
        lines = [
            ngettext(
                "📰 This week in {unit}: {n} initiative approved.",
                "📰 This week in {unit}: {n} initiatives approved.",
                len(items),
            ).format(unit=unit.name if unit else group.unit_code, n=len(items))
        ]
        for item in items[:ROUNDUP_LINES]:
            where = units.get(item.unit_code)
            lines.append(
                f"• “{item.record.get('title') or ''}” – {where.name if where else item.unit_code}"
            )
        if len(items) > ROUNDUP_LINES:
            lines.append(_("… and {n} more.").format(n=len(items) - ROUNDUP_LINES))
        return "\n".join(lines) + "\n" + call_to_action()

    return await _fan_out(uow, units, groups, f"roundup:{week.label}:", ROUNDUP, now, render)
