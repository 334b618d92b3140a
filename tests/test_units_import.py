"""Importing the organisation's units from CSV: all or nothing, upsert by code, never delete."""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from conversations.ports import Unit, UnitLevel
from storage import (
    SAMPLE_UNITS,
    ImportReport,
    UnitImportError,
    count_units,
    create_engine,
    database_url,
    import_units_csv,
    load_units,
    migrate,
)
from storage.models import units as units_table
from storage.units import _cycles

HEADER = "code,name,level,parent_code,target\n"
T0 = datetime(2022, 1, 8, 0, 0, tzinfo=UTC)
T1 = datetime(2022, 6, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = database_url(str(tmp_path / "units.db"))
    await migrate(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


def write(tmp_path: Path, body: str, *, name: str = "units.csv", bom: bool = False) -> Path:
    path = tmp_path / name
    path.write_text(("\ufeff" if bom else "") + body, encoding="utf-8")
    return path


async def by_code(engine: AsyncEngine) -> dict[str, Unit]:
    return {unit.code: unit for unit in await load_units(engine)}


async def test_the_sample_file_loads_the_whole_bac_kan_tree(engine: AsyncEngine) -> None:
    report = await import_units_csv(engine, SAMPLE_UNITS)
    assert report == ImportReport(added=51, updated=0, unchanged=0)
    assert await count_units(engine) == 51
    units = await load_units(engine)
    levels = [unit.level for unit in units]
    assert levels.count(UnitLevel.PROVINCE) == 1
    assert levels.count(UnitLevel.DISTRICT) == 8
    assert levels.count(UnitLevel.SECTOR) == 4
    assert levels.count(UnitLevel.GRASSROOTS) == 38
    province = units[0]
    assert province.code == "LDLD-BK"
    assert province.name == "Liên đoàn Lao động tỉnh Bắc Kạn (dữ liệu mẫu)"
    assert province.target == 700
    assert all(unicodedata.is_normalized("NFC", unit.name) for unit in units)


async def test_reimport_updates_a_changed_name_in_place(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await import_units_csv(engine, SAMPLE_UNITS, at=T0)
    text = SAMPLE_UNITS.read_text(encoding="utf-8")
    old = "Công đoàn cơ sở Trường Mầm non Hoa Sen"
    assert old in text
    changed = text.replace(old, "Công đoàn cơ sở Trường Mầm non Sao Mai")
    changed += "CD-TP-04,Công đoàn cơ sở Phường Đức Xuân,grassroots,LDLD-TP,1\n"
    report = await import_units_csv(engine, write(tmp_path, changed), at=T1)
    assert report == ImportReport(added=1, updated=1, unchanged=50)
    assert await count_units(engine) == 52
    units = await by_code(engine)
    assert units["CD-TP-03"].name == "Công đoàn cơ sở Trường Mầm non Sao Mai"
    async with engine.connect() as connection:
        stamps = dict(
            (await connection.execute(select(units_table.c.code, units_table.c.updated_at))).all()
        )
    assert stamps["CD-TP-03"] == T1
    assert stamps["CD-TP-04"] == T1
    assert stamps["CD-TP-01"] == T0  # unchanged rows are left alone


async def test_reimport_never_deletes(engine: AsyncEngine, tmp_path: Path) -> None:
    await import_units_csv(engine, SAMPLE_UNITS)
    only_one = HEADER + "CD-BB-01,Công đoàn cơ sở UBND huyện Ba Bể,grassroots,LDLD-BB,4\n"
    report = await import_units_csv(engine, write(tmp_path, only_one))
    assert report == ImportReport(added=0, updated=1, unchanged=0)
    assert await count_units(engine) == 51


async def test_a_parent_may_come_later_in_the_file_or_be_stored_already(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    later = (
        HEADER
        + "CS-1,Công đoàn cơ sở Một,grassroots,H-1,\n"
        + "H-1,Liên đoàn Lao động huyện Một,district,T,10\n"
        + "T,Liên đoàn Lao động tỉnh,province,,100\n"
    )
    assert await import_units_csv(engine, write(tmp_path, later)) == ImportReport(3, 0, 0)
    stored = HEADER + "CS-2,Công đoàn cơ sở Hai,grassroots,H-1,2\n"
    assert await import_units_csv(engine, write(tmp_path, stored, name="b.csv")) == ImportReport(
        1, 0, 0
    )
    assert (await by_code(engine))["CS-2"].parent_code == "H-1"


async def test_bom_decomposed_names_spaces_and_case_are_normalised(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    name = unicodedata.normalize("NFD", "Liên đoàn  Lao động   tỉnh Bắc Kạn")
    body = HEADER + f" ldld-bk , {name} , Province ,, 700 \n\n"
    report = await import_units_csv(engine, write(tmp_path, body, bom=True))
    assert report == ImportReport(added=1, updated=0, unchanged=0)
    unit = (await by_code(engine))["LDLD-BK"]
    assert unit.name == "Liên đoàn Lao động tỉnh Bắc Kạn"
    assert unicodedata.is_normalized("NFC", unit.name)
    assert unit.level is UnitLevel.PROVINCE
    assert unit.target == 700


PROVINCE = "P,Liên đoàn Lao động tỉnh,province,,700\n"
DISTRICT = "D,Liên đoàn Lao động huyện,district,P,50\n"

BAD_FILES = {
    "unknown level": (PROVINCE + "X,Công đoàn X,village,P,1\n", 3, "unknown level"),
    "missing parent": (PROVINCE + "X,Công đoàn X,grassroots,NOPE,1\n", 3, "neither"),
    "grassroots under a province": (
        PROVINCE + "X,Công đoàn X,grassroots,P,1\n",
        3,
        "must be a district or a sector",
    ),
    "district under a district": (
        PROVINCE + DISTRICT + "X,LĐLĐ X,district,D,1\n",
        4,
        "must be a province",
    ),
    "province with a parent": (PROVINCE + "X,Tỉnh X,province,P,1\n", 3, "has no parent"),
    "district without a parent": (PROVINCE + "X,LĐLĐ X,district,,1\n", 3, "needs a parent"),
    "own parent": (PROVINCE + "X,LĐLĐ X,district,X,1\n", 3, "its own parent"),
    "duplicate code": (PROVINCE + DISTRICT + "d,Trùng,district,P,1\n", 4, "appears twice"),
    "negative target": (PROVINCE + "X,LĐLĐ X,district,P,-3\n", 3, "negative"),
    "non-integer target": (PROVINCE + "X,LĐLĐ X,district,P,2.5\n", 3, "not a whole number"),
    "words as target": (PROVINCE + "X,LĐLĐ X,district,P,năm\n", 3, "not a whole number"),
    "empty name": (PROVINCE + "X, ,district,P,1\n", 3, "name is empty"),
    "bad code": (PROVINCE + "X Y,LĐLĐ X,district,P,1\n", 3, "code"),
    "missing column": (PROVINCE + "X,LĐLĐ X,district,P\n", 3, "expected 5 columns"),
    "cycle": (
        PROVINCE + "A,LĐLĐ A,district,B,1\nB,LĐLĐ B,district,A,1\n",
        3,
        "must be a province",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
async def test_a_bad_row_is_refused_with_its_line_and_nothing_is_written(
    engine: AsyncEngine, tmp_path: Path, case: str
) -> None:
    body, line, message = BAD_FILES[case]
    with pytest.raises(UnitImportError) as refused:
        await import_units_csv(engine, write(tmp_path, HEADER + body))
    assert any(where == line and message in what for where, what in refused.value.problems), (
        refused.value.problems
    )
    assert f"line {line}:" in str(refused.value)
    assert await count_units(engine) == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("code,name,level,parent\nP,Tỉnh,province,\n", "header"),
        ("ma,ten,cap,cha,chi_tieu\nP,Tỉnh,province,,1\n", "header"),
        (HEADER, "no units"),
    ],
)
async def test_a_bad_header_or_an_empty_file_is_refused(
    engine: AsyncEngine, tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(UnitImportError, match=message):
        await import_units_csv(engine, write(tmp_path, body))
    assert await count_units(engine) == 0


async def test_every_bad_row_is_listed_at_once(engine: AsyncEngine, tmp_path: Path) -> None:
    body = HEADER + PROVINCE + "A,LĐLĐ A,town,P,1\n" + "B,LĐLĐ B,district,P,-1\n"
    with pytest.raises(UnitImportError) as refused:
        await import_units_csv(engine, write(tmp_path, body))
    assert [line for line, _ in refused.value.problems] == [3, 4]


async def test_a_bad_file_changes_nothing_already_stored(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await import_units_csv(engine, SAMPLE_UNITS)
    before = await load_units(engine)
    body = (
        HEADER
        + "CD-BB-01,Tên mới,grassroots,LDLD-BB,3\n"  # fine on its own
        + "CD-BB-09,Công đoàn cơ sở mới,grassroots,LDLD-XX,1\n"  # no such parent
    )
    with pytest.raises(UnitImportError):
        await import_units_csv(engine, write(tmp_path, body))
    assert await load_units(engine) == before


async def test_changing_a_level_that_strands_stored_children_is_refused(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    await import_units_csv(engine, SAMPLE_UNITS)
    body = HEADER + "LDLD-BB,Công đoàn cơ sở Ba Bể,grassroots,LDLD-CD,1\n"
    with pytest.raises(UnitImportError) as refused:
        await import_units_csv(engine, write(tmp_path, body))
    assert all(line == 2 for line, _ in refused.value.problems)
    assert any("stored unit CD-BB-01" in what for _, what in refused.value.problems)
    assert (await by_code(engine))["LDLD-BB"].level is UnitLevel.DISTRICT


def test_the_cycle_guard_names_the_cycle() -> None:
    units = {
        "A": Unit("A", "A", UnitLevel.DISTRICT, "B"),
        "B": Unit("B", "B", UnitLevel.DISTRICT, "A"),
        "C": Unit("C", "C", UnitLevel.GRASSROOTS, "A"),
    }
    problems = _cycles(units, {"A": 2, "B": 3})
    assert problems == [(2, "parents form a cycle: A → B → A")]
