"""Random and mutated mails never make the pipeline raise, and the raw bytes stay."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.intake_helpers import ingest
from tests.mails import CORPUS, REPO
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db

RECORDED = {"created", "threaded", "folded", "suppressed", "duplicate", "unrouted", "rejected"}


def _seed_mails() -> list[bytes]:
    paths = sorted((CORPUS / "email").rglob("*.box"))[:40] + sorted(
        (CORPUS / "email").rglob("*.eml")
    )
    paths += sorted((REPO / "samples" / "mail").glob("*.eml"))
    # Large mails make each example slow without finding more; the head is where parsers break.
    return [Path(p).read_bytes()[:20_000] for p in paths]


SEEDS = _seed_mails()


@st.composite
def mutated_mail(draw) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["insert", "delete", "flip", "truncate", "splice", "crlf"]))
        pos = draw(st.integers(0, len(raw)))
        if op == "insert":
            raw[pos:pos] = draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del raw[pos : pos + draw(st.integers(1, 200))]
        elif op == "flip" and raw:
            raw[min(pos, len(raw) - 1)] = draw(st.integers(0, 255))
        elif op == "truncate":
            del raw[pos:]
        elif op == "splice":
            # Header-ish noise: encoded words, NULs, boundaries, long lines.
            raw[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\r\nSubject: =?utf-8?B?4pyTIGRvbmU=?= =?utf-8?Q?=E2=9C?=\r\n",
                        b"\x00\x00",
                        b"\r\n--boundary--\r\n",
                        b"\r\nContent-Type: multipart/mixed; boundary=\r\n",
                        b"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!notbase64",
                        b"\r\nDate: " + b"9" * 500 + b"\r\n",
                        b"\r\nContent-Type: text/plain; charset=x-nonexistent\r\n",
                        b"=?unknown?Q?=FF=FE?=",
                    ]
                )
            )
        elif op == "crlf":
            raw = bytearray(bytes(raw).replace(b"\r\n", b"\n"))
    return bytes(raw)


def _assert_kept_and_recorded(raw: bytes) -> None:
    result = ingest(raw, to="acme@in.test")
    assert result.outcome in RECORDED, result.reason
    inbound = InboundMail.objects.order_by("-id").first()
    assert bytes(inbound.raw) == raw


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=4000))
def test_random_bytes_never_break_intake(acme, raw):
    _assert_kept_and_recorded(raw)


@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(raw=mutated_mail())
def test_mutated_real_mails_never_break_intake(acme, raw):
    _assert_kept_and_recorded(raw)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    subject=st.text(max_size=300),
    sender=st.text(max_size=100),
    body=st.text(max_size=2000),
)
def test_arbitrary_unicode_headers_and_bodies_never_break_intake(acme, subject, sender, body):
    raw = (
        f"From: {sender}\r\nTo: acme@in.test\r\nSubject: {subject}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode("utf-8", "surrogatepass")
    _assert_kept_and_recorded(raw)
