"""Parse raw mail bytes into what the intake needs, for any mail, without raising.

The parser is lenient by design (stdlib `compat32`): every header and part is
decoded by our own code in `charsets` and `headers`, each defect is noted in
`ParsedMail.defects`, and a mail that is barely a mail still yields a subject,
a sender and a body where it has them.
"""

import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.message import Message
from email.utils import parsedate_to_datetime

import nh3

from .addresses import addresses_in
from .charsets import decode_bytes, storable_text
from .headers import decode_header_value, message_ids_in, normalise_message_id, raw_header_bytes
from .htmltext import html_to_text
from .mailparts import default_filename, extract_uuencoded, filename_of, safe_filename

NO_SUBJECT = "(no subject)"
_MBOX_FROM_LINE = re.compile(rb"\AFrom [^\r\n]*\r?\n")
_MAX_DEPTH = 20
# Inline images reference their part by "cid:", so the sanitiser keeps that scheme.
_URL_SCHEMES = {"http", "https", "mailto", "cid", "tel"}


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    inline: bool = False


@dataclass
class ParsedMail:
    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    subject: str = NO_SUBJECT
    from_name: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    date: datetime | None = None
    date_is_fallback: bool = False
    text: str = ""
    html: str = ""  # sanitised with nh3; safe to render
    content_type: str = "text/plain"
    report_type: str = ""
    part_types: set[str] = field(default_factory=set)
    headers: list[tuple[str, str]] = field(default_factory=list)  # (lower-case name, value)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def header(self, name: str) -> str:
        """The first value of header `name` (case-insensitive), or ''."""
        name = name.lower()
        return next((v for n, v in self.headers if n == name), "")

    def header_values(self, name: str) -> list[str]:
        name = name.lower()
        return [v for n, v in self.headers if n == name]

    @property
    def thread_ids(self) -> list[str]:
        """Every Message-ID this mail says it answers, In-Reply-To first."""
        seen: dict[str, None] = {}
        for mid in [*self.in_reply_to, *reversed(self.references)]:
            seen.setdefault(mid, None)
        return list(seen)


def sanitise_html(html: str) -> str:
    """HTML made safe to show: scripts, handlers and foreign schemes removed."""
    if not html:
        return ""
    return nh3.clean(storable_text(html), url_schemes=_URL_SCHEMES)


def parse_mail(raw: bytes, received_at: datetime) -> ParsedMail:
    """Parse `raw` into a ParsedMail. Never raises on any input bytes.

    Whatever breaks inside (a RecursionError on absurd nesting, say) leaves a
    ParsedMail with what could be read and the reason in `defects`.
    """
    try:
        return _parse(raw, received_at)
    except Exception as exc:  # RecursionError and anything the stdlib throws on odd input
        parsed = ParsedMail(date=received_at, date_is_fallback=True)
        parsed.defects.append(f"mail could not be parsed: {exc!r}")
        head = (raw or b"")[:65536]
        subject = re.search(rb"^Subject:[ \t]*([^\r\n]*)", head, re.MULTILINE | re.IGNORECASE)
        if subject:
            parsed.subject = decode_header_value(decode_bytes(subject.group(1)))[:998] or NO_SUBJECT
        parsed.text = decode_bytes(head)
        return parsed


def _parse(raw: bytes, received_at: datetime) -> ParsedMail:
    parsed = ParsedMail()
    raw = _MBOX_FROM_LINE.sub(b"", raw or b"", count=1)
    try:
        msg = email.message_from_bytes(raw, policy=email_policy.compat32)
    except Exception as exc:  # the stdlib parser is lenient, but not provably so
        parsed.defects.append(f"unparseable message: {exc!r}")
        parsed.text = decode_bytes(raw)
        parsed.date, parsed.date_is_fallback = received_at, True
        return parsed

    parsed.defects.extend(type(d).__name__ for d in msg.defects)
    hint = _charset_hint(msg)
    raw_headers: list[tuple[str, str]] = []
    for name, value in msg.raw_items():
        name = str(name).strip().lower()
        raw_headers.append((name, _raw_text(value, hint)))
        parsed.headers.append((name, decode_header_value(value, hint)))
    _read_envelope(raw_headers, parsed, received_at)

    try:
        parsed.content_type = msg.get_content_type()
        parsed.report_type = (msg.get_param("report-type") or "").lower() if msg else ""
    except Exception:
        parsed.defects.append("unreadable Content-Type")
    text_parts: list[str] = []
    html_parts: list[str] = []
    _walk(msg, parsed, text_parts, html_parts, depth=0)

    html = html_parts[0] if html_parts else ""
    text = "\n\n".join(t for t in text_parts if t.strip())
    text, files = extract_uuencoded(text)
    parsed.attachments += [ParsedAttachment(*file) for file in files]
    parsed.text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not parsed.text and html:
        parsed.text = html_to_text(html).replace("\r\n", "\n").replace("\r", "\n")
    parsed.html = sanitise_html(html)
    return parsed


def _raw_text(value, hint: str | None) -> str:
    """A header's text with raw 8-bit bytes decoded but encoded words left as they are."""
    value = value if isinstance(value, str) else str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_bytes(raw_header_bytes(value), hint=hint)
    return storable_text(value)


