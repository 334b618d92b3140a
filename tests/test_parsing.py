"""Parsers for what workers type on phones: dates, money, shares, yes/no and numbered choices."""

from __future__ import annotations

import time
import unicodedata
from datetime import date
from decimal import Decimal

import pytest

from conversations.parsing import (
    Invalid,
    Problem,
    match_option,
    parse_date,
    parse_money,
    parse_share,
    parse_yes_no,
)

TODAY = date(2024, 6, 10)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


# Long inputs built to trip backtracking regexes; every parser must refuse them at once.
HOSTILE_INPUTS = [
    "1" * 5000,
    "x" * 5000,
    "1." * 2500,
    "1/" * 2500,
    "1 " * 2500,
    "1 triệu " * 625,
    "ngày 15 tháng " * 350,
    "March " * 833,
    "%" + "9" * 4999,
]


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "15/3/2022",
        "15/03/2022",
        "15-03-22",
        "15-3-2022",
        "15.3.2022",
        "15.03.22",
        "15 / 3 / 2022",
        "15/3/22",
        " 15/3/2022. ",
        "2022-03-15",
        "2022/3/15",
        "ngày 15/3/2022",
    ],
)
def test_reads_day_first_dates_as_typed_on_phones(text: str) -> None:
    assert parse_date(text, TODAY) == date(2022, 3, 15)


@pytest.mark.parametrize(
    "text",
    [
        "ngày 15 tháng 3 năm 2022",
        "Ngày 15 Tháng 3 Năm 2022",
        "ngay 15 thang 3 nam 2022",
        "15 tháng 3 2022",
        "15 thang 3 2022",
        "15 tháng 03, 2022",
        "15 tháng 3 năm 22",
        "15 thg 3 2022",
        "NGÀY 15 THÁNG 3 NĂM 2022",
    ],
)
def test_reads_dates_written_out_in_vietnamese(text: str) -> None:
    assert parse_date(text, TODAY) == date(2022, 3, 15)
    assert parse_date(nfd(text), TODAY) == date(2022, 3, 15)


@pytest.mark.parametrize(
    "text",
    [
        "15 March 2022",
        "15 march 2022",
        "15th March 2022",
        "15 Mar 2022",
        "15-Mar-22",
        "15 of March 2022",
        "March 15, 2022",
        "March 15 2022",
        "Mar 15 2022",
        "Mar. 15th, 2022",
        "MARCH 15, 2022",
    ],
)
def test_reads_dates_written_out_in_english(text: str) -> None:
    assert parse_date(text, TODAY) == date(2022, 3, 15)


@pytest.mark.parametrize(
    "text",
    ["15/3", "15/03", "15-3", "15.3", "15 tháng 3", "ngày 15 tháng 3", "15 March", "Mar 15"],
)
def test_takes_the_current_year_when_none_is_typed(text: str) -> None:
    assert parse_date(text, TODAY) == date(2024, 3, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hôm nay", TODAY),
        ("Hôm nay", TODAY),
        ("hom nay", TODAY),
        ("HÔM NAY!", TODAY),
        ("today", TODAY),
        ("Today.", TODAY),
        ("hôm qua", date(2024, 6, 9)),
        ("hom qua", date(2024, 6, 9)),
        ("Yesterday", date(2024, 6, 9)),
    ],
)
def test_understands_today_and_yesterday(text: str, expected: date) -> None:
    assert parse_date(text, TODAY) == expected
    assert parse_date(nfd(text), TODAY) == expected


def test_yesterday_crosses_month_and_year_boundaries() -> None:
    assert parse_date("hôm qua", date(2024, 1, 1)) == date(2023, 12, 31)


@pytest.mark.parametrize("text", ["15/3/99", "15/3/00"])
def test_reads_two_digit_years_in_this_century(text: str) -> None:
    result = parse_date(text, TODAY)
    assert isinstance(result, date)
    assert 2000 <= result.year <= 2099


