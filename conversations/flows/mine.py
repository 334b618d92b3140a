"""A person's own initiatives: the list, one initiative's card and history, and what to do next.

::

    LIST ──pick #N──▶ ITEM ──draft: continue / delete
      │                 ├──sent back for changes: edit and resubmit
      │                 ├──submitted: withdraw
      │                 └──back to the list
      └──more (pages of 8, newest first)

Every action re-reads the initiative and checks that it belongs to the person asking: the
option codes only say which one was meant, never who may act on it.
"""

from __future__ import annotations

from enum import StrEnum

from conversations.flows import submission
from conversations.flows.common import go_to_menu
from conversations.flows.history import history_lines, status_label
from conversations.i18n import _
from conversations.messages import Option
from conversations.ports import Status, StatusChange, StoredInitiative
from conversations.turn import Answer, Flow, Prompt, StepSpec, Turn

PAGE = 8


class Step(StrEnum):
    LIST = "list"
    ITEM = "item"


def _title(item: StoredInitiative) -> str:
    title = str(item.record.get("title") or _("(no name yet)"))
    return title if len(title) <= 40 else title[:39] + "…"


async def _list_prompt(turn: Turn) -> Prompt:
    person_id = turn.conv.person_id
    items = await turn.uow.initiatives.list_for_person(person_id) if person_id else []
    offset = int(turn.state.get("list_offset", 0))
    if offset >= len(items):
        offset = 0
    page = items[offset : offset + PAGE]
    if not items:
        return Prompt(
            _("You have no initiatives yet."),
            [Option("new", _("✍️ New initiative")), Option("menu", _("🏠 Menu"))],
            free_text=False,
        )
    lines = [_("Your initiatives ({count}):").format(count=len(items))]
    options = []
    for item in page:
        lines.append(f"#{item.id} · {_title(item)} — {status_label(item.status)}")
        options.append(Option(f"i{item.id}", f"#{item.id} {_title(item)}"))
    if offset + PAGE < len(items):
        options.append(Option("more", _("⏭ More")))
    options.append(Option("menu", _("🏠 Menu")))
    lines.append(_("Choose one to open it."))
    return Prompt("\n".join(lines), options, free_text=False)


async def _list_handle(turn: Turn, answer: Answer) -> None:
    choice = answer.choice or ""
    if choice == "more":
        turn.state["list_offset"] = int(turn.state.get("list_offset", 0)) + PAGE
        await turn.ask()
    elif choice == "new":
        await turn.start_flow("submission")
    elif choice.startswith("i") and choice[1:].isdigit():
        turn.state["open_id"] = int(choice[1:])
        await turn.go("mine", Step.ITEM)
    else:
        turn.state.pop("list_offset", None)
        await go_to_menu(turn)


async def _own(turn: Turn) -> StoredInitiative | None:
    """The initiative being looked at, only if it is the person's own."""
    initiative_id = turn.state.get("open_id")
    if initiative_id is None:
        return None
    item = await turn.uow.initiatives.get(int(initiative_id))
    if item is None or item.person_id != turn.conv.person_id:
        return None
    return item


async def _item_prompt(turn: Turn) -> Prompt:
    item = await _own(turn)
    if item is None:
        return Prompt(
            _("That initiative is no longer there."),
            [Option("back", _("⬅️ Back to the list"))],
            free_text=False,
        )
    lines = [
        f"#{item.id} — {status_label(item.status)}",
        "",
        submission.review_card(turn, item.record),
    ]
    history = await history_lines(turn, item)
    if history:
        lines += ["", _("History:"), *history]
    options = []
    if item.status in (Status.DRAFT, Status.NEEDS_CHANGES):
        options.append(Option("resume", _("✏️ Continue writing")))
    if item.status is Status.DRAFT:
        options.append(Option("delete", _("🗑 Delete the draft")))
    if item.status is Status.SUBMITTED:
        options.append(Option("withdraw", _("↩️ Withdraw it")))
    options.append(Option("back", _("⬅️ Back to the list")))
    return Prompt("\n".join(lines), options, free_text=False)


async def _item_handle(turn: Turn, answer: Answer) -> None:
    item = await _own(turn)
    choice = answer.choice
    if item is None or choice == "back":
        await turn.go("mine", Step.LIST, remember=False)
        return
    if choice == "resume" and item.status in (Status.DRAFT, Status.NEEDS_CHANGES):
        turn.state.pop("open_id", None)
        await submission.resume(turn, item.id, item.record, item.status)
    elif choice == "delete" and item.status is Status.DRAFT:
        await turn.uow.initiatives.delete(item.id)
        turn.say(_("Draft #{id} deleted.").format(id=item.id))
        await turn.go("mine", Step.LIST, remember=False)
    elif choice == "withdraw" and item.status is Status.SUBMITTED:
        await turn.uow.initiatives.update(
            item.id,
            status=Status.WITHDRAWN,
            record=item.record,
            verdict=item.verdict,
            at=turn.now,
        )
        await turn.uow.initiatives.record_status(
            StatusChange(item.id, item.status, Status.WITHDRAWN, turn.conv.person_id, turn.now)
        )
        turn.say(_("#{id} withdrawn.").format(id=item.id))
        await turn.go("mine", Step.LIST, remember=False)
    else:
        await turn.retry(_("That can't be done with this initiative any more."))


async def start(turn: Turn) -> None:
    turn.state.pop("list_offset", None)
    await turn.go("mine", Step.LIST, remember=False)


MINE = Flow(
    "mine",
    start=start,
    steps={
        Step.LIST: StepSpec(_list_prompt, _list_handle),
        Step.ITEM: StepSpec(_item_prompt, _item_handle),
    },
)
