"""Decoding a mail's bytes when the declared charset is wrong, unknown or missing."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from desklib.charsets import decode_bytes, normalise_charset

# "会議室①のプロジェクター" as Outlook writes it (CP50220): ISO-2022-JP with the NEC
# circled number ① at JIS 0x2D21, which the stdlib's ISO-2022-JP codecs reject.
ISO2022JP_WITH_NEC_CIRCLED_ONE = b"\x1b$B2q5D<<-!$N%W%m%8%'%/%?!<\x1b(B"

LABELS_SEEN_IN_MAIL = [
    None,
    "",
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "windows-1252",
    "unknown-8bit",
    "x-foo-bar",
    "ks_c_5601-1987",
    "gb2312",
    "shift_jis",
    "iso-2022-jp",
    "utf-7",
    "utf-16",
    "koi8-r",
]


@pytest.mark.parametrize("label", ["iso-8859-1", "ISO-8859-1", "latin1", '"iso_8859-1"'])
def test_a_latin1_label_decodes_as_windows_1252(label):
    data = b"\x80 1.249 \x96 \x93Next Business Day\x94"
    assert decode_bytes(data, label) == "€ 1.249 – “Next Business Day”"


def test_a_latin1_label_on_utf8_bytes_is_read_as_utf8():
    assert decode_bytes("Grüße – Jörg".encode(), "iso-8859-1") == "Grüße – Jörg"


def test_undefined_windows_1252_bytes_fall_back_to_latin1_instead_of_failing():
    assert decode_bytes(b"a\x81b\x8dc\x80", "iso-8859-1") == "a\x81b\x8dc€"


@pytest.mark.parametrize("label", ["x-foo-bar", "utf8mb4", "unknown-8bit", "x-unknown", ""])
def test_an_unknown_label_names_no_codec(label):
    assert normalise_charset(label) is None


@pytest.mark.parametrize("label", ["x-foo-bar", "utf8mb4", "unknown-8bit", None])
def test_utf8_bytes_under_an_unknown_label_are_read_as_utf8(label):
    assert decode_bytes("Hélène – répond".encode(), label) == "Hélène – répond"


def test_ks_c_5601_1987_is_read_as_korean():
    text = "안녕하세요, 프린터가 고장났습니다"
    assert normalise_charset("ks_c_5601-1987") == "cp949"
    assert decode_bytes(text.encode("cp949"), "ks_c_5601-1987") == text


@pytest.mark.parametrize("label", ["utf-7", "UTF-7", "unicode-1-1-utf-7"])
def test_utf7_is_decoded(label):
    assert decode_bytes(b"Gr+APwA3w-e +IKw-", label) == "Grüße €"


def test_an_rfc2231_language_suffix_on_a_label_is_ignored():
    assert normalise_charset("utf-8*de") == "utf-8"


def test_iso_2022_jp_with_a_nec_circled_number_is_decoded_through_cp932():
    # The stdlib cannot decode it, so this input takes the cp932 route.
    with pytest.raises(UnicodeDecodeError):
        ISO2022JP_WITH_NEC_CIRCLED_ONE.decode("iso2022_jp_ext")
    assert decode_bytes(ISO2022JP_WITH_NEC_CIRCLED_ONE, "iso-2022-jp") == "会議室①のプロジェクター"


def test_undeclared_iso_2022_jp_is_recognised_by_its_escapes():
    assert decode_bytes(ISO2022JP_WITH_NEC_CIRCLED_ONE) == "会議室①のプロジェクター"


def test_us_ascii_with_8bit_bytes_is_read_as_utf8_or_windows_1252():
    assert decode_bytes("café".encode(), "us-ascii") == "café"
    assert decode_bytes(b"caf\xe9 \x80", "us-ascii") == "café €"


def test_undeclared_windows_1252_of_some_length_is_read_as_windows_1252():
    text = "Der Server ist nicht erreichbar. Grüße, Jörg Müller"
    assert decode_bytes(text.encode("cp1252")) == text


@pytest.mark.parametrize("text", ["Straße", "Größe", "Café crème – déjà vu"])
def test_short_undeclared_windows_1252_is_read_as_windows_1252(text):
    assert decode_bytes(text.encode("cp1252")) == text


def test_windows_1252_bytes_labelled_utf8_are_read_as_windows_1252():
    text = "Preis: 1.249 € – inkl. MwSt."
    assert decode_bytes(text.encode("cp1252"), "utf-8") == text


@pytest.mark.parametrize("label", [label for label in LABELS_SEEN_IN_MAIL if label != "utf-16"])
def test_decode_bytes_drops_nul_characters(label):
    assert decode_bytes(b"Result: 0x1\x00\x00 done", label) == "Result: 0x1 done"


def test_utf16_text_loses_its_nul_characters():
    assert decode_bytes("a\x00b".encode("utf-16-le"), "utf-16-le") == "ab"


@settings(max_examples=300, database=None, deadline=None)
@given(data=st.binary(max_size=200), label=st.sampled_from(LABELS_SEEN_IN_MAIL))
def test_decode_bytes_never_raises_and_never_returns_nul(data, label):
    text = decode_bytes(data, label)
    assert isinstance(text, str)
    assert "\x00" not in text


def test_a_punycode_label_does_not_make_decoding_raise():
    assert decode_bytes(b"Path: C:\\Temp", "punycode") == "Path: C:\\Temp"


def test_empty_bytes_are_empty_text():
    assert decode_bytes(b"", "utf-8") == ""


def test_a_charset_label_with_a_nul_byte_is_treated_as_unknown():
    # Found by the property test: codecs.lookup raises ValueError on an embedded NUL.
    assert decode_bytes("Grüße".encode(), "\x00utf-8") == "Grüße"
