"""Plain text from HTML-only mails."""

from desklib.htmltext import html_to_text


def test_scripts_and_styles_leave_no_text():
    html = (
        "<style>p { color: red }</style><p>VPN is down</p><script>var t = document.cookie;</script>"
    )
    assert html_to_text(html) == "VPN is down"


def test_an_unclosed_script_leaves_no_text():
    assert html_to_text("<p>VPN is down</p><script>steal(document.cookie)") == "VPN is down"


def test_the_head_and_title_leave_no_text():
    html = "<html><head><title>Portal</title></head><body><p>VPN is down</p></body></html>"
    assert html_to_text(html) == "VPN is down"


def test_paragraphs_are_separated_by_one_blank_line():
    assert html_to_text("<p>First</p><p></p><p></p><p>Second</p>") == "First\n\nSecond"


def test_a_line_break_starts_a_new_line():
    assert html_to_text("<p>Dana Price<br>Harbour Law</p>") == "Dana Price\nHarbour Law"


def test_table_cells_are_separated_by_tabs():
    html = "<table><tr><td>Host</td><td>srv1</td></tr><tr><td>State</td><td>DOWN</td></tr></table>"
    lines = [line.strip() for line in html_to_text(html).splitlines() if line.strip()]
    assert lines == ["Host\tsrv1", "State\tDOWN"]


def test_character_references_are_decoded_and_nbsp_becomes_a_space():
    assert html_to_text("<p>Tom &amp; Jerry&nbsp;Ltd &lt;3 &#8364;</p>") == "Tom & Jerry Ltd <3 €"


def test_outlook_conditional_comments_leave_no_text():
    assert html_to_text("<!--[if mso]><p>mso only</p><![endif]--><p>Hello</p>") == "Hello"


def test_nul_characters_are_dropped():
    assert html_to_text("<p>Result\x00: 0x1</p>") == "Result: 0x1"


def test_a_body_after_a_head_without_its_end_tag_is_kept():
    html = "<html><head><title>Alert</title><body><p>Disk full on srv1</p></body></html>"
    assert html_to_text(html) == "Disk full on srv1"


def test_paragraphs_on_crlf_lines_are_separated_by_one_blank_line():
    assert html_to_text("<p>First</p>\r\n<p>Second</p>") == "First\n\nSecond"
