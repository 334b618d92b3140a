"""The whole conversation through the engine, as a worker on a phone would have it.

These run on the in-memory fakes of the ports (tests/fakes.py); tests/test_console.py runs the
same product on the real SQLite storage, through the console, across restarts.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pytest

from conversations.messages import Attachment
from conversations.ports import Conversation, Status, StoredInitiative
from tests.chat import Chat, make_engine, vn_time
from tests.fakes import FixedClock, MemoryStore

# Answers from the menu to the review card: a technical solution recognised by the council in
# phase 1's period, applied, with an economic value and one author.
TITLE = "Gá kẹp phôi tiện nhanh"
TO_REVIEW = [
    "/new",
    TITLE,
    "1",  # technical
    "1",  # product
    "Gá kẹp giữ phôi trên máy tiện, thay cho kẹp tay mất nhiều thời gian.",
    "Công nhân mất nhiều thời gian kẹp từng chi tiết bằng tay.",
    "1",  # council
    "15/3/2022",
    "12/QĐ-CT",
    "1",  # no photo of the decision at hand: skip
    "có",  # new in the unit
    "1",  # applied
    "1/4/2022",
    "Giảm 30% thời gian gá phôi",
    "45 triệu",
    "Giảm nguy cơ tai nạn lao động",
    "Nguyễn Thị Lan",
    "100",
    "không",  # not IP-protected
]


async def joined(lang: str = "en", **kwargs: Any) -> tuple[Chat, MemoryStore, FixedClock]:
    engine, store, clock = make_engine(**kwargs)
    chat = Chat(engine, lang=lang)
    await chat.send("/start")
    await chat.send("2" if lang == "en" else "1")
    await chat.send("CD-BB-01")
    return chat, store, clock


async def conversation(store: MemoryStore, user: str = "lan") -> Conversation:
    async with store() as uow:
        conv = await uow.conversations.load("test", user)
    assert conv is not None
    return conv


async def initiatives(store: MemoryStore, user: str = "lan") -> list[StoredInitiative]:
    conv = await conversation(store, user)
    async with store() as uow:
        assert conv.person_id is not None
        return await uow.initiatives.list_for_person(conv.person_id)


# ------------------------------------------------------------------------------ the happy path
async def test_new_worker_goes_from_first_message_to_a_submitted_initiative() -> None:
    engine, store, _clock = make_engine()
    chat = Chat(engine, lang="en")
    assert "Choose your language" in await chat.send("xin chào")
    assert "Which grassroots union" in await chat.send("2")
    joined_text = await chat.send("CD-BB-01")
    assert "registered with Công đoàn cơ sở Ủy ban nhân dân huyện Ba Bể" in joined_text
    assert "Phase 1" in joined_text and "11 days left" in joined_text
    await chat.say(*TO_REVIEW)
    assert "Please check your initiative" in chat.text
    assert "✅ It meets every condition of the program (phase 1)" in chat.text
    assert "public order or social ethics" in chat.text  # the officer's own check
    assert "₫45,000,000" in chat.text
    assert "may it share a short card" in await chat.press("Submit")
    submitted = await chat.press("Yes, share it")
    assert "Submitted as #1" in submitted

    [stored] = await initiatives(store)
    assert stored.status is Status.SUBMITTED
    assert stored.unit_code == "CD-BB-01"
    assert stored.record["title"] == TITLE
    assert stored.record["value_vnd"] == 45_000_000
    assert stored.record["recognized_on"] == "2022-03-15"
    assert stored.record["authors"] == [{"name": "Nguyễn Thị Lan", "share": 100, "lead": False}]
    assert stored.verdict is not None and stored.verdict["eligible"] is True
    assert stored.verdict["phase"] == 1
    assert stored.verdict["credited_author"] == "Nguyễn Thị Lan"
    async with store() as uow:
        history = await uow.initiatives.history(stored.id)
    assert [(c.from_status, c.to_status) for c in history] == [(None, Status.SUBMITTED)]


async def test_vietnamese_is_the_default_language() -> None:
    engine, _store, _clock = make_engine()
    chat = Chat(engine)
    await chat.send("/start")
    assert chat.labels() == ["🇻🇳 Tiếng Việt", "🇬🇧 English"]
    text = await chat.send("1")
    assert "công đoàn cơ sở" in text.lower()
    assert "Which grassroots union" not in text


async def test_options_are_answered_by_number_label_or_text_without_diacritics() -> None:
    chat, _store, _clock = await joined(lang="vi")
    await chat.say("/new", TITLE)
    text = await chat.send("giai phap ky thuat")  # "Giải pháp kỹ thuật" typed without accents
    assert chat.codes() == ["product", "process"]
    assert text


# ------------------------------------------------------------------------------ joining
async def test_worker_finds_their_union_by_part_of_its_name_without_diacritics() -> None:
    engine, _store, _clock = make_engine()
    chat = Chat(engine, lang="en")
    await chat.say("/start", "2")
    await chat.send("thac gieng")
    assert any("Thác Giềng" in label for label in chat.labels())
    joined_text = await chat.press("Thác Giềng")
    assert "registered with Công đoàn cơ sở Công ty Cổ phần Thủy điện Thác Giềng" in joined_text


async def test_join_link_registers_the_worker_right_after_the_language() -> None:
    engine, _store, _clock = make_engine()
    chat = Chat(engine, lang="en")
    await chat.send("/start join-CD-CT-02")
    text = await chat.send("2")
    assert "registered with Công đoàn cơ sở Công ty Cổ phần Thủy điện Thác Giềng" in text
    assert "What would you like to do?" in text


async def test_unknown_union_code_is_refused_with_a_hint() -> None:
    engine, store, _clock = make_engine()
    chat = Chat(engine, lang="en")
    await chat.say("/start", "2")
    text = await chat.send("XYZ-999")
    assert "No grassroots union matches “XYZ-999”" in text
    assert (await conversation(store)).unit_code is None


async def test_a_district_code_lists_the_grassroots_unions_under_it() -> None:
    engine, _store, _clock = make_engine()
    chat = Chat(engine, lang="en")
    await chat.say("/start", "2")
    await chat.send("LDLD-NS")
    names = chat.labels()
    assert any("Ngân Sơn" in name for name in names)
    assert all("(CD-NS-" in name for name in names[:-1])


# ------------------------------------------------------------------------------ rules, early
async def test_unrecognised_initiative_is_refused_at_once_citing_the_rule() -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW[:6])
    text = await chat.send("3")  # not recognised yet
    assert "cannot be accepted" in text
    assert "IV.2.1" in text
    assert any("Keep as draft" in label for label in chat.labels())
    kept = await chat.press("Keep as draft")
    assert "Saved as draft #1" in kept
    [stored] = await initiatives(store)
    assert stored.status is Status.DRAFT
    assert stored.record["recognized_by"] == "none"


async def test_going_on_despite_a_refusal_ends_on_a_card_that_cannot_be_submitted() -> None:
    chat, _store, _clock = await joined()
    answers = TO_REVIEW.copy()
    answers[10] = "không"  # not new in the unit
    await chat.say(*answers[:11])
    assert "IV.2.1" in chat.text
    await chat.press("Go on anyway")
    await chat.say(*answers[11:])
    assert "❌ It cannot be submitted yet" in chat.text
    assert "IV.2.1" in chat.text
    assert not any("Submit" in label for label in chat.labels())


async def test_recognition_date_outside_the_phase_is_flagged_when_typed() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW[:7])
    text = await chat.send("15/6/2021")  # before 01/09/2021: counts in no phase
    assert "cannot be accepted" in text
    assert "rule V" in text


async def test_application_date_outside_the_program_period_cites_iv_3() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW[:12])
    text = await chat.send("1/8/2021")
    assert "IV.3" in text


async def test_intellectual_property_protection_is_refused_citing_iv_3() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW[:-1])
    text = await chat.send("có")
    assert "IV.3" in text and "cannot be accepted" in text


async def test_outside_every_window_the_bot_says_when_the_next_phase_opens() -> None:
    chat, _store, clock = await joined()
    clock.set(vn_time(2022, 6, 1, 3, 0))  # the night between the two phases
    text = await chat.send("/new")
    assert "Submissions are closed now" in text
    assert "1 Jun 2022, 07:00" in text
    await chat.say(*TO_REVIEW[1:])
    assert "❌ It cannot be submitted yet" in chat.text
    assert "rule V" in chat.text
    assert not any("Submit" in label for label in chat.labels())


async def test_after_the_program_ended_nothing_can_be_submitted() -> None:
    chat, _store, clock = await joined()
    clock.set(vn_time(2023, 9, 2, 9, 0))
    text = await chat.send("/new")
    assert "The program has ended" in text


# ------------------------------------------------------------------------------ research, authors
async def test_research_topic_asks_level_acceptance_and_the_heads_confirmation() -> None:
    chat, store, clock = await joined()
    clock.set(vn_time(2022, 10, 3, 9, 0))
    await chat.say("/new", "Nghiên cứu quy trình ủ phân vi sinh từ phụ phẩm nông nghiệp")
    await chat.press("research")
    assert chat.codes() == ["province", "ministry", "sector"]
    await chat.press("Province")
    await chat.say(
        "Quy trình ủ phân vi sinh giúp giảm chi phí phân bón cho hộ nông dân trong huyện.",
        "Đề tài cấp tỉnh do trung tâm chủ trì năm 2022.",
        "2",
        "1/7/2022",
        "15/QĐ-UBND",
        "1",  # no photo of the decision
        "có",
        "1",
        "1/8/2022",
    )
    assert "research topic accepted" in chat.text
    await chat.send("20/7/2022")
    assert "confirmed its effect" in chat.text
    await chat.send("có")
    await chat.say("Giảm 20% chi phí phân bón", "1,2 tỷ", "Bảo vệ môi trường")
    await chat.say("Trần Văn Minh", "60")
    assert "Still to share: 40%" in chat.text
    await chat.press("Add another")
    await chat.say("Hoàng Thị Thu", "40")
    assert "lead author" in chat.text
    await chat.press("Trần Văn Minh")
    await chat.send("không")
    assert "✅ It meets every condition of the program (phase 2)" in chat.text
    await chat.press("Submit")
    await chat.press("No, keep it")
    [stored] = await initiatives(store)
    assert stored.record["kind"] == "research"
    assert stored.record["research_level"] == "province"
    assert stored.record["value_vnd"] == 1_200_000_000
    assert stored.verdict is not None
    assert stored.verdict["credited_author"] == "Trần Văn Minh"


async def test_a_tie_for_the_highest_share_is_left_to_the_officer() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW[:-3])
    await chat.say("Nguyễn Thị Lan", "50")
    await chat.press("Add another")
    await chat.say("Lý Văn Hùng", "50")
    await chat.press("No lead")
    await chat.send("không")
    assert "✅" in chat.text
    assert "Nguyễn Thị Lan" in chat.text.split("will also check")[1]
    assert "Lý Văn Hùng" in chat.text.split("will also check")[1]


async def test_shares_over_100_percent_are_refused() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW[:-3])
    await chat.say("Nguyễn Thị Lan", "70")
    await chat.press("Add another")
    text = await chat.say("Lý Văn Hùng", "40")
    assert "more than what is still to share (30%)" in text


# ------------------------------------------------------------------------------ navigation
async def test_back_returns_to_the_previous_question_with_the_answer_kept() -> None:
    chat, _store, _clock = await joined()
    await chat.say("/new", TITLE, "1")
    text = await chat.send("/back")
    assert "What kind of initiative is it?" in text
    assert "Current answer: Technical solution" in text
    text = await chat.send("quay lại")
    assert "What is the name of your initiative?" in text
    assert f"Current answer: {TITLE}" in text
    await chat.press("Keep the current answer")
    assert "What kind of initiative" in chat.text


async def test_cancel_offers_to_keep_the_draft_or_delete_it() -> None:
    chat, store, _clock = await joined()
    await chat.say("/new", TITLE, "1")
    assert "Stop writing this initiative?" in await chat.send("/cancel")
    await chat.press("Go on writing")
    assert "Which of these is it?" in chat.text
    await chat.send("hủy")
    await chat.press("Keep it as a draft")
    [stored] = await initiatives(store)
    assert stored.status is Status.DRAFT and stored.record["title"] == TITLE

    await chat.press("My initiatives")
    await chat.press(f"#{stored.id}")
    await chat.press("Continue writing")
    assert "Which of these is it?" in chat.text  # the first unanswered question
    await chat.send("/cancel")
    await chat.press("Delete it")
    assert await initiatives(store) == []


async def test_a_saved_draft_resumes_at_its_first_unanswered_question() -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW[:8])
    await chat.send("/list")  # leaving mid-flow keeps the draft
    assert "draft" in chat.text
    [stored] = await initiatives(store)
    await chat.press(f"#{stored.id}")
    assert f"#{stored.id}" in chat.text and TITLE in chat.text
    await chat.press("Continue writing")
    assert "number of the recognition decision" in chat.text
    await chat.say(*TO_REVIEW[8:])
    await chat.press("Submit")
    await chat.press("No, keep it")
    [stored] = await initiatives(store)
    assert stored.status is Status.SUBMITTED
    async with store() as uow:
        history = await uow.initiatives.history(stored.id)
    assert [c.to_status for c in history] == [Status.DRAFT, Status.SUBMITTED]


async def test_any_answer_can_be_changed_from_the_review_card() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW)
    await chat.press("Change an answer")
    await chat.press("Value of the benefit")
    assert "Current answer: ₫45,000,000" in chat.text
    await chat.send("45.500.000đ")
    assert "Please check your initiative" in chat.text
    assert "₫45,500,000" in chat.text


async def test_changing_the_kind_to_research_asks_only_the_new_questions() -> None:
    chat, _store, _clock = await joined()
    await chat.say(*TO_REVIEW)
    await chat.press("Change an answer")
    await chat.press("Kind")
    await chat.press("research")
    assert "At which level" in chat.text
    await chat.press("Province")
    assert "research topic accepted" in chat.text
    await chat.send("1/3/2022")
    await chat.send("có")
    assert "Please check your initiative" in chat.text
    assert "Sub-kind" not in chat.text


async def test_help_explains_the_current_question_and_asks_it_again() -> None:
    chat, _store, _clock = await joined()
    await chat.say("/new", TITLE)
    text = await chat.send("/help")
    assert "seven kinds" in text
    assert "/cancel" in text
    assert text.rstrip().endswith("What kind of initiative is it?")


async def test_language_can_change_mid_flow_without_losing_the_step() -> None:
    chat, store, _clock = await joined()
    await chat.say("/new", TITLE)
    await chat.send("/lang")
    text = await chat.press("Tiếng Việt")
    conv = await conversation(store)
    assert conv.locale == "vi" and conv.step == "kind"
    assert "What kind of initiative" not in text


async def test_a_submitted_initiative_can_be_withdrawn_by_its_author() -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW)
    await chat.press("Submit")
    await chat.press("No, keep it")
    await chat.send("/list")
    [stored] = await initiatives(store)
    await chat.press(f"#{stored.id}")
    await chat.press("Withdraw")
    [stored] = await initiatives(store)
    assert stored.status is Status.WITHDRAWN


# ------------------------------------------------------------------------------ what people type
async def test_dates_and_money_are_read_as_people_type_them() -> None:
    chat, store, _clock = await joined()
    answers = TO_REVIEW.copy()
    answers[7] = "15-03-22"
    answers[12] = "hôm nay"
    answers[14] = "1,2 tỷ"
    await chat.say(*answers)
    await chat.press("Submit")
    await chat.press("No, keep it")
    [stored] = await initiatives(store)
    assert stored.record["recognized_on"] == "2022-03-15"
    assert stored.record["applied_on"] == "2022-05-20"
    assert stored.record["value_vnd"] == 1_200_000_000


async def test_decomposed_vietnamese_is_stored_composed() -> None:
    chat, store, _clock = await joined()
    await chat.say("/new", unicodedata.normalize("NFD", TITLE))
    conv = await conversation(store)
    assert conv.state["draft"]["title"] == TITLE
    assert unicodedata.is_normalized("NFC", conv.state["draft"]["title"])


async def test_a_pressed_option_from_an_earlier_question_is_refused() -> None:
    chat, store, _clock = await joined()
    await chat.say("/new", TITLE)
    before = await conversation(store)
    text = await chat.send(choice="council")  # a forged / stale button
    assert "earlier question" in text
    after = await conversation(store)
    assert (after.step, after.state) == (before.step, before.state)


async def test_an_old_yes_button_cannot_answer_a_later_yes_no_question() -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW[:10])
    assert chat.codes() == ["yes", "no"]  # "new in the unit?"
    old_prompt = chat.last.prompt_id
    await chat.say(*TO_REVIEW[10:-1])
    assert chat.codes() == ["yes", "no"]  # "protected as intellectual property?"
    before = await conversation(store)
    text = await chat.send(choice="yes", prompt_id=old_prompt)
    assert "earlier question" in text
    after = await conversation(store)
    assert (after.step, after.state) == (before.step, before.state)
    await chat.send(choice="no", prompt_id=chat.last.prompt_id)
    assert "Please check your initiative" in chat.text


async def test_a_person_who_blocked_the_bot_is_reachable_again_once_they_write() -> None:
    chat, store, clock = await joined()
    await chat.engine.mark_unreachable("test", "lan")
    assert (await conversation(store)).unreachable_since == clock.now()
    await chat.send("/list")
    assert (await conversation(store)).unreachable_since is None


async def test_a_photo_or_pdf_of_the_decision_is_kept_with_the_initiative() -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW[:9])
    assert "photo or a PDF of the recognition decision" in chat.text
    word = Attachment("document", "doc-1", "application/msword", "quyet-dinh.doc", 30_000)
    assert "only keep photos and PDF files" in await chat.send(attachment=word)
    pdf = Attachment("document", "pdf-1", "application/pdf", "quyet-dinh-12.pdf", 120_000)
    await chat.send(attachment=pdf)
    assert "new within your agency" in chat.text
    await chat.say(*TO_REVIEW[10:])
    assert "📎 quyet-dinh-12.pdf" in chat.text
    await chat.press("Submit")
    await chat.press("No, keep it")
    [stored] = await initiatives(store)
    assert stored.record["decision_file"]["file_id"] == "pdf-1"
    assert stored.record["decision_file"]["channel"] == "test"


async def test_a_file_where_text_is_expected_is_refused_politely() -> None:
    chat, _store, _clock = await joined()
    await chat.say("/new")
    text = await chat.send(attachment=Attachment("photo", "file-1", "image/jpeg"))
    assert "I can't use a file here" in text


async def test_unknown_commands_are_explained() -> None:
    chat, _store, _clock = await joined()
    text = await chat.send("/frobnicate")
    assert "I don't know that command" in text and "/new" in text


# ------------------------------------------------------------------------------ bad input
HUGE = "Sáng kiến " * 500  # 5,000 characters
# (how many answers of TO_REVIEW lead to the step, the step, bad inputs for it)
BAD_INPUT = [
    (1, "title", ["", HUGE, "🎉🎉🎉", "abc"]),
    (2, "kind", ["", HUGE, "🎉🎉🎉", "99", "0"]),
    (3, "sub_kind", ["", "🎉", "7"]),
    (4, "summary", ["", HUGE * 2, "🎉🎉🎉", "ngắn"]),
    (5, "origin", ["", HUGE * 2, "😀😀"]),
    (6, "recognized_by", ["", "🎉", "5", "4"]),
    (7, "recognized_on", ["", "31/02/2022", "32/1/2022", "15/13/2022", "🎉", HUGE, "1/1/2030"]),
    (8, "decision_no", ["", HUGE, "🎉"]),
    (9, "decision_file", ["", "🎉", HUGE, "3"]),
    (10, "novel_in_unit", ["", "có lẽ", "3", HUGE]),
    (11, "application", ["", "9", "🎉"]),
    (12, "applied_on", ["", "29/02/2023", "hôm kia nữa", "1/1/2099"]),
    (13, "economic_benefit", ["", HUGE, "🎉"]),
    (
        14,
        "value_vnd",
        ["", "-5 triệu", "âm 45 triệu", "0", "nhiều lắm", "🎉", HUGE, "99999999999 tỷ"],
    ),
    (15, "social_benefit", ["", HUGE, "🎉"]),
    (16, "author_name", ["", "🎉", "x" * 500]),
    (17, "author_share", ["", "-10", "0", "150", "abc", "🎉"]),
    (18, "ip_protected", ["", "có thể", "7"]),
]


@pytest.mark.parametrize(
    ("answered", "step", "bad"),
    [(n, step, bad) for n, step, bads in BAD_INPUT for bad in bads],
    ids=lambda value: value[:12] if isinstance(value, str) else str(value),
)
async def test_bad_input_gets_a_clear_message_and_changes_nothing(
    answered: int, step: str, bad: str
) -> None:
    chat, store, _clock = await joined()
    await chat.say(*TO_REVIEW[:answered])
    before = await conversation(store)
    assert before.step == step
    question = chat.last.text
    text = await chat.send(bad)
    after = await conversation(store)
    assert (after.flow, after.step, after.state) == (before.flow, before.step, before.state)
    assert text.endswith(question.split("\n\n")[-1])  # the same question, asked again
    assert len(text) > len(question.split("\n\n")[-1])  # … after saying what was wrong
    assert "Traceback" not in text and "Error" not in text


def test_question_ids_never_look_like_a_notice() -> None:
    from conversations.notices import NOTICE_PROMPT
    from conversations.turn import _next_prompt_id

    ids, current = set(), None
    for _ in range(5000):
        current = _next_prompt_id(current)
        ids.add(current)
    assert len(ids) == 5000 and NOTICE_PROMPT not in ids


async def test_link_ties_a_second_messenger_and_the_draft_continues_there() -> None:
    engine, store, clock = make_engine()
    on_telegram = Chat(engine, "42", channel="telegram", lang="en")
    await on_telegram.say("/start", "2", "CD-BB-01", "/new", TITLE, "1")
    assert "Which of these is it?" in on_telegram.text
    code = (await on_telegram.send("/link")).split("/link ")[1].split()[0]
    assert "Which of these is it?" in on_telegram.text  # the question is asked again after

    on_zalo = Chat(engine, "e4ea2cd5189d", channel="zalo", lang="vi")
    text = await on_zalo.send(f"/link {code}")
    assert "Linked: this account now continues your conversation" in text
    assert "Which of these is it?" in text  # same person, same step, same language
    await on_zalo.send("1")
    assert "Describe the initiative" in on_zalo.text
    async with store() as uow:
        a = await uow.conversations.load("telegram", "42")
        b = await uow.conversations.load("zalo", "e4ea2cd5189d")
    assert a is not None and b is not None and a.person_id == b.person_id
    assert b.state["draft"] == {"title": TITLE, "kind": "technical", "sub_kind": "product"}

    stranger = Chat(engine, "other", channel="zalo", lang="en")
    assert "That link code is not valid" in await stranger.send(f"/link {code}")  # used once
    clock.advance(minutes=16)
    late = (await on_telegram.send("/link")).split("/link ")[1].split()[0]
    clock.advance(minutes=16)
    assert "not valid" in await stranger.send(f"/link {late}")  # too old
