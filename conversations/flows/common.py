"""Pieces several flows share: the main menu, the campaign's status line, option helpers."""

from __future__ import annotations

from enum import StrEnum

from conversations.i18n import N_, _, format_datetime, ngettext
from conversations.messages import Option
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn


class MenuStep(StrEnum):
    MAIN = "main"


async def go_to_menu(turn: Turn) -> None:
    """Finish whatever was going on: the way back starts afresh from the menu."""
    turn.forget_history()
    for key in ("return_to", "warn", "open_id", "unit_matches", "join_code"):
        turn.state.pop(key, None)
    await turn.go("menu", MenuStep.MAIN, remember=False)


def campaign_status(turn: Turn) -> str:
    """One line: which phase is open and until when, or when the next one opens."""
    campaign, now = turn.campaign, turn.now
    phase = campaign.phase_open_at(now)
    tz = str(campaign.tz)
    if phase is not None:
        days = campaign.days_left(phase, now)
        left = (
            _("today is the last day")
            if days == 0
            else ngettext("{days} day left", "{days} days left", days).format(days=days)
        )
        return _("{phase} is open until {closes} ({left}).").format(
            phase=phase.name.get(),
            closes=format_datetime(phase.last_minute, tz),
            left=left,
        )
    upcoming = campaign.next_phase_after(now)
    if upcoming is not None:
        return _("Submissions are closed now; {phase} opens at {opens}.").format(
            phase=upcoming.name.get(), opens=format_datetime(upcoming.opens, tz)
        )
    return _("The program has ended: no more submissions are accepted.")


def yes_no_options() -> list[Option]:
    return [Option("yes", _("Yes")), Option("no", _("No"))]


async def _menu_prompt(turn: Turn) -> Prompt:
    unit = turn.units.get(turn.conv.unit_code or "")
    lines = [_("What would you like to do?")]
    if unit is not None:
        lines.append(_("Your union: {unit}").format(unit=unit.name))
    lines.append(campaign_status(turn))
    options = [
        Option("new", _("✍️ New initiative")),
        Option("list", _("📋 My initiatives")),
    ]
    officer_units = (
        await turn.uow.officers.units_of(turn.conv.person_id) if turn.conv.person_id else []
    )
    if officer_units:
        names = [u.name for u in map(turn.units.get, officer_units) if u]
        lines.insert(1, _("You are an officer of: {units}").format(units="; ".join(names)))
        options.append(Option("reviews", _("🗂 Initiatives to review")))
        if any(turn.units.children(code) for code in officer_units):
            options.append(Option("invite", _("✉️ Invite an officer")))
            options.append(Option("broadcast", _("📣 Message to the groups")))
    options += [
        Option("unit", _("🏢 Change my union")),
        Option("lang", _("🌐 Language / Ngôn ngữ")),
        Option("reminders", _("🔔 Reminders")),
    ]
    return Prompt("\n".join(lines), options, free_text=False)


async def _menu_handle(turn: Turn, answer: Answer) -> None:
    match answer.choice:
        case "new":
            await turn.start_flow("submission")
        case "list":
            await turn.start_flow("mine")
        case "unit":
            await turn.go("onboarding", "unit")
        case "reviews":
            await turn.start_flow("officer")
        case "broadcast":
            await turn.start_flow("broadcast")
        case "invite":
            await turn.start_flow("invite")
        case "reminders":
            await turn.start_flow("reminders")
        case "lang":
            turn.state["return_to"] = ["menu", MenuStep.MAIN]
            await turn.go("onboarding", "language", remember=False)


MENU = Flow(
    "menu",
    {
        MenuStep.MAIN: StepSpec(
            _menu_prompt,
            _menu_handle,
            help=N_(
                "Pick what to do next by its number. /new starts a new initiative at any time."
            ),
        )
    },
)
