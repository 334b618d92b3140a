"""``check-eligibility``: a record file in, the verdict JSON out; exit 2 only if unusable."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bot.eligibility_cli import main

ROOT = Path(__file__).resolve().parent.parent
RECORDS = Path(__file__).parent / "data" / "records"
DEFAULT_TOML = resources.files("conversations").joinpath("campaigns/default.toml").read_text()


def run(
    capsys: pytest.CaptureFixture[str],
    name: str | Path,
    campaign: str | None = None,
    lang: str = "vi",
) -> tuple[int, str, str]:
    code = main(str(RECORDS / name), campaign, lang)
    out, err = capsys.readouterr()
    return code, out, err


def verdict_of(out: str) -> dict[str, Any]:
    verdict: dict[str, Any] = json.loads(out)
    return verdict


def test_prints_an_eligible_verdict_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "eligible_phase1.json")
    assert (code, err) == (0, "")
    verdict = verdict_of(out)
    assert list(verdict) == ["eligible", "phase", "credited_author", "problems", "officer_checks"]
    assert (verdict["eligible"], verdict["phase"]) == (True, 1)
    assert verdict["credited_author"] == "Nguyễn Văn An"
    assert verdict["problems"] == []
    assert [c["rule"] for c in verdict["officer_checks"]] == ["IV.3"]
    assert "Nguyễn Văn An" in out  # not \u-escaped
    assert out.startswith("{\n  ")  # indented


def test_prints_a_research_verdict_crediting_the_topic_lead(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "eligible_research_phase2.json")
    verdict = verdict_of(out)
    assert (code, verdict["eligible"], verdict["phase"]) == (0, True, 2)
    assert verdict["credited_author"] == "Hoàng Văn Cường"


def test_ineligible_verdict_still_exits_0_listing_every_problem(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "many_problems.json", lang="en")
    verdict = verdict_of(out)
    assert code == 0
    assert verdict["eligible"] is False
    assert verdict["phase"] is None
    assert [p["rule"] for p in verdict["problems"]] == [
        "V",
        "IV.2.1",
        "IV.2.1",
        "IV.2.2",
        "IV.2.2",
        "IV.2.4",
        "IV.3",
        "IV.3",
    ]
    assert verdict["problems"][0]["message"].startswith("The program has ended")


def test_tie_goes_to_the_officer(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "tie_for_highest_share.json", lang="en")
    verdict = verdict_of(out)
    assert (code, verdict["eligible"], verdict["credited_author"]) == (0, True, None)
    assert [c["rule"] for c in verdict["officer_checks"]] == ["IV.3", "IV.2.4"]
    assert "Phạm Thu Hà, Đặng Minh Khoa" in verdict["officer_checks"][1]["message"]


def test_messages_follow_the_language_option(capsys: pytest.CaptureFixture[str]) -> None:
    _, english, _ = run(capsys, "many_problems.json", lang="en")
    _, vietnamese, _ = run(capsys, "many_problems.json", lang="vi")
    assert "1 Sep 2023" in english
    assert "1 Sep 2023" not in vietnamese


def test_invalid_record_exits_2_naming_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "invalid_share.json", lang="en")
    assert (code, out) == (2, "")
    assert "authors[1].share" in err
    assert "invalid_share.json" in err


def test_invalid_json_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "not_json.json", lang="en")
    assert (code, out) == (2, "")
    assert "not valid JSON (line 2" in err


def test_missing_file_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, tmp_path / "absent.json", lang="en")
    assert (code, out) == (2, "")
    assert "Cannot read" in err


def test_record_that_is_not_an_object_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "list.json"
    path.write_text("[]", encoding="utf-8")
    code, _, err = run(capsys, path, lang="en")
    assert code == 2
    assert "JSON object" in err


def test_unknown_field_exits_2_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "typo.json"
    path.write_text('{"tittle": "Sổ giao ca"}', encoding="utf-8")
    code, _, err = run(capsys, path, lang="en")
    assert code == 2
    assert "tittle: unknown field" in err


def test_campaign_option_changes_the_rules(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    record = json.loads((RECORDS / "eligible_research_phase2.json").read_text(encoding="utf-8"))
    record["recognized_on"] = "2022-05-20"  # phase 1's period, submitted in phase 2
    record_path = tmp_path / "late.json"
    record_path.write_text(json.dumps(record), encoding="utf-8")
    lenient = tmp_path / "lenient.toml"
    lenient.write_text(
        DEFAULT_TOML.replace(
            "accept_earlier_recognition = false", "accept_earlier_recognition = true"
        ),
        encoding="utf-8",
    )
    _, strict_out, _ = run(capsys, record_path)
    _, lenient_out, _ = run(capsys, record_path, str(lenient))
    assert [p["rule"] for p in verdict_of(strict_out)["problems"]] == ["V"]
    assert verdict_of(lenient_out)["eligible"] is True


def test_unusable_campaign_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    broken = tmp_path / "campaign.toml"
    broken.write_text(DEFAULT_TOML.replace(', en = "Product"', ""), encoding="utf-8")
    code, out, err = run(capsys, "eligible_phase1.json", str(broken), "en")
    assert (code, out) == (2, "")
    assert 'kinds[0].sub_kinds[0].name: missing the "en" text' in err


def test_exit_status_seen_by_the_shell() -> None:
    script = "import sys; from bot.eligibility_cli import main; sys.exit(main(sys.argv[1]))"
    ok = subprocess.run(
        [sys.executable, "-c", script, str(RECORDS / "many_problems.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    bad = subprocess.run(
        [sys.executable, "-c", script, str(RECORDS / "invalid_share.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["eligible"] is False
    assert bad.returncode == 2
    assert "authors[1].share" in bad.stderr
