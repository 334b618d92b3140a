"""Every flow of the bot, by name: the engine routes a person's answer to ``FLOWS[flow]``."""

from __future__ import annotations

from conversations.flows.broadcast import BROADCAST
from conversations.flows.common import MENU
from conversations.flows.mine import MINE
from conversations.flows.officer import INVITE, OFFICER
from conversations.flows.onboarding import ONBOARDING
from conversations.flows.reminders import REMINDERS
from conversations.flows.submission import SUBMISSION
from conversations.turn import Flow

FLOWS: dict[str, Flow] = {
    flow.name: flow
    for flow in (MENU, ONBOARDING, SUBMISSION, MINE, OFFICER, INVITE, BROADCAST, REMINDERS)
}
