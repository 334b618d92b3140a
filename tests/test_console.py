"""The product as people start it: ``python -m bot …`` on a real SQLite file, across restarts."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from bot.app import build_app
from bot.config import Settings
from conversations.messages import Event
from storage.db import create_engine
from tests.test_conversation import TITLE, TO_REVIEW

ROOT = Path(__file__).resolve().parent.parent
NOW = "2022-05-20T09:00"


def run_bot(args: list[str], db: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "PYTHONPATH": str(ROOT),
        "LANG": "en_US.UTF-8",  # the command line's own messages in English
    }
    env.pop("SANGKIEN_NOW", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


async def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(query))).all()]
    finally:
        await engine.dispose()


def test_a_piped_console_script_submits_an_initiative_in_vietnamese(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    script = "\n".join(["1", "CD-BB-01", *TO_REVIEW, "1", "1"]) + "\n"
    result = run_bot(["console", "--as", "lan", "--now", NOW], db, script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "> CD-BB-01" in out  # piped input is echoed: the output reads as a transcript
    assert "  1. 🇻🇳 Tiếng Việt" in out  # options are numbered
    assert "#1" in out
    assert "Traceback" not in out + result.stderr
    [(status, title, unit)] = asyncio.run(
        rows(db, "SELECT status, title, unit_code FROM initiatives")
    )
    assert (status, title, unit) == ("submitted", TITLE, "CD-BB-01")


def test_a_second_console_run_continues_at_the_same_question(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    first = run_bot(
        ["console", "--as", "lan", "--now", NOW, "--lang", "en"],
        db,
        "\n".join(["2", "CD-BB-01", *TO_REVIEW[:5]]) + "\n",
    )
    assert first.returncode == 0, first.stderr
    assert "How did the idea come about?" in first.stdout.rsplit("> ", 1)[1]

    second = run_bot(
        ["console", "--as", "lan", "--now", NOW], db, "\n".join([*TO_REVIEW[5:], "1", "1"]) + "\n"
    )
    assert second.returncode == 0, second.stderr
    head = second.stdout.split("> ", 1)[0]
    assert "Welcome back" in head and "How did the idea come about?" in head
    assert "Submitted as #1" in second.stdout
    [(record,)] = asyncio.run(rows(db, "SELECT record FROM initiatives"))
    stored = json.loads(str(record))
    assert stored["summary"] == TO_REVIEW[4]  # typed in the first run
    assert stored["origin"] == TO_REVIEW[5]  # typed in the second


def test_every_answered_step_survives_a_restart(tmp_path: Path) -> None:
    """A new process on the same database finds each step exactly where the last one left it."""
    settings = Settings.load(env={"DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"})

    async def scenario() -> None:
        answers = ["/start", "2", "CD-BB-01", *TO_REVIEW]
        for count, answer in enumerate(answers, start=1):
            app = await build_app(settings, now=NOW, load_sample=True)  # a fresh process
            try:
                event = Event(
                    channel="console", user_id="lan", chat_id="lan", text=answer, locale_hint="en"
                )
                asked = (await app.engine.handle(event))[-1].text
            finally:
                await app.close()
            app = await build_app(settings, now=NOW)
            try:
                resumed = await app.engine.resume("console", "lan", "lan")
            finally:
                await app.close()
            question = asked.split("\n\n")[-1]
            assert question in resumed[-1].text, f"after answer {count}: {answer!r}"

    asyncio.run(scenario())


def test_check_eligibility_prints_the_verdict_and_exits_0(tmp_path: Path) -> None:
    record = ROOT / "tests" / "data" / "records" / "eligible_phase1.json"
    result = run_bot(["check-eligibility", str(record), "--lang", "en"], tmp_path / "x.db")
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["eligible"] is True and verdict["phase"] == 1


def test_check_eligibility_names_the_bad_field_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"title": "X", "value_vnd": -5}), encoding="utf-8")
    result = run_bot(["check-eligibility", str(bad)], tmp_path / "x.db")
    assert result.returncode == 2
    assert "value_vnd" in result.stderr


def test_units_import_adds_then_updates_in_place(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    csv = tmp_path / "units.csv"
    csv.write_text(
        "code,name,level,parent_code,target\n"
        "P,Liên đoàn Lao động tỉnh X,province,,10\n"
        "D,Liên đoàn Lao động huyện Y,district,P,5\n"
        "G,Công đoàn cơ sở Trường Z,grassroots,D,1\n",
        encoding="utf-8",
    )
    first = run_bot(["units", "import", str(csv)], db)
    assert first.returncode == 0, first.stderr
    assert "3 added" in first.stdout
    csv.write_text(
        csv.read_text(encoding="utf-8").replace("Trường Z", "Trường Z mới"), encoding="utf-8"
    )
    second = run_bot(["units", "import", str(csv)], db)
    assert "0 added, 1 updated, 2 unchanged" in second.stdout
    assert asyncio.run(rows(db, "SELECT name FROM units WHERE code = 'G'")) == [
        ("Công đoàn cơ sở Trường Z mới",)
    ]


def test_a_bad_units_file_is_refused_with_its_line_and_nothing_written(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    csv = tmp_path / "units.csv"
    csv.write_text(
        "code,name,level,parent_code,target\nP,Tỉnh,province,,10\nG,Cơ sở,grassroots,NOPE,1\n",
        encoding="utf-8",
    )
    result = run_bot(["units", "import", str(csv)], db)
    assert result.returncode == 2
    assert "3" in result.stderr and "NOPE" in result.stderr
    assert asyncio.run(rows(db, "SELECT count(*) FROM units")) == [(0,)]


def test_officers_are_named_listed_and_removed_on_the_command_line(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    assert (
        run_bot(
            ["units", "import", str(ROOT / "storage" / "sample" / "bac_kan_units.csv")], db
        ).returncode
        == 0
    )
    added = run_bot(["officers", "add", "--unit", "cd-bb-01", "--user", "telegram:777"], db)
    assert added.returncode == 0, added.stderr
    assert "telegram:777 is now an officer of CD-BB-01" in added.stdout
    again = run_bot(["officers", "add", "--unit", "CD-BB-01", "--user", "telegram:777"], db)
    assert "already" in again.stdout
    listed = run_bot(["officers", "list"], db)
    assert "CD-BB-01" in listed.stdout and "has not written yet" in listed.stdout
    removed = run_bot(["officers", "remove", "--unit", "CD-BB-01", "--user", "telegram:777"], db)
    assert "no longer an officer" in removed.stdout
    assert "no officers yet" in run_bot(["officers", "list"], db).stdout


def test_officers_command_refuses_unknown_units_and_malformed_accounts(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    run_bot(["units", "import", str(ROOT / "storage" / "sample" / "bac_kan_units.csv")], db)
    unknown = run_bot(["officers", "add", "--unit", "NOPE", "--user", "telegram:1"], db)
    assert unknown.returncode == 2 and "no unit 'NOPE'" in unknown.stderr
    malformed = run_bot(["officers", "add", "--unit", "CD-BB-01", "--user", "lan"], db)
    assert malformed.returncode == 2 and "MESSENGER:ID" in malformed.stderr
