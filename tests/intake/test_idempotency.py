import pytest

from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import InboundMail, Ticket

pytestmark = pytest.mark.django_db


def test_a_redelivered_message_is_a_duplicate_of_the_first(acme):
    raw = build_mail(message_id="<same@customer.example>")
    first = ingest(raw)
    second = ingest(raw)
    assert first.outcome == "created"
    assert second.outcome == "duplicate"
    assert second.ticket == first.ticket
    assert Ticket.objects.count() == 1
    assert InboundMail.objects.count() == 2  # both deliveries are kept


def test_the_same_message_id_with_other_bytes_is_still_a_duplicate(acme):
    ingest(build_mail(message_id="<same@x>", body="one"))
    assert ingest(build_mail(message_id="<same@x>", body="one, re-encoded")).outcome == "duplicate"


def test_without_message_id_identical_bytes_are_a_duplicate(acme):
    raw = build_mail(message_id="")
    assert b"Message-ID" in raw  # an empty header: no usable id
    assert ingest(raw).outcome == "created"
    assert ingest(raw).outcome == "duplicate"


def test_without_message_id_different_bytes_are_not_duplicates(acme):
    assert ingest(build_mail(message_id="", body="a")).outcome == "created"
    assert ingest(build_mail(message_id="", body="b")).outcome == "created"


def test_the_same_message_for_two_clients_is_work_for_each(acme, globex):
    raw = build_mail(message_id="<shared@x>", to="acme@in.test", headers={"Cc": "globex@in.test"})
    assert ingest(raw, to="acme@in.test").outcome == "created"
    assert ingest(raw, to="globex@in.test").outcome == "created"
    assert set(Ticket.objects.values_list("client__slug", flat=True)) == {"acme", "globex"}


def test_a_redelivered_suppressed_message_is_a_duplicate(acme):
    raw = build_mail(headers={"Auto-Submitted": "auto-replied"})
    assert ingest(raw).outcome == "suppressed"
    assert ingest(raw).outcome == "duplicate"


def test_reprocessing_a_consumed_mail_changes_nothing(acme):
    from tickets.intake.pipeline import process_inbound

    result = ingest(build_mail())
    again = process_inbound(InboundMail.objects.get())
    assert (again.outcome, again.ticket) == ("created", result.ticket)
    assert Ticket.objects.count() == 1
