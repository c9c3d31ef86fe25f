import pytest
from django.contrib.auth import get_user_model

from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db
URL = "/admin/tickets/inboundmail/"


@pytest.fixture
def sdm_client(client):
    user = get_user_model().objects.create_superuser("sdm", "sdm@desk.example", "pw-sdm-12345")
    client.force_login(user)
    return client


def break_processing(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("database hiccup while threading")

    monkeypatch.setattr("tickets.intake.pipeline.decide", boom)


def test_a_failed_mail_is_listed_with_its_error(acme, sdm_client, monkeypatch):
    break_processing(monkeypatch)
    ingest(build_mail(subject="Server room too hot"))
    inbound = InboundMail.objects.get()
    assert inbound.status == "failed"
    page = sdm_client.get(URL, {"status__exact": "failed"}).content.decode()
    assert "Server room too hot" in page
    detail = sdm_client.get(f"{URL}{inbound.pk}/change/").content.decode()
    assert "database hiccup while threading" in detail


def test_reprocess_turns_a_failed_mail_into_a_ticket(acme, sdm_client, monkeypatch):
    break_processing(monkeypatch)
    ingest(build_mail())
    monkeypatch.undo()
    inbound = InboundMail.objects.get()
    response = sdm_client.post(
        URL, {"action": "reprocess", "_selected_action": [inbound.pk]}, follow=True
    )
    assert "1 created" in response.content.decode()
    inbound.refresh_from_db()
    assert (inbound.status, inbound.outcome, inbound.error) == ("processed", "created", "")
    assert inbound.attempts == 1 and inbound.ticket is not None


def test_an_sdm_routes_an_unrouted_mail_and_reprocesses_it(acme, sdm_client):
    ingest(build_mail(to="typo@in.test"))
    inbound = InboundMail.objects.get()
    assert inbound.outcome == "unrouted"
    form = sdm_client.get(f"{URL}{inbound.pk}/change/")
    assert form.status_code == 200
    sdm_client.post(f"{URL}{inbound.pk}/change/", {"route_to": acme.pk})
    inbound.refresh_from_db()
    assert inbound.route_to == acme
    sdm_client.post(URL, {"action": "reprocess", "_selected_action": [inbound.pk]})
    inbound.refresh_from_db()
    assert (inbound.outcome, inbound.client) == ("created", acme)


def test_reprocess_leaves_consumed_mails_alone(acme, sdm_client):
    ingest(build_mail())
    inbound = InboundMail.objects.get()
    response = sdm_client.post(
        URL, {"action": "reprocess", "_selected_action": [inbound.pk]}, follow=True
    )
    assert "already processed" in response.content.decode()


def test_inbound_mail_cannot_be_deleted_from_the_admin(acme, sdm_client):
    ingest(build_mail())
    inbound = InboundMail.objects.get()
    assert sdm_client.get(f"{URL}{inbound.pk}/delete/").status_code == 403


def test_the_ticket_page_shows_the_thread_and_the_client_page_its_rules(acme, sdm_client):
    from tests.factories import IntakeRuleFactory

    IntakeRuleFactory(client=acme, name="Backups are urgent")
    ticket = ingest(build_mail(subject="Outlook asks for a password", body="Since 9pm")).ticket
    page = sdm_client.get(f"/admin/tickets/ticket/{ticket.pk}/change/").content.decode()
    assert "Outlook asks for a password" in page and "Since 9pm" in page
    page = sdm_client.get(f"/admin/clients/client/{acme.pk}/change/").content.decode()
    assert "Backups are urgent" in page and "acme@in.test" in page
    assert sdm_client.get("/admin/tickets/ticket/", {"q": "Outlook"}).status_code == 200


def test_the_raw_message_downloads_exactly_as_received(acme, sdm_client):
    raw = build_mail(subject="Keep me byte for byte")
    ingest(raw)
    inbound = InboundMail.objects.get()
    assert "download .eml" in sdm_client.get(f"{URL}{inbound.pk}/change/").content.decode()
    response = sdm_client.get(f"{URL}{inbound.pk}/raw/")
    assert response["Content-Type"] == "message/rfc822"
    assert response.content == raw


def test_tickets_are_read_only_in_the_admin(acme, sdm_client):
    ticket = ingest(build_mail(subject="Original subject")).ticket
    sdm_client.post(
        f"/admin/tickets/ticket/{ticket.pk}/change/", {"subject": "Edited", "impact": 1}
    )
    ticket.refresh_from_db()
    assert (ticket.subject, ticket.impact) == ("Original subject", 2)
    assert sdm_client.get(f"/admin/tickets/ticket/{ticket.pk}/delete/").status_code == 403


def test_reprocessing_an_unreadable_payload_keeps_it_failed_with_its_error(acme, sdm_client):
    from tickets.intake.webhooks import _unreadable

    _unreadable("Postmark", b"{not json", ValueError("Expecting property name"))
    inbound = InboundMail.objects.get()
    sdm_client.post(URL, {"action": "reprocess", "_selected_action": [inbound.pk]})
    inbound.refresh_from_db()
    assert (inbound.status, inbound.outcome) == ("failed", "")
    assert "Expecting property name" in inbound.error


def test_a_duplicate_unrouted_copy_can_be_routed_and_reprocessed(acme, globex, sdm_client):
    raw = build_mail(to="shared@in.test")
    ingest(raw)
    ingest(raw)  # a second delivery: a duplicate of the one waiting
    first, second = InboundMail.objects.order_by("id")
    assert (first.outcome, second.outcome) == ("unrouted", "duplicate")
    InboundMail.objects.filter(pk=first.pk).update(route_to=acme)
    InboundMail.objects.filter(pk=second.pk).update(route_to=globex)
    sdm_client.post(URL, {"action": "reprocess", "_selected_action": [first.pk, second.pk]})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.outcome, first.client, second.outcome, second.client) == (
        "created", acme, "created", globex,
    )  # fmt: skip


def test_searching_tickets_by_their_reference_finds_them(acme, sdm_client):
    ticket = ingest(build_mail(subject="Findable")).ticket
    page = sdm_client.get("/admin/tickets/ticket/", {"q": ticket.reference}).content.decode()
    assert "Findable" in page