def _read_envelope(
    raw_headers: list[tuple[str, str]], parsed: ParsedMail, received_at: datetime
) -> None:
    def raw(*names: str) -> list[str]:
        return [v for n, v in raw_headers if n in names]

    subject = parsed.header("subject")
    parsed.subject = subject[:998] if subject.strip() else NO_SUBJECT
    # Addresses are split before encoded words are decoded: a decoded display
    # name may hold the commas and brackets that separate addresses.
    for header in ("from", "sender", "reply-to", "return-path"):
        senders = _named_addresses(raw(header))
        if senders:
            parsed.from_name, parsed.from_address = senders[0]
            break
    else:
        # "From: MAILER-DAEMON" (no domain) still says who wrote it.
        local = _named_addresses(raw("from"), local_ok=True)
        if local:
            parsed.from_name, parsed.from_address = local[0]
    parsed.to = [a for _, a in _named_addresses(raw("to"))]
    parsed.cc = [a for _, a in _named_addresses(raw("cc"))]
    parsed.delivered_to = [a for _, a in _named_addresses(raw("delivered-to", "x-original-to"))]
    parsed.message_id = normalise_message_id(_first_msgid(parsed.header("message-id")))
    parsed.in_reply_to = message_ids_in(parsed.header("in-reply-to"))
    parsed.references = message_ids_in(parsed.header("references"))
    parsed.date, parsed.date_is_fallback = _date(parsed.header("date"), received_at)
    if parsed.date_is_fallback:
        parsed.defects.append("missing or unreadable Date: used the receive time")


def _first_msgid(value: str) -> str:
    """The Message-ID: the first bracketed id, else the first word outside (comments)."""
    bracketed = re.search(r"<([^<>\s]+)>", value)
    if bracketed:
        return bracketed.group(1)
    words = re.sub(r"\([^()]*\)", " ", value).split()
    return words[0] if words else ""


def _clean_address(address: str) -> str:
    return storable_text(address or "").strip().strip("<>").lower()[:254]


def _named_addresses(values: list[str], local_ok: bool = False) -> list[tuple[str, str]]:
    """(decoded display name, address) for each real address in the header values."""
    pairs = addresses_in(values)
    found = []
    for name, addr in pairs:
        if "=?" in addr:  # encoded words where they do not belong, but readable
            addr = decode_header_value(addr)
        address = _clean_address(addr)
        if "@" in address or (local_ok and address):
            found.append((decode_header_value(name)[:200], address))
    return found[:100]


def _date(value: str, received_at: datetime) -> tuple[datetime, bool]:
    if not value or len(value) > 200:
        return received_at, True
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return received_at, True
    if when is None:
        return received_at, True
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        when = when.astimezone(UTC)
    except (OverflowError, ValueError):
        return received_at, True
    # A mail dated before e-mail was common, or days ahead of its arrival, is lying.
    if when.year < 1980 or when > received_at + timedelta(days=2):
        return received_at, True
    return when, False


def _walk(
    part: Message, parsed: ParsedMail, texts: list[str], htmls: list[str], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        parsed.defects.append("MIME nesting too deep; inner parts kept in the raw message only")
        return
    try:
        ctype = storable_text(part.get_content_type())[:100]
    except Exception:
        ctype = "application/octet-stream"
    parsed.part_types.add(ctype)

    if ctype == "message/rfc822":
        _attach_message(part, parsed)
        return
    if part.is_multipart():
        payload = part.get_payload()
        for sub in payload if isinstance(payload, list) else []:
            if isinstance(sub, Message):
                _walk(sub, parsed, texts, htmls, depth + 1)
        return

    disposition = (part.get_content_disposition() or "").lower()
    filename = filename_of(part)
    body = _payload_bytes(part)
    is_body_text = disposition != "attachment" and not filename
    if ctype == "text/plain" and is_body_text:
        texts.append(decode_bytes(body, _charset(part)))
    elif ctype == "text/html" and is_body_text and not htmls:
        htmls.append(decode_bytes(body, _charset(part)))
    else:
        content_id = storable_text(str(part.get("Content-ID", "") or "")).strip().strip("<>")
        parsed.attachments.append(
            ParsedAttachment(
                filename=filename or default_filename(ctype, len(parsed.attachments) + 1),
                content_type=ctype[:100],
                content=body,
                content_id=content_id[:250],
                inline=disposition == "inline"
                or (bool(content_id) and disposition != "attachment"),
            )
        )


def _attach_message(part: Message, parsed: ParsedMail) -> None:
    """A forwarded mail (message/rfc822) is kept whole as an .eml attachment."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    data = b""
    subject = ""
    if isinstance(inner, Message):
        subject = decode_header_value(str(inner.get("Subject", "") or ""))
        try:
            data = inner.as_bytes(policy=email_policy.compat32)
        except RecursionError:
            data = b""
            parsed.defects.append("forwarded mail nested too deep; kept in the raw message only")
        except Exception:
            data = str(inner).encode("utf-8", "surrogateescape")
    else:
        data = _payload_bytes(part)
    name = safe_filename(subject or "forwarded message") + ".eml"
    parsed.attachments.append(
        ParsedAttachment(filename=name, content_type="message/rfc822", content=data)
    )


def _charset_hint(msg: Message) -> str | None:
    """The first charset the mail declares anywhere: the likeliest for raw 8-bit headers."""
    try:
        for part in msg.walk():
            charset = part.get_content_charset()
            if charset:
                return charset
    except Exception:
        return None
    return None


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:
        return None


def _payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        payload = part.get_payload()
        if isinstance(payload, str):
            return payload.encode("utf-8", "surrogateescape")
        try:
            return part.as_bytes(policy=email_policy.compat32)
        except Exception:
            return b""
    return data
