"""``python -m bot officers add|remove|list``: an admin names the officers of each union.

``--user MESSENGER:ID`` is a messenger account (``telegram:123456789``, ``console:lan``); the
person need not have written to the bot yet: they are created, and become the officer as soon
as they do.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from storage.unit_of_work import SqlUnitOfWork
from storage.units import load_units

CHANNELS = ("telegram", "zalo", "console")


def parse_account(text: str) -> tuple[str, str] | None:
    channel, sep, external_id = text.partition(":")
    if not sep or channel not in CHANNELS or not external_id.strip():
        return None
    return channel, external_id.strip()


async def run(db: AsyncEngine, action: str, unit: str | None, user: str | None) -> int:
    now = datetime.now(UTC)
    codes = {u.code: u for u in await load_units(db)}
    if action == "list":
        async with SqlUnitOfWork(db) as uow:
            officers = await uow.officers.all()
        if not officers:
            print("no officers yet")
        for officer in sorted(officers, key=lambda o: (o.unit_code, o.person_id)):
            name = codes[officer.unit_code].name if officer.unit_code in codes else "?"
            print(
                f"{officer.unit_code:<12} {name}  person #{officer.person_id} "
                f"{officer.display_name or '(has not written yet)'}"
            )
        return 0
    account = parse_account(user or "")
    if unit is None or account is None:
        print(
            f"usage: officers {action} --unit CODE --user MESSENGER:ID "
            f"(MESSENGER one of {', '.join(CHANNELS)})",
            file=sys.stderr,
        )
        return 2
    unit = unit.strip().upper()
    if unit not in codes:
        print(
            f"no unit {unit!r}: import the organisation first (python -m bot units import)",
            file=sys.stderr,
        )
        return 2
    async with SqlUnitOfWork(db) as uow:
        person = await uow.conversations.ensure_person(*account, now)
        if action == "add":
            changed = await uow.officers.add(person, unit, now)
            message = f"{user} is now an officer of {unit} ({codes[unit].name})"
        else:
            changed = await uow.officers.remove(person, unit)
            message = f"{user} is no longer an officer of {unit}"
        await uow.commit()
    if not changed:
        already = "already" if action == "add" else "not"
        message = f"nothing to do: {user} was {already} an officer of {unit}"
    print(message)
    return 0
