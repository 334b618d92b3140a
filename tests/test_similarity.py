""" "Looks alike" for possible duplicates: folded word overlap, best first, cheap on long text."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Iterator

import pytest

from conversations.similarity import (
    STOP_WORDS,
    Candidate,
    likeness,
    most_alike,
    same_title,
    words,
)

# --- words ---------------------------------------------------------------------------------


def test_words_fold_case_and_diacritics() -> None:
    assert words("Máy BÓC vỏ quế, cải tiến!") == {"may", "boc", "vo", "que", "cai", "tien"}
    assert words("Đồ gá") == {"do", "ga"}


def test_words_are_the_same_whatever_the_keyboards_normal_form() -> None:
    title = "Hệ thống tưới nhỏ giọt cho cây quế"
    assert words(unicodedata.normalize("NFD", title)) == words(title)


def test_words_drop_stop_words_short_tokens_and_punctuation() -> None:
    assert words("Cải tiến quy trình và các bước của việc nhập kho (giai đoạn 2)") == {
        "cai", "tien", "quy", "trinh", "buoc", "viec", "nhap", "kho", "doan",
    }  # fmt: skip
    assert words("A tool for the stores, and a 3-step check") == {
        "tool",
        "stores",
        "step",
        "check",
    }
    assert words("sáng kiến: giải pháp") == frozenset()


def test_stop_words_are_written_folded() -> None:
    assert all(word.isascii() and word == word.lower() for word in STOP_WORDS)
    assert 30 <= len(STOP_WORDS) <= 50


def test_words_of_nothing_are_empty() -> None:
    assert words("") == frozenset()
    assert words("  !!! 🙂 -- ") == frozenset()


# --- likeness ------------------------------------------------------------------------------


def test_diacritics_and_word_order_do_not_matter() -> None:
    assert likeness("Máy bóc vỏ quế cải tiến", "", "cai tien may boc vo que", "") == 1.0


def test_reworded_jig_looks_alike_and_warehouse_software_does_not() -> None:
    jig = "Gá kẹp phôi tiện nhanh"
    assert likeness(jig, "", "Đồ gá kẹp nhanh phôi tiện", "") >= 0.8
    assert likeness(jig, "", "Phần mềm quản lý kho", "") == 0.0


def test_unrelated_initiatives_score_low() -> None:
    pairs = [
        ("Lập nhóm Zalo trả lời ý kiến đoàn viên", "Quy trình ủ phân vi sinh từ rơm rạ"),
        ("Vách ngăn nhà ăn phòng dịch Covid-19", "Cảm biến tự tắt đèn phòng họp"),
        ("Siêu thị 0 đồng cho công nhân cách ly", "Xe đẩy cải tiến chở hàng trong kho"),
    ]
    for a, b in pairs:
        assert likeness(a, "", b, "") < 0.2, (a, b)


def test_summaries_weigh_four_tenths() -> None:
    title = "Xe đẩy hàng cải tiến"
    same = likeness(title, "Chở bao xi măng lên dốc", title, "Chở bao xi măng lên dốc")
    different = likeness(title, "Chở bao xi măng lên dốc", title, "Phần mềm chấm công")
    assert same == pytest.approx(1.0)
    assert different == pytest.approx(0.6)


def test_missing_summary_compares_titles_only() -> None:
    title_a, title_b = "Gá kẹp phôi tiện nhanh", "Đồ gá kẹp nhanh phôi tiện"
    titles_only = likeness(title_a, None, title_b, None)
    assert titles_only == pytest.approx(5 / 6)
    assert likeness(title_a, "Kẹp phôi bằng cam lệch tâm", title_b, None) == titles_only
    assert likeness(title_a, "", title_b, "Kẹp phôi bằng cam lệch tâm") == titles_only


def test_likeness_is_symmetric_and_bounded() -> None:
    a = ("Ứng dụng phần mềm quản lý kho vật tư", "Thay sổ ghi chép tay, kiểm kê nhanh")
    b = ("Phần mềm quản lý kho", "Quản lý nhập xuất vật tư trong kho")
    score = likeness(*a, *b)
    assert 0.0 < score < 1.0
    assert likeness(*b, *a) == score


def test_empty_inputs_are_safe() -> None:
    assert likeness("", "", "", "") == 0.0
    assert likeness("", None, "Máy bóc vỏ quế", None) == 0.0
    assert likeness("!!!", "", "???", "") == 0.0


# --- most_alike ----------------------------------------------------------------------------

EARLIER = [
    (7, "Đồ gá kẹp nhanh phôi tiện", "Kẹp phôi bằng cam lệch tâm, thay dao nhanh hơn"),
    (3, "Gá kẹp phôi tiện", None),
    (9, "Phần mềm quản lý kho", "Theo dõi nhập xuất vật tư"),
    (4, "Gá kẹp phôi phay nhanh", ""),
    (5, "Vách ngăn nhà ăn", "Phòng dịch Covid-19 trong giờ ăn ca"),
]


def test_most_alike_gives_the_best_first_above_the_threshold() -> None:
    found = most_alike("Gá kẹp phôi tiện nhanh", "", EARLIER)
    assert [c.id for c in found] == [7, 3, 4]
    assert [c.score for c in found] == pytest.approx([5 / 6, 4 / 5, 4 / 6])
    assert found[1] == Candidate(3, "Gá kẹp phôi tiện", "", found[1].score)
    assert all(c.score >= 0.45 for c in found)
    assert found == sorted(found, key=lambda c: -c.score)


def test_most_alike_respects_threshold_and_limit() -> None:
    title = "Gá kẹp phôi tiện nhanh"
    assert [c.id for c in most_alike(title, "", EARLIER, threshold=0.8)] == [7, 3]
    assert [c.id for c in most_alike(title, "", EARLIER, threshold=0.81)] == [7]
    assert [c.id for c in most_alike(title, "", EARLIER, limit=1)] == [7]
    assert most_alike(title, "", EARLIER, limit=0) == []
    assert most_alike(title, "", EARLIER, threshold=1.01) == []


def test_most_alike_breaks_ties_by_lower_id() -> None:
    others = [(12, "Máy bóc vỏ quế", ""), (8, "máy bóc vỏ quế", ""), (10, "MAY BOC VO QUE", "")]
    assert [c.id for c in most_alike("Máy bóc vỏ quế", "", others)] == [8, 10, 12]


def test_most_alike_never_offers_an_unrelated_initiative_even_at_zero_threshold() -> None:
    found = most_alike("Gá kẹp phôi tiện nhanh", "", EARLIER, threshold=0.0, limit=10)
    assert 9 not in [c.id for c in found] and 5 not in [c.id for c in found]


def test_most_alike_takes_any_iterable_and_empty_inputs() -> None:
    def rows() -> Iterator[tuple[int, str, str | None]]:
        yield from EARLIER

    assert [c.id for c in most_alike("Gá kẹp phôi tiện nhanh", None, rows())] == [7, 3, 4]
    assert most_alike("Gá kẹp phôi tiện nhanh", "", []) == []
    assert most_alike("", "", EARLIER) == []


def test_most_alike_is_fast_on_long_summaries() -> None:
    vocabulary = [f"tu{i} vựng{i}" for i in range(2000)]
    summary = " ".join(vocabulary[i % 2000] for i in range(0, 4000, 7))[:5000]
    others = [
        (i, f"Máy cắt cỏ cải tiến số {i}", (summary[i:] + summary[:i])[:5000]) for i in range(300)
    ]
    assert all(len(s) == 5000 for _, _, s in others)
    start = time.perf_counter()
    found = most_alike("Máy cắt cỏ cải tiến", summary, others)
    assert time.perf_counter() - start < 2.0
    assert len(found) == 3


# --- same_title ----------------------------------------------------------------------------


def test_same_title_ignores_diacritics_order_and_small_words() -> None:
    assert same_title("Máy bóc vỏ quế cải tiến", "cải tiến máy bóc vỏ quế")
    assert same_title("Gá kẹp phôi tiện nhanh", "Đồ gá kẹp nhanh phôi tiện")
    assert same_title("Xe đẩy hàng trong kho", "xe day hang cua kho")


def test_same_title_refuses_related_but_different_titles() -> None:
    assert not same_title("Gá kẹp phôi tiện nhanh", "Gá kẹp phôi phay nhanh")
    assert not same_title("Phần mềm quản lý kho", "Gá kẹp phôi tiện nhanh")


def test_empty_titles_are_never_the_same() -> None:
    assert not same_title("", "")
    assert not same_title("Sáng kiến", "giải pháp")
    assert not same_title("", "Máy bóc vỏ quế")