def test_does_not_reject_future_dates() -> None:
    assert parse_date("1/1/2030", TODAY) == date(2030, 1, 1)


def test_reads_leap_day_in_a_leap_year() -> None:
    assert parse_date("29/02/2024", TODAY) == date(2024, 2, 29)


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2022",
        "29/02/2023",
        "29/2/23",
        "0/1/2022",
        "15/13/2022",
        "15/0/2022",
        "32/1/2022",
        "31/4/2022",
        "2022-02-30",
        "31 tháng 2 năm 2022",
        "February 30, 2022",
    ],
)
def test_refuses_dates_that_are_not_on_the_calendar(text: str) -> None:
    assert parse_date(text, TODAY) == Invalid(Problem.IMPOSSIBLE)


def test_refuses_leap_day_without_a_year_in_a_common_year() -> None:
    assert parse_date("29/2", date(2023, 6, 1)) == Invalid(Problem.IMPOSSIBLE)
    assert parse_date("29/2", date(2024, 6, 1)) == date(2024, 2, 29)


@pytest.mark.parametrize("text", ["15/3/1899", "15/3/2101", "1800-01-01", "15 March 3022"])
def test_refuses_years_outside_1900_to_2100(text: str) -> None:
    assert parse_date(text, TODAY) == Invalid(Problem.OUT_OF_RANGE)


@pytest.mark.parametrize("text", ["1/1/1900", "31/12/2100"])
def test_accepts_the_edges_of_the_year_range(text: str) -> None:
    assert isinstance(parse_date(text, TODAY), date)


@pytest.mark.parametrize(
    "text",
    [
        "abc",
        "ngày mai",
        "15",
        "2022",
        "March 2022",
        "15/3/202",
        "15/3/20222",
        "15/3-2022",
        "15 Smarch 2022",
        "15 tháng 32022",
        "hôm nay 15/3",
        "15/3/2022 lúc 8 giờ",
        "một tháng ba",
    ],
)
def test_refuses_what_is_not_a_date(text: str) -> None:
    assert parse_date(text, TODAY) == Invalid(Problem.FORMAT)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "👍", "🙂🙂", "...", "?!"])
def test_treats_blank_emoji_or_punctuation_as_an_empty_date(text: str) -> None:
    assert parse_date(text, TODAY) == Invalid(Problem.EMPTY)


# --- money ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45 triệu", 45_000_000),
        ("45 trieu", 45_000_000),
        ("45 TRIỆU", 45_000_000),
        ("45tr", 45_000_000),
        ("45 tr", 45_000_000),
        ("45tr.", 45_000_000),
        ("45.000.000đ", 45_000_000),
        ("45.000.000 đ", 45_000_000),
        ("45.000.000 ₫", 45_000_000),
        ("45,000,000 VND", 45_000_000),
        ("45.000.000 VNĐ", 45_000_000),
        ("VND 45,000,000", 45_000_000),
        ("45000000", 45_000_000),
        ("45 000 000", 45_000_000),
        ("45.000", 45_000),
        ("1,2 tỷ", 1_200_000_000),
        ("1.2 ty", 1_200_000_000),
        ("1,2 tỉ", 1_200_000_000),
        ("1 tỷ 200 triệu", 1_200_000_000),
        ("1 tỷ 200 triệu đồng", 1_200_000_000),
        ("2 triệu rưỡi", 2_500_000),
        ("2 trieu ruoi", 2_500_000),
        ("500 nghìn", 500_000),
        ("500 nghin", 500_000),
        ("500 ngàn", 500_000),
        ("500 ngan", 500_000),
        ("500k", 500_000),
        ("500K", 500_000),
        ("1,5 triệu đồng", 1_500_000),
        ("1,5 trieu dong", 1_500_000),
        ("45 million", 45_000_000),
        ("1.2 billion", 1_200_000_000),
        ("500 thousand", 500_000),
        ("1,234.5 million", 1_234_500_000),
        ("1.234,5 triệu", 1_234_500_000),
    ],
)
def test_reads_amounts_as_workers_type_them(text: str, expected: int) -> None:
    assert parse_money(text) == expected
    assert parse_money(nfd(text)) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1tr2", 1_200_000),
        ("1 triệu 2", 1_200_000),
        ("1tr25", 1_250_000),
        ("1tr250", 1_250_000),
        ("2k5", 2_500),
        ("1 tỷ 2", 1_200_000_000),
        ("3 tỷ 200 triệu 5", 3_200_500_000),
    ],
)
def test_reads_the_spoken_shorthand_after_the_last_unit(text: str, expected: int) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1.2345 k", 1_235), ("1,0000005 triệu", 1_000_001), ("0,0004 k", 0)],
)
def test_rounds_to_whole_dong(text: str, expected: int) -> None:
    assert parse_money(text) == expected


