"""Decoding header values: RFC 2047 encoded words, raw 8-bit bytes, folding.

The stdlib's `decode_header` decodes each encoded word alone, so a UTF-8
character split across two words (common from some mailers) turns into two
replacement characters. Here adjacent words in the same charset are joined
before decoding, and anything that fails falls back to the raw text.
"""

import base64
import binascii
import hashlib
import quopri
import re

from .charsets import decode_bytes, storable_text

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]+")


def raw_header_bytes(value: str) -> bytes:
    """The bytes the stdlib parser read for a header (it keeps 8-bit bytes as surrogates)."""
    return value.encode("utf-8", "surrogateescape")


def _decode_word_payload(encoding: str, payload: str) -> bytes:
    if encoding in "Bb":
        data = re.sub(r"[^A-Za-z0-9+/]", "", payload)
        data += "=" * (-len(data) % 4)
        try:
            return base64.b64decode(data)
        except (binascii.Error, ValueError):
            return payload.encode("ascii", "replace")
    return quopri.decodestring(payload.replace("_", " ").encode("ascii", "replace"), header=True)


def decode_header_value(value: str | None, hint: str | None = None) -> str:
    """A header value as readable text, whatever encoded words or raw bytes it holds.

    `hint`: the charset to try first for raw 8-bit bytes (the body's, usually).
    """
    if not value:
        return ""
    if not isinstance(value, str):
        value = str(value)
    # Raw 8-bit bytes in a header: decode them as UTF-8, else windows-1252.
    if any("\udc80" <= ch <= "\udcff" for ch in value):
        value = decode_bytes(raw_header_bytes(value), hint=hint)
    value = _FOLD.sub(" ", value)
    if "=?" not in value:
        return storable_text(value).strip()

    out: list[str] = []
    pending: list[bytes] = []
    pending_charset: str | None = None
    pos = 0

    def flush() -> None:
        nonlocal pending, pending_charset
        if pending:
            out.append(decode_bytes(b"".join(pending), pending_charset))
        pending, pending_charset = [], None

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        charset = match.group(1).split("*", 1)[0].lower()
        # Whitespace between two encoded words is not part of the text (RFC 2047 §6.2).
        if between and not (pending and between.isspace()):
            flush()
            out.append(between)
        if pending and charset != pending_charset:
            flush()
        pending.append(_decode_word_payload(match.group(2), match.group(3)))
        pending_charset = charset
        pos = match.end()
    flush()
    out.append(value[pos:])
    return storable_text("".join(out)).strip()


_MSGID = re.compile(r"<([^<>\s]+)>")
MAX_MSGID_LENGTH = 250


def normalise_message_id(value: str) -> str:
    """A Message-ID as stored and compared: no brackets, no spaces, bounded length."""
    value = storable_text(value or "").strip().strip("<>").strip()
    value = "".join(value.split())
    if len(value) > MAX_MSGID_LENGTH:
        # Overlong ids are hashed so they stay comparable in an indexed column.
        value = "sha256:" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()
    return value


def message_ids_in(value: str | None, limit: int = 50) -> list[str]:
    """Message-IDs in an In-Reply-To or References header, newest last, at most `limit`."""
    if not value:
        return []
    value = _FOLD.sub(" ", str(value))
    found = _MSGID.findall(value) or value.split()
    ids = [normalise_message_id(v) for v in found]
    return [i for i in ids if i][-limit:]
