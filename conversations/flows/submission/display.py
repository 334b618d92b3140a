"""Answers as the person reads them, in their language: values, the review card, the verdict."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from conversations.eligibility import Verdict, check
from conversations.flows.submission.draft import FIELD_STEPS, as_record, current_kind
from conversations.i18n import _, format_date, format_money, format_number
from conversations.turn import Turn


def authors_text(authors: Sequence[dict[str, Any]]) -> str:
    lines = []
    for a in authors:
        lead = " – " + _("lead") if a.get("lead") else ""
        lines.append(f"• {a['name']}: {format_number(Decimal(str(a['share'])))}%{lead}")
    return "\n".join(lines)


def rule_citation(turn: Turn, rule: str) -> str:
    """ "rule IV.2.1 – New in the unit and recognised…": where a refusal comes from."""
    title = turn.campaign.rule_title(rule)
    return _("rule {rule}").format(rule=rule) + (f" – {title}" if title else "")


def display_value(turn: Turn, field: str, value: Any, fields: dict[str, Any] | None = None) -> str:
    """A stored answer as the person reads it, in their language; ``fields`` is the record it
    belongs to (default: the draft being written)."""
    if value is None:
        return _("(none)")
    campaign = turn.campaign
    match field:
        case "kind":
            kind = campaign.kind(value)
            return kind.name.get() if kind else str(value)
        case "sub_kind":
            kind = (
                campaign.kind((fields or {}).get("kind") or "") if fields else current_kind(turn)
            )
            for sub in kind.sub_kinds if kind else ():
                if sub.code == value:
                    return str(sub.name.get())
            return str(value)
        case "research_level":
            level = campaign.research_level(value)
            return level.name.get() if level else str(value)
        case "recognized_by":
            return {
                "council": _("the Initiative Council"),
                "head": _("the head of the unit"),
                "none": _("not recognised yet"),
            }.get(value, str(value))
        case "application":
            return {
                "applied": _("applied"),
                "trial": _("applied on trial"),
                "none": _("not applied yet"),
            }.get(value, str(value))
        case "value_vnd":
            return format_money(int(value))
        case "decision_file":
            name = value.get("file_name") or (_("photo") if value.get("kind") == "photo" else "")
            return "📎 " + (name or _("file"))
        case "authors":
            return authors_text(value)
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if field.endswith("_on") and isinstance(value, str):
        return format_date(date.fromisoformat(value))
    return str(value)


def review_card(turn: Turn, fields: dict[str, Any]) -> str:
    """Everything the person said, one line per question that applies to this record."""
    lines = []
    for fs in FIELD_STEPS:
        if fs.field in fields and fs.applies_to(turn, fields):
            value = display_value(turn, fs.field, fields[fs.field], fields)
            sep = "\n" if "\n" in value else " "
            lines.append(f"▪️ {_(fs.label)}:{sep}{value}")
    return "\n".join(lines)


def verdict_lines(
    turn: Turn, verdict: Verdict, *, met: str, problems: str, checks: str
) -> list[str]:
    """A verdict as the reader reads it, under headings of their own (``met`` takes the
    phase): every problem with the rule it comes from, then what a person must judge."""
    if verdict.eligible:
        lines = [met.format(phase=verdict.phase)]
    else:
        lines = [problems]
        lines += [f"• {f.render()} ({rule_citation(turn, f.rule)})" for f in verdict.problems]
    if verdict.officer_checks:
        lines.append(checks)
        lines += [f"• {f.render()}" for f in verdict.officer_checks]
    return lines


def verdict_text(turn: Turn, fields: dict[str, Any]) -> tuple[bool, str]:
    record = as_record({**fields, "submitted_at": turn.now.isoformat()})
    verdict = check(record, turn.campaign)
    lines = verdict_lines(
        turn,
        verdict,
        met=_("✅ It meets every condition of the program (phase {phase})."),
        problems=_("❌ It cannot be submitted yet:"),
        checks=_("Your union officer will also check:"),
    )
    return verdict.eligible, "\n".join(lines)