@pytest.mark.parametrize("text", ["0", "0đ", "0 triệu", "-0"])
def test_returns_zero_for_the_caller_to_judge(text: str) -> None:
    assert parse_money(text) == 0


@pytest.mark.parametrize(
    "text",
    ["-5 triệu", "- 5 triệu", "−5 triệu", "âm 5 triệu", "Âm 5 triệu", "am 5 trieu", "-500k"],
)
def test_refuses_negative_amounts(text: str) -> None:
    assert parse_money(text) == Invalid(Problem.NEGATIVE)


@pytest.mark.parametrize(
    "text", ["1000001 tỷ", "2000000 ty", "10000000000000000", "1.000.000.000.000.001 đ"]
)
def test_refuses_amounts_above_a_thousand_trillion(text: str) -> None:
    assert parse_money(text) == Invalid(Problem.TOO_LARGE)


def test_accepts_exactly_a_thousand_trillion() -> None:
    assert parse_money("1000000 tỷ") == 10**15


@pytest.mark.parametrize(
    "text",
    [
        "45.5",
        "45,00",
        "45.00 đ",
        "4.50.000",
        "45.000,000",
        "45.0000",
        "1234.567",
        "abc",
        "triệu",
        "k",
        "đ",
        "45 đô la",
        "45 triệu abc",
        "năm triệu",
        "1 triệu 2 tỷ",
        "1 tỷ 2000 triệu",
        "1 triệu 2000",
        "1,5 triệu 2",
        "2 triệu rưỡi 5",
        "45-50 triệu",
        "45 triệu đồng đồng",
    ],
)
def test_refuses_what_is_not_an_amount(text: str) -> None:
    assert parse_money(text) == Invalid(Problem.FORMAT)


@pytest.mark.parametrize("text", ["", "   ", "👍", "💰💰", "₫", "..."])
def test_treats_blank_emoji_or_punctuation_as_an_empty_amount(text: str) -> None:
    assert parse_money(text) == Invalid(Problem.EMPTY)


# --- shares -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("60", Decimal("60.00")),
        ("60%", Decimal("60.00")),
        ("60 %", Decimal("60.00")),
        (" 60% ", Decimal("60.00")),
        ("33,3%", Decimal("33.30")),
        ("33.33", Decimal("33.33")),
        ("33,335", Decimal("33.34")),
        ("100", Decimal("100.00")),
        ("100%", Decimal("100.00")),
        ("0,01", Decimal("0.01")),
        ("60 phần trăm", Decimal("60.00")),
        ("60 percent", Decimal("60.00")),
    ],
)
def test_reads_contribution_percentages(text: str, expected: Decimal) -> None:
    result = parse_share(text)
    assert result == expected
    assert isinstance(result, Decimal)
    assert result.as_tuple().exponent == -2


@pytest.mark.parametrize("text", ["0", "0%", "0,001", "100,01", "101", "250%", "1" * 90])
def test_refuses_shares_outside_zero_to_a_hundred(text: str) -> None:
    assert parse_share(text) == Invalid(Problem.OUT_OF_RANGE)


