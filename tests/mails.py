"""Building small test mails as bytes, and reading the shared corpus."""

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "mail"
CORPUS = REPO.parent / "shared" / "corpus"


def build_mail(
    *,
    to: str = "acme@in.test",
    sender: str = "Pat User <pat@customer.example>",
    subject: str = "Printer is broken",
    body: str = "It prints blank pages.",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    html: str | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 12, 1, 3, 0, tzinfo=UTC))
    msg["Message-ID"] = (
        message_id if message_id is not None else make_msgid(domain="customer.example")
    )
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def data_mail(name: str) -> bytes:
    return (DATA / name).read_bytes()


def corpus_dir(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.is_dir():
        pytest.skip(f"shared corpus not present at {path} (it lives beside the repo, in ../shared)")
    return path
