"""Turning a mail's bytes into text when the mail lies about its charset.

Mail in the wild declares charsets that do not exist (`ks_c_5601-1987`,
`unknown-8bit`), declares latin-1 for windows-1252 text (the WHATWG encoding
standard maps the one to the other for that reason), or declares nothing at all.
`decode_bytes` never raises and never returns a NUL character (PostgreSQL
rejects NUL in text).
"""

import codecs
import re

from charset_normalizer import from_bytes

# Labels seen in real mail, mapped to the codec that decodes what senders meant.
_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "us-ascii": "ascii",
    "ansi_x3.4-1968": "ascii",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "iso-8859-8-i": "iso-8859-8",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "utf8": "utf-8",
    "unicode-1-1-utf-7": "utf-7",
}
# Labels that say "we don't know": guess from the bytes.
_UNKNOWN = {"", "unknown-8bit", "x-unknown", "unknown", "8bit", "default", "x-user-defined"}
# Python codecs that are not charsets a mail can be written in.
_NOT_MAIL_CHARSETS = {"punycode", "idna", "unicode_escape", "raw_unicode_escape", "undefined"}
# What a detector may answer that a mail is practically never written in.
_IMPLAUSIBLE = ("utf_16", "utf_32", "cp037", "cp273", "cp424", "cp500", "cp875", "cp1026", "cp1140")


def normalise_charset(label: str | None) -> str | None:
    """The Python codec for a declared charset label, or None when it names none."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = label.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    if label in _UNKNOWN:
        return None
    label = _ALIASES.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):  # ValueError: a NUL in the label
        return None
    if info.name in _NOT_MAIL_CHARSETS or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def _guess(data: bytes, hint: str | None = None) -> str:
    # ISO-2022-JP is 7-bit, so it passes for ASCII unless its escapes are looked for.
    if b"\x1b$" in data or b"\x1b(" in data:
        text = _strict(data, "iso2022_jp_ext")
        if text is None:
            text = _iso2022jp_via_cp932(data)
        if text is not None:
            return text
    text = _strict(data, "utf-8")
    if text is not None:
        return text
    if hint and hint != "cp1252":
        text = _strict(data, hint)
        if text is not None:
            return text
    if _mostly_isolated_high_bytes(data):
        # Western European text: é, ü, ß, – between ASCII letters. Detectors guess
        # wildly on such short samples; windows-1252 is what senders meant.
        return _cp1252_lenient(data)
    best = from_bytes(data[:65536]).best() if len(data) >= 4 else None
    if best is not None and best.encoding and not best.encoding.startswith(_IMPLAUSIBLE):
        text = _strict(data, best.encoding)
        if text is not None:
            return text
    return _cp1252_lenient(data)


def _mostly_isolated_high_bytes(data: bytes) -> bool:
    """Whether most 8-bit bytes stand alone, as accented letters in Latin text do.

    Multi-byte charsets (CJK) and scripts written wholly in 8-bit bytes (Cyrillic,
    Greek in their code pages) have them in runs instead.
    """
    high = isolated = 0
    for i, byte in enumerate(data):
        if byte >= 0x80:
            high += 1
            before = data[i - 1] if i else 0
            after = data[i + 1] if i + 1 < len(data) else 0
            isolated += before < 0x80 and after < 0x80
    return high > 0 and isolated * 2 > high


def _cp1252_lenient(data: bytes) -> str:
    # The five bytes cp1252 leaves undefined fall back to latin-1, as browsers do.
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return "".join(
            chr(b) if b in (0x81, 0x8D, 0x8F, 0x90, 0x9D) else bytes([b]).decode("cp1252")
            for b in data
        )


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """Text a database takes: no NUL (PostgreSQL refuses it) and no lone surrogate
    (no driver can encode one; UTF-7 and broken UTF-16 produce them)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    return _LONE_SURROGATE.sub("\ufffd", text)


def decode_bytes(data: bytes, declared: str | None = None, hint: str | None = None) -> str:
    """Decode `data`, trusting `declared` only as far as the bytes agree with it.

    `hint` is a charset to try first when nothing is declared (for raw 8-bit
    headers: the charset the body declares).
    """
    if not data:
        return ""
    codec = normalise_charset(declared)
    if codec is None:
        text = _guess(data, normalise_charset(hint))
    elif codec == "ascii":
        # "us-ascii" with 8-bit bytes is nearly always UTF-8 or windows-1252 in disguise.
        text = _strict(data, "ascii") if b"\x1b" not in data else None
        if text is None:
            text = _guess(data)
    elif codec == "cp1252":
        text = _strict(data, "utf-8") if _looks_like_utf8(data) else None
        if text is None:
            text = _cp1252_lenient(data)
    else:
        text = _strict(data, codec)
        if text is None:
            text = _guess(data, _MISLABELLED_AS.get(codec))
    return storable_text(text)


# What bytes labelled with one charset most often really are.
_MISLABELLED_AS = {"iso2022_jp": "cp932", "euc_jp": "cp932", "gb18030": "big5", "big5": "cp950"}
_JIS_SEGMENT = re.compile(rb"\x1b\$[@B](.*?)(?=\x1b\(|\Z)", re.DOTALL)


def _iso2022jp_via_cp932(data: bytes) -> str | None:
    """ISO-2022-JP with Microsoft's extensions (CP50220: circled numbers, NEC rows).

    Python has no codec for them, but they map one to one onto Shift_JIS (cp932),
    so each two-byte JIS pair is converted arithmetically and decoded as cp932.
    """

    def to_sjis(match: re.Match) -> bytes:
        jis = match.group(1)
        out = bytearray()
        for i in range(0, len(jis) - 1, 2):
            j1, j2 = jis[i], jis[i + 1]
            s1 = ((j1 + 1) >> 1) + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + (0x1F if j1 % 2 else 0x7E)
            if j1 % 2 and s2 >= 0x7F:
                s2 += 1
            out += bytes([s1 & 0xFF, s2 & 0xFF])
        return bytes(out)

    sjis = _JIS_SEGMENT.sub(to_sjis, data)
    sjis = re.sub(rb"\x1b\([BJ]", b"", sjis)
    return _strict(sjis, "cp932")


_UTF8_MULTIBYTE = re.compile(rb"[\xc2-\xf4][\x80-\xbf]+")


def _looks_like_utf8(data: bytes) -> bool:
    """A latin-1 label on bytes that hold UTF-8 sequences: the sender meant UTF-8."""
    return bool(_UTF8_MULTIBYTE.search(data))