@pytest.mark.parametrize("text", ["-5", "-5%", "âm 5", "− 10 %"])
def test_refuses_negative_shares(text: str) -> None:
    assert parse_share(text) == Invalid(Problem.NEGATIVE)


@pytest.mark.parametrize(
    "text", ["sáu mươi", "một trăm", "60%%", "%60", "60/40", "1.000.000", "60 % của tôi", "1/2"]
)
def test_refuses_shares_not_written_in_digits(text: str) -> None:
    assert parse_share(text) == Invalid(Problem.FORMAT)


@pytest.mark.parametrize("text", ["", " ", "%", "👍"])
def test_treats_blank_emoji_or_punctuation_as_an_empty_share(text: str) -> None:
    assert parse_share(text) == Invalid(Problem.EMPTY)


# --- yes / no ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "có",
        "Có",
        "co",
        "CÓ!",
        "yes",
        "Yes.",
        "y",
        "Y",
        "đúng",
        "dung",
        "ok",
        "OK!",
        "rồi",
        "roi",
        "phải",
        "phai",
        "ừ",
        "có ạ",
        "dạ có",
        "vâng",
        "đúng rồi",
        "👍 có",
        "yes please",
    ],
)
def test_reads_yes(text: str) -> None:
    assert parse_yes_no(text) is True
    assert parse_yes_no(nfd(text)) is True


@pytest.mark.parametrize(
    "text",
    [
        "không",
        "Không",
        "khong",
        "KHÔNG.",
        "ko",
        "k",
        "no",
        "No!",
        "n",
        "chưa",
        "chua",
        "sai",
        "không ạ",
        "dạ không",
        "không phải",
        "chưa có",
        "sai rồi",
    ],
)
def test_reads_no(text: str) -> None:
    assert parse_yes_no(text) is False
    assert parse_yes_no(nfd(text)) is False


@pytest.mark.parametrize(
    "text",
    ["", "  ", "👍", "maybe", "có thể", "để tôi nghĩ", "yes no maybe so", "15/3/2022", "x" * 5000],
)
def test_answers_none_when_neither_yes_nor_no(text: str) -> None:
    assert parse_yes_no(text) is None


# --- options ----------------------------------------------------------------------------------

OPTIONS = [
    ("submit", "📝 Nộp sáng kiến"),
    ("status", "🔎 Xem tình trạng hồ sơ"),
    ("help", "❓ Hướng dẫn sử dụng"),
    ("lang", "Language / Ngôn ngữ"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", "submit"),
        ("2", "status"),
        ("2.", "status"),
        (" 2 ", "status"),
        ("(2)", "status"),
        ("số 2", "status"),
        ("Số 2", "status"),
        ("so 2", "status"),
        ("số2", "status"),
        ("#2", "status"),
        ("2️⃣", "status"),
        ("4", "lang"),
        ("02", "status"),
    ],
)
def test_matches_an_option_by_its_number(text: str, expected: str) -> None:
    assert match_option(text, OPTIONS) == expected


