"""The organisation's units: imported from a CSV file, loaded whole for the in-memory tree.

The file has the header ``code,name,level,parent_code,target``. An import is all or nothing:
every row is checked against the file and the units already stored (levels, parents, codes,
targets, cycles) before anything is written, and a file with any bad row writes nothing and
names each bad row by its line. A re-import updates units in place by code and never deletes
one (people and initiatives point at them).
"""

from __future__ import annotations

import csv
import io
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from conversations.ports import Unit, UnitLevel
from conversations.text import normalise
from storage.models import units

HEADER = ("code", "name", "level", "parent_code", "target")
SAMPLE_UNITS = Path(__file__).resolve().parent / "sample" / "bac_kan_units.csv"
MAX_NAME = 200

# Short enough for a callback payload, plain enough to type on a phone.
_CODE = re.compile(r"[A-Z0-9](?:[A-Z0-9-]{0,30}[A-Z0-9])?")
_DEPTH = {
    UnitLevel.PROVINCE: 0,
    UnitLevel.DISTRICT: 1,
    UnitLevel.SECTOR: 1,
    UnitLevel.GRASSROOTS: 2,
}
_PARENT_LEVELS: dict[UnitLevel, tuple[UnitLevel, ...]] = {
    UnitLevel.PROVINCE: (),
    UnitLevel.DISTRICT: (UnitLevel.PROVINCE,),
    UnitLevel.SECTOR: (UnitLevel.PROVINCE,),
    UnitLevel.GRASSROOTS: (UnitLevel.DISTRICT, UnitLevel.SECTOR),
}


@dataclass(frozen=True, slots=True)
class ImportReport:
    added: int
    updated: int
    unchanged: int


class UnitImportError(ValueError):
    """The file was refused and nothing was written; ``problems`` are ``(line, message)``."""

    def __init__(self, problems: Iterable[tuple[int, str]]) -> None:
        self.problems = sorted(problems)
        lines = "\n".join(f"  line {line}: {message}" for line, message in self.problems)
        super().__init__(f"units file refused, nothing written:\n{lines}")


def _clean_name(raw: str) -> str:
    return " ".join(normalise(raw).split())


