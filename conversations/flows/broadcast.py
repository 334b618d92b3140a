"""A district, sector or province officer writes to every group of the unions below them.

::

    TEXT ──the message──▶ CONFIRM (preview, how many groups on which messenger)
                            ├──send──▶ one outbox row per group ─▶ menu (a delivery report
                            │          comes once every group got it or failed)
                            ├──change the text──▶ TEXT
                            └──cancel──▶ menu
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum

from conversations.flows.common import go_to_menu
from conversations.flows.officer import authority
from conversations.groups import may_broadcast
from conversations.i18n import N_, _, ngettext, using_locale
from conversations.messages import Option
from conversations.ports import Group
from conversations.text import has_letters_or_digits
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn

MAX_TEXT = 1500  # leaves room for the heading within Zalo's 2,000 characters
MESSENGER_NAMES = {"telegram": "Telegram", "zalo": "Zalo"}


class Step(StrEnum):
    TEXT = "text"
    CONFIRM = "confirm"


async def _groups(turn: Turn) -> list[Group]:
    return await turn.uow.groups.active_in_units((await authority(turn)).scope())


async def start(turn: Turn) -> None:
    if not may_broadcast(await authority(turn)):
        turn.say(
            _(
                "Only officers of a district, sector or province union can write to the "
                "groups of the unions below them."
            )
        )
        await go_to_menu(turn)
        return
    turn.state.pop("broadcast_text", None)
    await turn.go("broadcast", Step.TEXT, remember=False)


async def _text_prompt(turn: Turn) -> Prompt:
    return Prompt(
        _("Write the message for the groups of your unions (at most {max} characters).").format(
            max=MAX_TEXT
        ),
        [Option("cancel", _("↩️ Cancel"))],
    )


async def _text_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "cancel":
        await go_to_menu(turn)
        return
    if not has_letters_or_digits(answer.text) or len(answer.text) > MAX_TEXT:
        await turn.retry(
            _("Please write a message of 1 to {max} characters.").format(max=MAX_TEXT)
        )
        return
    turn.state["broadcast_text"] = answer.text
    await turn.go("broadcast", Step.CONFIRM)


def _heading(turn: Turn, unit_code: str) -> str:
    unit = turn.units.get(unit_code)
    return _("📣 Message from {unit}:").format(unit=unit.name if unit else unit_code)


async def _confirm_prompt(turn: Turn) -> Prompt:
    groups = await _groups(turn)
    per_messenger = Counter(MESSENGER_NAMES.get(g.channel, g.channel) for g in groups)
    sender_unit = sorted((await authority(turn)).officer_units)[0]
    text = _("This is how the groups will see it:") + "\n\n"
    text += _heading(turn, sender_unit) + "\n\n" + str(turn.state.get("broadcast_text", ""))
    text += "\n\n" + ngettext("It goes to {n} group", "It goes to {n} groups", len(groups)).format(
        n=len(groups)
    )
    if per_messenger:
        text += " (" + ", ".join(f"{name}: {n}" for name, n in sorted(per_messenger.items()))
        text += ")"
    text += "."
    options = [Option("send", _("📣 Send"))] if groups else []
    options += [Option("edit", _("✏️ Change the text")), Option("cancel", _("↩️ Cancel"))]
    return Prompt(text, options, free_text=False)


async def _confirm_handle(turn: Turn, answer: Answer) -> None:
    if answer.choice == "edit":
        await turn.go("broadcast", Step.TEXT, remember=False)
        return
    if answer.choice != "send" or turn.conv.person_id is None:
        turn.state.pop("broadcast_text", None)
        await go_to_menu(turn)
        return
    auth = await authority(turn)
    groups = await _groups(turn)
    if not may_broadcast(auth) or not groups:
        await go_to_menu(turn)
        return
    sender_unit = sorted(auth.officer_units)[0]
    message = str(turn.state.pop("broadcast_text", ""))
    broadcast_id = await turn.uow.groups.add_broadcast(
        person_id=turn.conv.person_id, unit_code=sender_unit, text=message, at=turn.now
    )
    for group in groups:
        with using_locale(group.locale):
            text = _heading(turn, sender_unit) + "\n\n" + message
        await turn.uow.groups.add_notice(
            group_id=group.id, text=text, at=turn.now, kind="broadcast", broadcast_id=broadcast_id
        )
    turn.say(
        ngettext(
            "📣 On its way to {n} group. I will tell you when it has been delivered.",
            "📣 On its way to {n} groups. I will tell you when they have all been delivered.",
            len(groups),
        ).format(n=len(groups))
    )
    await go_to_menu(turn)


BROADCAST = Flow(
    "broadcast",
    {
        Step.TEXT: StepSpec(
            _text_prompt,
            _text_handle,
            help=N_("The message goes to every registered group of the unions below yours."),
        ),
        Step.CONFIRM: StepSpec(_confirm_prompt, _confirm_handle),
    },
    start=start,
)
