"""Attachment names and uuencoded files, as mail writes them in every era.

Filenames come from the raw headers so no byte is lost (RFC 2231 with its charset,
%-escapes and continuations, RFC 2047 words, or plain 8-bit), and are made safe
to show and store. Uuencoded files in a body become attachments.
"""

import binascii
import bisect
import mimetypes
import re
from email.message import Message
from urllib.parse import unquote_to_bytes

from .charsets import decode_bytes
from .headers import decode_header_value

_NAME_PARAM = re.compile(
    r"""(?:^|;)\s*(?P<key>filename|name)(?P<star>\*(?P<index>\d+)?(?P<ext>\*)?)?\s*=\s*"""
    r"""(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<token>[^;\s]*))""",
    re.IGNORECASE,
)


def filename_of(part: Message) -> str:
    """The part's filename, read from the raw headers so no byte is lost.

    Handles RFC 2231 (charset, %-escapes, continuations) including stray raw 8-bit
    bytes, RFC 2047 encoded words, and plain raw bytes; Content-Disposition's
    filename wins over Content-Type's name.
    """
    for header, key in (("content-disposition", "filename"), ("content-type", "name")):
        # raw_items(): get() would hand back a Header object that already lost 8-bit bytes.
        raw = next((str(v) for k, v in part.raw_items() if k.lower() == header), "")
        name = _name_param(_FOLDED.sub(" ", raw), key)
        if name:
            return safe_filename(name)
    return ""


_FOLDED = re.compile(r"\r?\n[ \t]*")


def _name_param(header: str, key: str) -> str:
    plain = ""
    segments: dict[int, tuple[bytes, bool]] = {}
    for match in _NAME_PARAM.finditer(header):
        if match.group("key").lower() != key:
            continue
        value = match.group("quoted")
        value = value.replace('\\"', '"') if value is not None else match.group("token") or ""
        data = value.encode("utf-8", "surrogateescape")
        if match.group("star") is None:
            if not plain:
                plain = decode_header_value(value) if "=?" in value else decode_bytes(data)
            continue
        index = int(match.group("index") or 0)
        extended = match.group("index") is None or bool(match.group("ext"))
        segments[index] = (data, extended)
    if not segments:
        return plain
    charset = None
    parts = []
    for index in sorted(segments):
        data, extended = segments[index]
        if extended:
            if index == min(segments) and data.count(b"'") >= 2:
                declared, _, data = data.split(b"'", 2)
                charset = declared.decode("ascii", "replace") or None
            data = unquote_to_bytes(data)
        parts.append(data)
    return decode_bytes(b"".join(parts), charset) or plain


_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_filename(name: str) -> str:
    name = _UNSAFE_FILENAME.sub("_", name).strip(" ._") or "attachment"
    if len(name) > 180:
        stem, dot, ext = name.rpartition(".")
        name = (stem[:170] + dot + ext[:9]) if dot and len(ext) < 10 else name[:180]
    return name


def default_filename(ctype: str, n: int) -> str:
    if ctype == "application/ms-tnef":
        return "winmail.dat"
    ext = mimetypes.guess_extension(ctype) or ".bin"
    return f"attachment-{n}{ext}"


_UU_BEGIN = re.compile(r"^begin [0-7]{3,4} (\S[^\r\n]*)$")


def extract_uuencoded(text: str) -> tuple[str, list[tuple[str, str, bytes]]]:
    """Old mailers put uuencoded files in the body text; they become attachments.

    Returns the text without them, and (filename, content type, bytes) for each.
    One pass over the lines: a "begin" without a later "end" stays text.
    """
    files: list[tuple[str, str, bytes]] = []
    if "begin " not in text or "\nend" not in text:
        return text, files
    lines = text.split("\n")
    ends = [n for n, line in enumerate(lines) if line.rstrip("\r") == "end"]
    kept: list[str] = []
    n = 0
    while n < len(lines):
        match = _UU_BEGIN.match(lines[n].rstrip("\r"))
        after = bisect.bisect_right(ends, n) if match else len(ends)
        end = ends[after] if after < len(ends) else None
        if end is None:
            kept.append(lines[n])
            n += 1
            continue
        data = _uudecode(lines[n + 1 : end])
        if data is None:
            kept.append(lines[n])
            n += 1
            continue
        name = safe_filename(match.group(1).strip())
        files.append((name, mimetypes.guess_type(name)[0] or "application/octet-stream", data))
        n = end + 1
    return "\n".join(kept), files


def _uudecode(lines: list[str]) -> bytes | None:
    data = bytearray()
    for line in lines:
        line = line.rstrip("\r")
        if not line.strip() or line == "`":
            continue
        try:
            data += binascii.a2b_uu(line)
        except binascii.Error:
            # Some encoders pad lines wrongly; decode what the length byte says.
            nbytes = (((ord(line[0]) - 32) & 63) * 4 + 5) // 3
            try:
                data += binascii.a2b_uu(line[:nbytes])
            except binascii.Error:
                return None
    return bytes(data)
