"""Header values: RFC 2047 encoded words, raw 8-bit bytes, Message-IDs."""

import pytest

from desklib.headers import (
    MAX_MSGID_LENGTH,
    decode_header_value,
    message_ids_in,
    normalise_message_id,
)


def raw_header(data: bytes) -> str:
    """A header value as the stdlib parser hands it over: 8-bit bytes as surrogates."""
    return data.decode("ascii", "surrogateescape")


def test_a_utf8_character_split_across_two_encoded_words_is_joined():
    # "Störung": the two bytes of "ö" are in different words.
    assert decode_header_value("=?UTF-8?B?U3TD?= =?UTF-8?B?tnJ1bmc=?=") == "Störung"


def test_a_split_character_in_q_words_on_folded_lines_is_joined():
    value = "=?utf-8?Q?bitte_pr=C3?=\r\n =?utf-8?Q?=BCfen?="
    assert decode_header_value(value) == "bitte prüfen"


def test_whitespace_between_encoded_words_is_not_part_of_the_text():
    assert decode_header_value("=?UTF-8?Q?Server?= \t =?UTF-8?Q?raum?=") == "Serverraum"


def test_text_between_encoded_words_is_kept():
    value = "Re: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus =?UTF-8?Q?M=C3=BCnchen?= [HD-42]"
    assert decode_header_value(value) == "Re: Grüße aus München [HD-42]"


def test_adjacent_words_in_different_charsets_are_decoded_each_in_its_own():
    value = "=?iso-8859-1?Q?Gr=FC=DFe?= =?utf-8?Q?_=E2=80=93_J=C3=B6rg?="
    assert decode_header_value(value) == "Grüße – Jörg"


def test_a_latin1_encoded_word_is_read_as_windows_1252():
    assert decode_header_value("=?iso-8859-1?Q?=80_1.249_=96_Angebot?=") == "€ 1.249 – Angebot"


@pytest.mark.parametrize("word", ["=?UTF-8?B?QUJDR?=", "=?UTF-8?B?!!!*?=", "=?UTF-8?B?w?="])
def test_bad_base64_in_a_b_word_does_not_raise_or_lose_the_rest(word):
    value = decode_header_value(f"Backup failed {word} on srv1")
    assert value.startswith("Backup failed ")
    assert value.endswith(" on srv1")


def test_an_encoded_word_in_an_unknown_charset_is_read_from_its_bytes():
    assert decode_header_value("=?x-foo-bar?Q?caf=C3=A9?=") == "café"


def test_raw_utf8_in_a_header_is_decoded():
    value = raw_header("Drucker im Büro – Papierstau".encode())
    assert decode_header_value(value) == "Drucker im Büro – Papierstau"


def test_raw_windows_1252_in_a_header_is_decoded():
    value = raw_header("Rückruf erbeten – Angebot für Müller".encode("cp1252"))
    assert decode_header_value(value) == "Rückruf erbeten – Angebot für Müller"


@pytest.mark.parametrize("hint", [None, "iso-8859-1"])
@pytest.mark.parametrize("text", ["Café", "Fehler: Zugriff verweigert für Benutzer Jörg"])
def test_short_raw_windows_1252_in_a_header_is_decoded(text, hint):
    assert decode_header_value(raw_header(text.encode("cp1252")), hint) == text


def test_folded_lines_are_unfolded():
    assert decode_header_value("Disk space low\r\n\ton srv1") == "Disk space low on srv1"


def test_nul_characters_are_dropped_from_headers():
    assert decode_header_value("Scheduled task\x00 report") == "Scheduled task report"
    assert decode_header_value("=?UTF-8?Q?task=00_report?=") == "task report"


@pytest.mark.parametrize("value", [None, ""])
def test_an_empty_header_is_empty_text(value):
    assert decode_header_value(value) == ""


@pytest.mark.parametrize(
    "value", ["<abc.123@mail.example>", "  <abc.123@mail.example>  ", "abc.123@mail.example"]
)
def test_normalise_message_id_strips_brackets_and_space(value):
    assert normalise_message_id(value) == "abc.123@mail.example"


def test_normalise_message_id_hashes_an_overlong_id():
    long_id = "<" + "a" * 300 + "@mail.example>"
    other_long_id = "<" + "b" * 300 + "@mail.example>"
    normalised = normalise_message_id(long_id)
    assert normalised.startswith("sha256:")
    assert len(normalised) <= MAX_MSGID_LENGTH
    assert normalised == normalise_message_id(long_id)
    assert normalised != normalise_message_id(other_long_id)


def test_a_message_id_of_the_maximum_length_is_kept_as_it_is():
    mid = "a" * (MAX_MSGID_LENGTH - len("@x.example")) + "@x.example"
    assert normalise_message_id(f"<{mid}>") == mid


def test_message_ids_in_reads_a_folded_references_header_in_order():
    value = "<first@a.example> <second@b.example>\r\n <third@c.example>"
    assert message_ids_in(value) == ["first@a.example", "second@b.example", "third@c.example"]


def test_message_ids_in_ignores_text_around_the_ids():
    value = 'Your message of Tue <orig@a.example> ("Printer")'
    assert message_ids_in(value) == ["orig@a.example"]


def test_message_ids_in_reads_ids_without_brackets():
    assert message_ids_in("first@a.example second@b.example") == [
        "first@a.example",
        "second@b.example",
    ]


def test_message_ids_in_keeps_the_newest_ids_when_there_are_too_many():
    value = " ".join(f"<id{n}@a.example>" for n in range(60))
    ids = message_ids_in(value, limit=50)
    assert len(ids) == 50
    assert ids[0] == "id10@a.example"
    assert ids[-1] == "id59@a.example"


@pytest.mark.parametrize("value", [None, "", "   "])
def test_message_ids_in_an_empty_header_are_none(value):
    assert message_ids_in(value) == []
