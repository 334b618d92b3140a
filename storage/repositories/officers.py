"""Officers, the units they review for, and the invites that make someone one.

An invite is used once, however many people try its code at the same moment; adding an
officer who is already there changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from conversations.ports import Invite, Officer
from storage.models import invites, officers, people
from storage.repositories._common import _InsertOnce

_ADD_OFFICER = _InsertOnce(officers)
_REMOVE_OFFICER = delete(officers).where(
    officers.c.person_id == bindparam("b_person_id"),
    officers.c.unit_code == bindparam("b_unit_code"),
)
_UNITS_OF = (
    select(officers.c.unit_code)
    .where(officers.c.person_id == bindparam("b_person_id"))
    .order_by(officers.c.unit_code)
)
_ALL_OFFICERS = (
    select(officers.c.person_id, officers.c.unit_code, people.c.display_name, people.c.locale)
    .select_from(officers.join(people, people.c.id == officers.c.person_id))
    .order_by(officers.c.unit_code, officers.c.person_id)
)
_OFFICERS_OF_UNITS = _ALL_OFFICERS.where(
    officers.c.unit_code.in_(bindparam("b_units", expanding=True))
)
_INSERT_INVITE = insert(invites)
_GET_INVITE = select(invites).where(invites.c.code == bindparam("b_code"))
_USE_INVITE = update(invites).where(
    invites.c.code == bindparam("b_code"), invites.c.used_by.is_(None)
)


def _officers(rows: Iterable[Row[*tuple[Any, ...]]]) -> list[Officer]:
    return [
        Officer(
            person_id=row.person_id,
            unit_code=row.unit_code,
            display_name=row.display_name,
            locale=row.locale,
        )
        for row in rows
    ]


class SqlOfficerRepository:
    """``OfficerRepository`` over one connection of the unit of work.

    Lists come in unit code order, then person id. Whether an invite has expired is the
    caller's to judge (``Invite.expires_at``): ``use_invite`` only makes sure it is used once.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, person_id: int, unit_code: str, at: datetime) -> bool:
        return await _ADD_OFFICER(
            self._connection, {"person_id": person_id, "unit_code": unit_code, "added_at": at}
        )

    async def remove(self, person_id: int, unit_code: str) -> bool:
        result = await self._connection.execute(
            _REMOVE_OFFICER, {"b_person_id": person_id, "b_unit_code": unit_code}
        )
        return result.rowcount == 1

    async def units_of(self, person_id: int) -> list[str]:
        result = await self._connection.execute(_UNITS_OF, {"b_person_id": person_id})
        return [str(code) for code in result.scalars()]

    async def of_units(self, unit_codes: Sequence[str]) -> list[Officer]:
        result = await self._connection.execute(_OFFICERS_OF_UNITS, {"b_units": list(unit_codes)})
        return _officers(result)

    async def all(self) -> list[Officer]:
        return _officers(await self._connection.execute(_ALL_OFFICERS))

    async def add_invite(self, invite: Invite) -> None:
        await self._connection.execute(
            _INSERT_INVITE,
            {
                "code": invite.code,
                "unit_code": invite.unit_code,
                "created_by": invite.created_by,
                "created_at": invite.created_at,
                "expires_at": invite.expires_at,
                "used_by": invite.used_by,
                "used_at": invite.used_at,
            },
        )

    async def get_invite(self, code: str) -> Invite | None:
        row = (await self._connection.execute(_GET_INVITE, {"b_code": code})).first()
        if row is None:
            return None
        return Invite(
            code=row.code,
            unit_code=row.unit_code,
            created_by=row.created_by,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_by=row.used_by,
            used_at=row.used_at,
        )

    async def use_invite(self, code: str, person_id: int, at: datetime) -> bool:
        result = await self._connection.execute(
            _USE_INVITE, {"b_code": code, "used_by": person_id, "used_at": at}
        )
        return result.rowcount == 1
