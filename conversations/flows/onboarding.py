"""First contact: choose a language, then join a grassroots union.

::

    (any first message, /start [join-CODE | officer-INVITE])
            │
            ▼
        LANGUAGE ──(return_to set: /lang from elsewhere)──▶ back where they were
            │
            ▼
          UNIT ──code of a grassroots union──▶ joined ─▶ menu
            │  └─name or part of it──▶ PICK (up to 8 matches) ─▶ joined ─▶ menu
            └─a district/sector code──▶ PICK (its grassroots unions)

A join link (``/start join-CD-BB-01``) skips the typing: after the language the person is
joined at once. Only grassroots unions (CĐCS, plan VI.3) take members.
"""

from __future__ import annotations

from enum import StrEnum

from conversations.commands import JOIN_PREFIX, OFFICER_PREFIX
from conversations.flows.common import go_to_menu
from conversations.flows.officer import authority, redeem_invite
from conversations.i18n import LOCALES, N_, _
from conversations.messages import Option
from conversations.ports import Unit, UnitLevel
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn

MAX_MATCHES = 8
LANGUAGE_NAMES = {"vi": "🇻🇳 Tiếng Việt", "en": "🇬🇧 English"}


class Step(StrEnum):
    LANGUAGE = "language"
    UNIT = "unit"
    PICK = "pick"


async def start_onboarding(turn: Turn, join_argument: str = "") -> None:
    """Begin (or resume) onboarding; a ``join-CODE`` argument is remembered until used."""
    if join_argument.lower().startswith(JOIN_PREFIX):
        turn.state["join_code"] = join_argument[len(JOIN_PREFIX) :].strip().upper()
    elif join_argument.lower().startswith(OFFICER_PREFIX):
        turn.state["officer_code"] = join_argument[len(OFFICER_PREFIX) :].strip().upper()
    turn.forget_history()
    if turn.conv.locale is None:
        await turn.go("onboarding", Step.LANGUAGE, remember=False)
    else:
        await _after_language(turn)


async def _after_language(turn: Turn) -> None:
    invitation = turn.state.pop("officer_code", None)
    if invitation:
        await redeem_invite(turn, invitation)
    code = turn.state.pop("join_code", None)
    if code:
        unit = turn.units.get(code)
        if unit is not None and unit.level is UnitLevel.GRASSROOTS:
            await _join(turn, unit)
            return
        turn.say(_("The join link names a union I don't know ({code}).").format(code=code))
    if turn.conv.unit_code is None and not (await authority(turn)).is_officer:
        await turn.go("onboarding", Step.UNIT, remember=False)
    else:
        await go_to_menu(turn)


async def _join(turn: Turn, unit: Unit) -> None:
    turn.conv.unit_code = unit.code
    parent = turn.units.get(unit.parent_code or "")
    where = f"{unit.name} ({parent.name})" if parent else unit.name
    turn.say(_("You are now registered with {unit}.").format(unit=where))
    await go_to_menu(turn)


# ---------------------------------------------------------------------------- LANGUAGE
async def _language_prompt(turn: Turn) -> Prompt:
    text = _("Choose your language / Chọn ngôn ngữ:")
    if turn.conv.person_id is None and not turn.state.get("return_to"):
        text = (
            _(
                "Hello! I am the bot of the program “01 million initiatives” of the trade unions. "
                "I help you register your workplace initiative, check it against the program's "
                "conditions and send it to your union."
            )
            + "\n\n"
            + text
        )
    return Prompt(text, [Option(code, LANGUAGE_NAMES[code]) for code in LOCALES], free_text=False)


async def _language_handle(turn: Turn, answer: Answer) -> None:
    assert answer.choice is not None
    turn.set_locale(answer.choice)
    back_to = turn.state.pop("return_to", None)
    if back_to and turn.conv.unit_code is not None:
        turn.say(_("Language changed."))
        await turn.go(back_to[0], back_to[1], remember=False)
        return
    await _after_language(turn)


# ---------------------------------------------------------------------------- UNIT
async def _unit_prompt(turn: Turn) -> Prompt:
    return Prompt(
        _(
            "Which grassroots union (công đoàn cơ sở) do you belong to? "
            "Type its code (your union officer has it) or part of its name."
        )
    )


async def _unit_handle(turn: Turn, answer: Answer) -> None:
    query = answer.text
    if len(query) < 2:
        await turn.retry(_("Please type at least 2 letters of the code or the name."))
        return
    unit = turn.units.get(query.upper())
    if unit is not None and unit.level is UnitLevel.GRASSROOTS:
        await _join(turn, unit)
        return
    if unit is not None:
        matches = turn.units.grassroots_under(unit.code)[:MAX_MATCHES]
    else:
        matches = turn.units.search(query, level=UnitLevel.GRASSROOTS, limit=MAX_MATCHES)
    if not matches:
        await turn.retry(
            _(
                "No grassroots union matches “{query}”. Check the code with your union officer, "
                "or try another part of the name."
            ).format(query=query)
        )
        return
    turn.state["unit_matches"] = [u.code for u in matches]
    await turn.go("onboarding", Step.PICK)


# ---------------------------------------------------------------------------- PICK
async def _pick_prompt(turn: Turn) -> Prompt:
    units = [u for u in map(turn.units.get, turn.state.get("unit_matches", [])) if u]
    options = [Option(u.code, f"{u.name} ({u.code})") for u in units]
    options.append(Option("again", _("🔍 None of these – search again")))
    return Prompt(_("Is it one of these?"), options)


async def _pick_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "again":
        await turn.go("onboarding", Step.UNIT, remember=False)
        return
    if answer.choice is not None:
        unit = turn.units.get(answer.choice)
        if unit is not None and unit.level is UnitLevel.GRASSROOTS:
            turn.state.pop("unit_matches", None)
            await _join(turn, unit)
            return
    await _unit_handle(turn, answer)  # typed something else: a new search


ONBOARDING = Flow(
    "onboarding",
    {
        Step.LANGUAGE: StepSpec(
            _language_prompt,
            _language_handle,
            help=N_("Pick a language by its number: 1 for Vietnamese, 2 for English."),
        ),
        Step.UNIT: StepSpec(
            _unit_prompt,
            _unit_handle,
            help=N_(
                "Your grassroots union's officer can give you its code or a join link. "
                "You can also type part of its name, e.g. the name of your school, "
                "hospital or company."
            ),
        ),
        Step.PICK: StepSpec(
            _pick_prompt,
            _pick_handle,
            help=N_("Pick your union by its number, or type another name to search again."),
        ),
    },
)
