"""Stage 6: the client's own intake rules, in order."""

from dataclasses import dataclass, field
from datetime import datetime, time
from zoneinfo import ZoneInfo

from clients.models import Client, IntakeRule
from desklib import patterns
from desklib.mailparse import ParsedMail


@dataclass
class RuleResult:
    impact: int | None = None
    urgency: int | None = None
    category: str = ""
    suppress: bool = False
    treat_as_alert: bool = False
    fingerprint_pattern: str = ""
    matched: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)  # skipped: a pattern ran too long


def _search(pattern: str, value: str) -> bool:
    return bool(patterns.search(pattern, value))


def in_window(start: time, end: time, weekdays: str, local: datetime) -> bool:
    """Whether `local` falls in [start, end); end before start means the window crosses midnight.

    For a window crossing midnight, the weekday is the day the window opened:
    a Friday 22:00–06:00 window holds at 02:00 on Saturday.
    """
    now = local.time()
    if start <= end:
        inside = start <= now < end
        opened_on = local.weekday()
    else:
        inside = now >= start or now < end
        opened_on = local.weekday() if now >= start else (local.weekday() - 1) % 7
    return inside and (not weekdays or str(opened_on) in weekdays)


def rule_matches(
    rule: IntakeRule, parsed: ParsedMail, local_time: datetime, covered: bool = True
) -> bool:
    if rule.coverage and (rule.coverage == "inside") != covered:
        return False
    if rule.sender_pattern and not _search(
        rule.sender_pattern, f"{parsed.from_name} <{parsed.from_address}>"
    ):
        return False
    if rule.subject_pattern and not _search(rule.subject_pattern, parsed.subject):
        return False
    if rule.body_pattern and not _search(rule.body_pattern, parsed.text):
        return False
    if rule.header_name and not any(
        _search(rule.header_pattern, v) for v in parsed.header_values(rule.header_name)
    ):
        return False
    has_window = rule.window_start is not None and rule.window_end is not None
    return not has_window or in_window(
        rule.window_start, rule.window_end, rule.window_weekdays, local_time
    )


def apply_rules(
    client: Client, parsed: ParsedMail, received_at: datetime, covered: bool = True
) -> RuleResult:
    """Run the client's enabled rules in order; later matches override earlier ones.

    `covered`: whether the mail arrived inside our coverage of the client.
    """
    result = RuleResult()
    local_time = received_at.astimezone(ZoneInfo(client.timezone))
    for rule in client.intake_rules.filter(enabled=True).order_by("position", "id"):
        try:
            if not rule_matches(rule, parsed, local_time, covered):
                continue
        except patterns.PatternTimeout:
            result.timed_out.append(rule.name)
            continue
        result.matched.append(rule.name)
        if rule.set_impact:
            result.impact = rule.set_impact
        if rule.set_urgency:
            result.urgency = rule.set_urgency
        if rule.set_category:
            result.category = rule.set_category
        result.suppress = result.suppress or rule.suppress
        if rule.treat_as_alert:
            result.treat_as_alert = True
            result.fingerprint_pattern = rule.fingerprint_pattern or result.fingerprint_pattern
        if rule.stop_processing:
            break
    return result
