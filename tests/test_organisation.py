"""The in-memory organisation tree: lookups, loose search, walking up and down."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from conversations.organisation import UnitTree
from conversations.ports import Unit, UnitDirectory, UnitLevel

SAMPLE = Path(__file__).resolve().parents[1] / "storage" / "sample" / "bac_kan_units.csv"


def sample_units() -> list[Unit]:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as file:
        return [
            Unit(
                code=row["code"],
                name=row["name"],
                level=UnitLevel(row["level"]),
                parent_code=row["parent_code"] or None,
                target=int(row["target"]) if row["target"] else None,
            )
            for row in csv.DictReader(file)
        ]


@pytest.fixture(scope="module")
def tree() -> UnitTree:
    return UnitTree(sample_units())


def codes(units: list[Unit]) -> list[str]:
    return [unit.code for unit in units]


def test_is_a_unit_directory(tree: UnitTree) -> None:
    directory: UnitDirectory = tree
    assert directory.get("LDLD-BK") is not None


def test_gets_a_unit_by_code_ignoring_case_and_spaces(tree: UnitTree) -> None:
    unit = tree.get(" cd-bb-01 ")
    assert unit is not None
    assert unit.code == "CD-BB-01"
    assert tree.get("NOPE") is None
    assert "ldld-cd" in tree
    assert len(tree) == 51


def test_search_without_diacritics_finds_cho_don_units(tree: UnitTree) -> None:
    found = tree.search("cho don")
    assert found, "nothing found for 'cho don'"
    assert all("Chợ Đồn" in unit.name for unit in found)
    assert {"LDLD-CD", "CD-CD-01", "CD-CD-03", "CD-CD-04", "CD-GD-04", "CD-YT-04"} <= set(
        codes(found)
    )


def test_search_ignores_case_and_accepts_decomposed_input(tree: UnitTree) -> None:
    decomposed = "CHỢ ĐỒN".replace("Ợ", "O\u0323\u0302").replace("Ồ", "O\u0302\u0300")
    assert codes(tree.search(decomposed)) == codes(tree.search("cho don"))


def test_search_filters_by_level_and_limits(tree: UnitTree) -> None:
    assert codes(tree.search("cho don", level=UnitLevel.DISTRICT)) == ["LDLD-CD"]
    grassroots = tree.search("cong doan co so", level=UnitLevel.GRASSROOTS, limit=5)
    assert len(grassroots) == 5
    assert all(unit.level == UnitLevel.GRASSROOTS for unit in grassroots)
    assert tree.search("   ") == []
    assert tree.search("ba be", limit=0) == []


def test_search_by_code_puts_the_exact_code_first(tree: UnitTree) -> None:
    assert codes(tree.search("cd-bb-01"))[0] == "CD-BB-01"
    assert codes(tree.search("CD-BB")) == ["CD-BB-01", "CD-BB-02", "CD-BB-03"]


def test_search_ranks_word_starts_before_substrings_in_a_stable_order() -> None:
    tree = UnitTree(
        [
            Unit("P", "Tỉnh", UnitLevel.PROVINCE, None),
            Unit("X1", "Nhà máy Than", UnitLevel.SECTOR, "P"),
            Unit("X2", "Xã An Bình", UnitLevel.DISTRICT, "P"),
            Unit("X3", "Lan Anh", UnitLevel.SECTOR, "P"),
            Unit("X4", "Ấn Độ", UnitLevel.SECTOR, "P"),
        ]
    )
    assert codes(tree.search("an")) == ["X2", "X3", "X4", "X1"]
    assert codes(tree.search("an")) == codes(tree.search("AN"))


def test_search_finds_every_word_in_any_order(tree: UnitTree) -> None:
    assert codes(tree.search("truong bang lung")) == ["CD-CD-02"]
    assert "CD-CD-02" in codes(tree.search("bang lung truong"))


def test_children_in_the_order_given(tree: UnitTree) -> None:
    assert codes(tree.children("LDLD-CD")) == ["CD-CD-01", "CD-CD-02", "CD-CD-03", "CD-CD-04"]
    assert tree.children("CD-CD-01") == []
    assert tree.children("NOPE") == []


def test_descendants_cover_the_whole_subtree_depth_first(tree: UnitTree) -> None:
    under_province = tree.descendants("LDLD-BK")
    assert len(under_province) == 50
    assert codes(under_province)[:4] == ["LDLD-TP", "CD-TP-01", "CD-TP-02", "CD-TP-03"]
    assert codes(tree.descendants("cdn-yt")) == ["CD-YT-01", "CD-YT-02", "CD-YT-03", "CD-YT-04"]


def test_ancestors_nearest_first(tree: UnitTree) -> None:
    assert codes(tree.ancestors("CD-CD-01")) == ["LDLD-CD", "LDLD-BK"]
    assert tree.ancestors("LDLD-BK") == []
    assert tree.ancestors("NOPE") == []


def test_grassroots_under_a_unit(tree: UnitTree) -> None:
    assert len(tree.grassroots_under("LDLD-BK")) == 38
    assert codes(tree.grassroots_under("CDVC-BK")) == ["CD-VC-01", "CD-VC-02"]
    assert codes(tree.grassroots_under("CD-VC-01")) == ["CD-VC-01"]
    assert tree.grassroots_under("NOPE") == []


def test_sample_targets_add_up_to_the_province_target(tree: UnitTree) -> None:
    province = tree.get("LDLD-BK")
    assert province is not None
    assert province.target == 700
    assert sum(unit.target or 0 for unit in tree.children("LDLD-BK")) == 700


def test_refuses_duplicate_codes() -> None:
    with pytest.raises(ValueError, match="twice"):
        UnitTree(
            [
                Unit("A", "Một", UnitLevel.PROVINCE, None),
                Unit("a", "Hai", UnitLevel.PROVINCE, None),
            ]
        )


def test_survives_a_cycle_in_hand_made_data() -> None:
    tree = UnitTree(
        [Unit("A", "A", UnitLevel.DISTRICT, "B"), Unit("B", "B", UnitLevel.DISTRICT, "A")]
    )
    assert codes(tree.ancestors("A")) == ["B"]
    assert codes(tree.descendants("A")) == ["B"]