@pytest.mark.parametrize("text", ["0", "5", "99", "số 7", "#0", "1000000000000"])
def test_refuses_option_numbers_out_of_range(text: str) -> None:
    assert match_option(text, OPTIONS) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nộp sáng kiến", "submit"),
        ("nop sang kien", "submit"),
        ("NỘP SÁNG KIẾN", "submit"),
        ("📝 Nộp sáng kiến", "submit"),
        ("Nộp sáng kiến!", "submit"),
        ("huong dan su dung", "help"),
        ("language ngon ngu", "lang"),
        ("Language / Ngôn ngữ", "lang"),
        ("2. Xem tình trạng hồ sơ", "status"),
        ("3 - Hướng dẫn sử dụng", "help"),
    ],
)
def test_matches_an_option_by_its_label(text: str, expected: str) -> None:
    assert match_option(text, OPTIONS) == expected
    assert match_option(nfd(text), OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"), [("submit", "submit"), ("STATUS", "status"), ("help", "help")]
)
def test_matches_an_option_by_its_code(text: str, expected: str) -> None:
    assert match_option(text, OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nộp", "submit"),
        ("nop sang", "submit"),
        ("Xem", "status"),
        ("hướng", "help"),
        ("huong d", "help"),
        ("lang", "lang"),
        ("langu", "lang"),
    ],
)
def test_matches_a_unique_start_of_a_label(text: str, expected: str) -> None:
    assert match_option(text, OPTIONS) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sáng kiến", "submit"),
        ("tinh trang", "status"),
        ("hồ sơ", "status"),
        ("sử dụng", "help"),
        ("ngôn ngữ", "lang"),
    ],
)
def test_matches_whole_words_found_in_one_label(text: str, expected: str) -> None:
    assert match_option(text, OPTIONS) == expected


@pytest.mark.parametrize("text", ["ng", "xe", "ki", "kien x", "sang kie", "trạng thái"])
def test_does_not_guess_from_fragments(text: str) -> None:
    assert match_option(text, OPTIONS) is None


AMBIGUOUS = [
    ("idea", "Nộp sáng kiến"),
    ("docs", "Nộp hồ sơ"),
    ("view", "Xem hồ sơ"),
]


@pytest.mark.parametrize("text", ["nộp", "nop", "hồ sơ", "ho so"])
def test_refuses_to_choose_between_ambiguous_options(text: str) -> None:
    assert match_option(text, AMBIGUOUS) is None


def test_ambiguous_prefix_still_resolves_when_typed_in_full() -> None:
    assert match_option("nộp hồ sơ", AMBIGUOUS) == "docs"
    assert match_option("nộp s", AMBIGUOUS) == "idea"


def test_duplicate_labels_are_ambiguous() -> None:
    assert match_option("Có", [("a", "Có"), ("b", "có")]) is None


def test_a_number_that_is_a_label_matches_when_out_of_range() -> None:
    years = [("y22", "2022"), ("y23", "2023")]
    assert match_option("2023", years) == "y23"
    assert match_option("2", years) == "y23"


@pytest.mark.parametrize("text", ["", "   ", "👍", "xyz", "x" * 5000])
def test_matches_nothing_for_blank_or_unknown_answers(text: str) -> None:
    assert match_option(text, OPTIONS) is None


def test_matches_nothing_without_options() -> None:
    assert match_option("1", []) is None
    assert match_option("nộp", []) is None


# --- hostile input ----------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE_INPUTS)
def test_refuses_very_long_input_quickly(text: str) -> None:
    started = time.perf_counter()
    assert parse_date(text, TODAY) == Invalid(Problem.FORMAT)
    assert parse_money(text) == Invalid(Problem.FORMAT)
    assert parse_share(text) == Invalid(Problem.FORMAT)
    assert parse_yes_no(text) is None
    assert match_option(text, OPTIONS) is None
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    "text",
    [
        "1." * 49 + "x",
        "1/" * 49 + "x",
        "1 " * 49 + "x",
        "a " * 49 + "1",
        " ,".join(["15"] * 30) + "x",
    ],
)
def test_stays_fast_on_awkward_input_just_under_the_length_limit(text: str) -> None:
    started = time.perf_counter()
    parse_date(text, TODAY)
    parse_money(text)
    parse_share(text)
    parse_yes_no(text)
    match_option(text, OPTIONS)
    assert time.perf_counter() - started < 0.5


def test_problems_are_values_with_stable_codes() -> None:
    assert [p.value for p in Problem] == [
        "empty",
        "format",
        "impossible",
        "negative",
        "too_large",
        "out_of_range",
    ]
    assert Invalid(Problem.FORMAT) == Invalid(Problem.FORMAT)
    assert hash(Invalid(Problem.EMPTY)) == hash(Invalid(Problem.EMPTY))
