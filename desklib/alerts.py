"""Recognising monitoring alerts and giving each a fingerprint, so repeats fold.

A fingerprint names the thing that is wrong (host and check), not the mail:
the tenth "disk C: 91% full" mail about the same server and its recovery carry
the same fingerprint and land on one ticket.

Presets read the default notification formats of Nagios / Icinga 2, Zabbix and
Datto RMM. Anything else marked as an alert gets the generic fingerprint:
sender plus the subject without numbers, dates, state words and reply prefixes.
"""

import hashlib
import re
from dataclasses import dataclass

from . import patterns

MAX_FINGERPRINT = 255


@dataclass(frozen=True)
class AlertSignature:
    fingerprint: str
    recovery: bool
    preset: str  # "nagios", "zabbix", "datto", "generic", "rule"


def bounded(fingerprint: str) -> str:
    fingerprint = " ".join(fingerprint.split()).lower()
    if len(fingerprint) <= MAX_FINGERPRINT:
        return fingerprint
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()
    return f"{fingerprint[: MAX_FINGERPRINT - 66]}#{digest}"


def _body_field(body: str, name: str) -> str:
    """The value of a "Name: value" line; '' when absent or blank."""
    # Greedy and stripped afterwards: a lazy group before "[ \t]*$" is quadratic on
    # long runs of blanks.
    match = re.search(
        rf"^[ \t]*{name}[ \t]*:[ \t]*(\S[^\r\n]*)", body, re.MULTILINE | re.IGNORECASE
    )
    return match.group(1).rstrip(" \t")[:500] if match else ""


# --- Nagios / Icinga ------------------------------------------------------------
# Nagios: "** PROBLEM Service Alert: web1/HTTP is CRITICAL **"
_NAGIOS_SUBJECT = re.compile(
    r"\*\*\s*(?P<type>[A-Z]+)\s+(?P<kind>Service|Host)\s+Alert:\s*(?P<what>.+?)\s+is\s+(?P<state>\w+)",
    re.IGNORECASE,
)
# Icinga 2: "[PROBLEM] http on web1 is CRITICAL!" / "PROBLEM - web1 - http is CRITICAL"
_ICINGA_SUBJECT = re.compile(
    r"^\[?(?P<type>PROBLEM|RECOVERY|ACKNOWLEDGEMENT|CUSTOM|FLAPPINGSTART|FLAPPINGEND)\]?\s*-?\s*",
)


def nagios(subject: str, body: str) -> AlertSignature | None:
    notification = _body_field(body, "Notification Type").upper()
    host = _body_field(body, "Host")
    service = _body_field(body, "Service")
    match = _NAGIOS_SUBJECT.search(subject)
    if match and not host:
        what = match.group("what")
        host, _, service = (
            what.partition("/") if match.group("kind").lower() == "service" else (what, "", "")
        )
    if match and not notification:
        notification = match.group("type").upper()
    if not notification and (icinga := _ICINGA_SUBJECT.match(subject)) and host:
        notification = icinga.group("type")
    if not (notification and host):
        return None
    fingerprint = f"nagios:{host.strip()}:{service.strip() or '(host)'}"
    return AlertSignature(bounded(fingerprint), notification == "RECOVERY", "nagios")


# --- Zabbix -----------------------------------------------------------------------
# Default media-type messages: "Problem: <name>", "Resolved in 5m 3s: <name>",
# body lines "Problem name:", "Host:", "Original problem ID:".
_ZABBIX_SUBJECT = re.compile(
    r"^(?P<state>Problem|Resolved(?: in [^:]+)?|Updated problem[^:]*)\s*:\s*(?P<name>.+)$",
    re.IGNORECASE,
)


def zabbix(subject: str, body: str) -> AlertSignature | None:
    problem_id = _body_field(body, "Original problem ID")
    name = _body_field(body, "Problem name")
    subject_match = _ZABBIX_SUBJECT.match(subject)
    if not (problem_id or (name and subject_match)):
        return None
    host = _body_field(body, "Host")
    recovery = bool(
        (subject_match and subject_match.group("state").lower().startswith("resolved"))
        or re.search(r"^Problem has been resolved", body, re.MULTILINE | re.IGNORECASE)
    )
    if problem_id:
        fingerprint = f"zabbix:{problem_id}"
    else:
        fingerprint = f"zabbix:{host}:{name or subject_match.group('name')}"
    return AlertSignature(bounded(fingerprint), recovery, "zabbix")