def parse_units_csv(text: str) -> list[tuple[int, Unit]]:
    """The units in a CSV text with the line each came from; checks each row on its own.

    Checks needing the whole tree (parents, cycles) are :func:`check_units`'s.
    """
    text = text.removeprefix("\ufeff")
    problems: list[tuple[int, str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if header is None:
        raise UnitImportError([(1, "the file is empty")])
    if tuple(unicodedata.normalize("NFC", cell).strip().lower() for cell in header) != HEADER:
        raise UnitImportError([(1, f"the header must be exactly {','.join(HEADER)}")])
    parsed: list[tuple[int, Unit]] = []
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(HEADER):
            problems.append((line, f"expected {len(HEADER)} columns, found {len(row)}"))
            continue
        raw_code, raw_name, raw_level, raw_parent, raw_target = row
        errors: list[str] = []
        code = raw_code.strip().upper()
        if not _CODE.fullmatch(code):
            errors.append(
                f"code {raw_code.strip()!r} must be 1-32 letters A-Z, digits or inner dashes"
            )
        elif code in first_line:
            errors.append(f"code {code} appears twice (first on line {first_line[code]})")
        else:
            first_line[code] = line
        name = _clean_name(raw_name)
        if not name:
            errors.append("the name is empty")
        elif len(name) > MAX_NAME:
            errors.append(f"the name is longer than {MAX_NAME} characters")
        level_text = raw_level.strip().lower()
        level: UnitLevel | None = None
        try:
            level = UnitLevel(level_text)
        except ValueError:
            allowed = ", ".join(UnitLevel)
            errors.append(f"unknown level {raw_level.strip()!r} (one of {allowed})")
        parent_code = raw_parent.strip().upper() or None
        target_text = raw_target.strip()
        target: int | None = None
        if target_text:
            if re.fullmatch(r"[+-]?\d+", target_text) is None:
                errors.append(f"target {target_text!r} is not a whole number")
            elif (target := int(target_text)) < 0:
                errors.append(f"target {target_text} is negative")
        if errors:
            problems.extend((line, error) for error in errors)
            continue
        assert level is not None
        parsed.append((line, Unit(code, name, level, parent_code, target)))
    if problems:
        raise UnitImportError(problems)
    if not parsed:
        raise UnitImportError([(1, "the file has a header but no units")])
    return parsed


def check_units(rows: list[tuple[int, Unit]], existing: Mapping[str, Unit]) -> None:
    """Check the tree the import would leave: file rows over the stored units.

    A province has no parent; a district's or a sector's parent is a province; a grassroots
    union's parent is a district or a sector. A stored unit whose parent changes level in the
    file is checked too, and blamed on that parent's line.
    """
    problems: list[tuple[int, str]] = []
    merged: dict[str, Unit] = dict(existing)
    lines: dict[str, int] = {}
    for line, unit in rows:
        merged[unit.code] = unit
        lines[unit.code] = line

    def rule(unit: Unit) -> str | None:
        parent_code = unit.parent_code
        if unit.level == UnitLevel.PROVINCE:
            return None if parent_code is None else f"a province has no parent (got {parent_code})"
        if parent_code is None:
            return f"a {unit.level} unit needs a parent_code"
        if parent_code == unit.code:
            return f"{unit.code} is its own parent"
        parent = merged.get(parent_code)
        if parent is None:
            return f"parent {parent_code} is neither in this file nor already stored"
        allowed = _PARENT_LEVELS[unit.level]
        if parent.level not in allowed:
            return (
                f"parent {parent_code} is a {parent.level} unit; a {unit.level} unit's parent "
                f"must be a {' or a '.join(allowed)} unit"
            )
        return None

    for line, unit in rows:
        problem = rule(unit)
        if problem is not None:
            problems.append((line, problem))
    for code, unit in merged.items():
        if code in lines or unit.parent_code not in lines:
            continue
        problem = rule(unit)
        if problem is not None:
            parent_line = lines[unit.parent_code]
            problems.append((parent_line, f"stored unit {code} would break: {problem}"))
    if not problems:
        problems.extend(_cycles(merged, lines))
    if problems:
        raise UnitImportError(problems)


def _cycles(merged: Mapping[str, Unit], lines: Mapping[str, int]) -> list[tuple[int, str]]:
    # The level rules already forbid cycles; this guards the rules' future changes.
    problems: list[tuple[int, str]] = []
    done: set[str] = set()
    for start in merged:
        path: list[str] = []
        code: str | None = start
        while code is not None and code in merged and code not in done:
            if code in path:
                cycle = path[path.index(code) :]
                line = min((lines[c] for c in cycle if c in lines), default=1)
                problems.append((line, f"parents form a cycle: {' → '.join([*cycle, code])}"))
                break
            path.append(code)
            code = merged[code].parent_code
        done.update(path)
    return problems


async def _stored(connection: AsyncConnection) -> dict[str, Unit]:
    result = await connection.execute(
        select(units.c.code, units.c.name, units.c.level, units.c.parent_code, units.c.target)
    )
    return {
        row.code: Unit(row.code, row.name, UnitLevel(row.level), row.parent_code, row.target)
        for row in result
    }


async def import_units_csv(
    engine: AsyncEngine, path: str | os.PathLike[str], *, at: datetime | None = None
) -> ImportReport:
    """Add or update the units in the CSV file at ``path``, all or nothing.

    Raises :class:`UnitImportError` listing every bad row; then nothing was written.
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = parse_units_csv(text)
    when = at or datetime.now(UTC)
    async with engine.begin() as connection:
        stored = await _stored(connection)
        check_units(rows, stored)
        added = [unit for _, unit in rows if unit.code not in stored]
        changed = [unit for _, unit in rows if unit.code in stored and stored[unit.code] != unit]
        # Parents before children, so every foreign key holds at its own statement.
        added.sort(key=lambda unit: _DEPTH[unit.level])
        if added:
            await connection.execute(
                insert(units), [_values(unit) | {"updated_at": when} for unit in added]
            )
        if changed:
            await connection.execute(
                update(units).where(units.c.code == bindparam("b_code")),
                [
                    {**_values(unit, with_code=False), "b_code": unit.code, "updated_at": when}
                    for unit in changed
                ],
            )
    return ImportReport(
        added=len(added), updated=len(changed), unchanged=len(rows) - len(added) - len(changed)
    )


def _values(unit: Unit, *, with_code: bool = True) -> dict[str, object]:
    values: dict[str, object] = {"code": unit.code} if with_code else {}
    values.update(
        name=unit.name, level=unit.level.value, parent_code=unit.parent_code, target=unit.target
    )
    return values


async def load_units(engine: AsyncEngine) -> list[Unit]:
    """Every stored unit, provinces first, then districts and sectors, then grassroots."""
    async with engine.connect() as connection:
        stored = await _stored(connection)
    return sorted(stored.values(), key=lambda unit: (_DEPTH[unit.level], unit.code))


async def count_units(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        result = await connection.execute(select(func.count()).select_from(units))
        return int(result.scalar_one())
