"""Every real-world mail in ../shared/corpus/email ingests into a recorded outcome."""

import pytest

from desklib.mailfiles import iter_mails
from tests.intake_helpers import ingest
from tests.mails import CORPUS
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db

FOLDERS = ["zammad", "django-helpdesk"]
TICKET_OUTCOMES = {"created", "threaded", "folded"}
RECORDED_OUTCOMES = TICKET_OUTCOMES | {"suppressed", "duplicate", "unrouted", "rejected"}


def corpus_mails():
    root = CORPUS / "email"
    if not root.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(reason=f"corpus absent at {root}"))]
    return [
        pytest.param(source, raw, id=source.split("/email/")[-1])
        for source, raw in iter_mails([str(root / f) for f in FOLDERS])
    ]


@pytest.mark.parametrize(("source", "raw"), corpus_mails())
def test_each_corpus_mail_ingests_into_a_recorded_outcome(acme, source, raw):
    result = ingest(raw, to="acme@in.test")
    assert result.outcome in RECORDED_OUTCOMES, result.reason
    inbound = InboundMail.objects.get()
    assert inbound.status == "processed"
    assert bytes(inbound.raw) == raw
    if result.outcome in TICKET_OUTCOMES:
        message = inbound.message
        assert message.subject
        assert "\x00" not in message.text + message.subject + message.html
        # A readable body where the mail has one: text, or HTML it was derived from.
        if message.html:
            assert message.text.strip()


def test_the_corpus_is_where_the_tests_expect_it():
    if not (CORPUS / "email").is_dir():
        pytest.skip(f"corpus absent at {CORPUS}")
    assert len(corpus_mails()) > 80