# --- Datto RMM --------------------------------------------------------------------
# Datto RMM (formerly CentraStage) alert mails carry the device and the alert in
# labelled lines; the exact template is the MSP's to edit, so both the sender
# domain and the labels are looked for.
_DATTO_SENDERS = ("centrastage.net", "rmm.datto.com", "datto.com", "datto.net")


def datto(sender: str, subject: str, body: str) -> AlertSignature | None:
    domain = sender.rpartition("@")[2]
    from_datto = any(domain == d or domain.endswith("." + d) for d in _DATTO_SENDERS)
    # A body that merely mentions Datto RMM (a PSA ticket about it) is not its alert.
    if not (from_datto or "datto rmm" in subject.lower()):
        return None
    alert_uid = _body_field(body, "Alert UID") or _body_field(body, "Alert ID")
    device = _body_field(body, "Device") or _body_field(body, "Hostname")
    alert = _body_field(body, "Alert") or _body_field(body, "Monitor")
    recovery = bool(re.search(r"\b(resolved|cleared)\b", subject, re.IGNORECASE))
    if alert_uid:
        return AlertSignature(bounded(f"datto:{alert_uid}"), recovery, "datto")
    if device:
        return AlertSignature(
            bounded(f"datto:{device}:{normalise_subject(alert or subject)}"), recovery, "datto"
        )
    return None


# --- Generic ----------------------------------------------------------------------
_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|sv|vs|tr|antw|antwort)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}([ t]\d{1,2}:\d{2}(:\d{2})?(\.\d+)?)?(z|[+-]\d{2}:?\d{2})?\b"
    r"|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b"
    r"|\b\d{1,2}:\d{2}(:\d{2})?\s*(am|pm)?\b"
    r"|\b(mon|tues?|wed|thu|thurs|fri|sat|sun)(day|nesday|urday|rsday)?\b"
    r"|\b(jan(uary)?|feb(ruary)?|mar(ch)?|apr(il)?|may|june?|july?|aug(ust)?"
    r"|sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)\b",
    re.IGNORECASE,
)
_NUMBER = re.compile(r"(?<!\w)\d+([.,]\d+)*%?(?!\w)")
_STATE_WORDS = re.compile(
    r"\b(problem|recovery|recovered|resolved|cleared|critical|warning|unknown|alert|ok|up|down|"
    r"failed|failure|success|succeeded|is|now|back)\b",
    re.IGNORECASE,
)
_RECOVERY = re.compile(r"\b(recovery|recovered|resolved|cleared|back to normal)\b", re.IGNORECASE)
# A state, not a word: "is OK", "now UP", "[OK]", "OK:" at the start. Not "FOLLOW UP".
_RECOVERY_STATE = re.compile(r"\b(is|now|back|state:?)\s+(OK|UP)\b|\[(OK|UP)\]|^\W*(OK|UP)\b\W")


def normalise_subject(subject: str) -> str:
    """A subject reduced to what stays the same across repeats of one alert."""
    subject = _PREFIX.sub("", subject)
    subject = _DATE.sub(" ", subject)
    subject = _NUMBER.sub("#", subject)
    subject = _STATE_WORDS.sub(" ", subject)
    subject = re.sub(r"[^\w#]+", " ", subject)
    return " ".join(subject.lower().split())


def generic(sender: str, subject: str) -> AlertSignature:
    recovery = bool(_RECOVERY.search(subject) or _RECOVERY_STATE.search(subject))
    return AlertSignature(
        bounded(f"generic:{sender}:{normalise_subject(subject)}"), recovery, "generic"
    )


def detect_preset(sender: str, subject: str, body: str) -> AlertSignature | None:
    """The signature of a known monitoring tool's alert, or None."""
    return nagios(subject, body) or zabbix(subject, body) or datto(sender, subject, body)


def from_rule_pattern(pattern: str, sender: str, subject: str) -> AlertSignature | None:
    """A fingerprint from an intake rule's regex: its groups (or whole match) on the subject."""
    try:
        match = patterns.search(pattern, subject)
    except patterns.PatternTimeout:
        return None
    if not match:
        return None
    key = "|".join(g or "" for g in match.groups()) if match.groups() else match.group(0)
    recovery = generic(sender, subject).recovery
    return AlertSignature(bounded(f"rule:{sender}:{key}"), recovery, "rule")
