"""Personal reminders, on or off (``/reminders``, ``/reminders off``, ``/reminders on``).

Everyone may stop the reminders the bot sends of its own accord (drafts left, changes asked,
the officers' daily digest, the nudge to unions with no initiative) and turn them on again.
Answers to what a person did (an outcome, an approval prompt) are not reminders and still come.
"""

from __future__ import annotations

from conversations.flows.common import go_to_menu
from conversations.i18n import _
from conversations.messages import Option
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn

# ``/reminders tắt`` works too: the argument is folded (no diacritics) before the lookup.
ON_WORDS = frozenset({"on", "bat"})
OFF_WORDS = frozenset({"off", "tat"})


async def _reminders_off(turn: Turn) -> bool:
    if turn.conv.person_id is None:
        return False
    person = await turn.uow.conversations.person(turn.conv.person_id)
    return person is not None and person.reminders_off


async def _prompt(turn: Turn) -> Prompt:
    if await _reminders_off(turn):
        text = _("🔕 Your reminders are off: I only write when something happens to you.")
        options = [Option("on", _("🔔 Turn reminders on"))]
    else:
        text = _(
            "🔔 Your reminders are on: I remind you of drafts left unsent, of changes your "
            "union asked for and of deadlines (never at night, except on a phase's last day)."
        )
        options = [Option("off", _("🔕 Turn reminders off"))]
    options.append(Option("menu", _("↩️ Back to the menu")))
    return Prompt(text, options, free_text=False)


async def _handle(turn: Turn, answer: Answer) -> None:
    if answer.choice in ("on", "off"):
        await set_reminders(turn, off=answer.choice == "off")
    await go_to_menu(turn)


async def set_reminders(turn: Turn, *, off: bool) -> None:
    """Switch the person's reminders and say so."""
    if turn.conv.person_id is None:
        return
    await turn.uow.conversations.set_reminders_off(turn.conv.person_id, off)
    if off:
        turn.say(_("🔕 Reminders are off. Turn them back on with /reminders on."))
    else:
        turn.say(_("🔔 Reminders are on. Turn them off with /reminders off."))


REMINDERS = Flow("reminders", {"choose": StepSpec(_prompt, _handle)})
