import pytest

from clients.models import DedicatedAddress
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import InboundMail

pytestmark = pytest.mark.django_db


def test_it_routes_by_the_envelope_recipient_first(acme, globex):
    # The headers name Globex's address, but the provider delivered it to Acme's.
    result = ingest(build_mail(to="globex@in.test"), to="acme@in.test")
    assert result.client == acme


def test_it_routes_by_to_when_there_is_no_envelope(acme):
    assert ingest(build_mail(to="Acme Desk <acme@in.test>")).client == acme


def test_it_routes_by_cc(acme):
    raw = build_mail(to="someone@else.example", headers={"Cc": "ACME@in.test"})
    assert ingest(raw).client == acme


def test_it_routes_by_delivered_to(acme):
    raw = build_mail(to="list@else.example", headers={"Delivered-To": "acme@in.test"})
    assert ingest(raw).client == acme


def test_addresses_match_case_insensitively(acme):
    assert ingest(build_mail(to="Acme@IN.Test")).client == acme


def test_plus_addressing_routes_like_the_plain_address(acme):
    assert ingest(build_mail(to="acme+alerts@in.test")).client == acme
    assert ingest(build_mail(to="x@y.example"), to="acme+psa@in.test").client == acme


def test_an_unknown_address_is_unrouted_and_kept(acme):
    raw = build_mail(to="nobody@in.test")
    result = ingest(raw)
    assert result.outcome == "unrouted"
    assert result.ticket is None
    inbound = InboundMail.objects.get()
    assert inbound.outcome == "unrouted"
    assert bytes(inbound.raw) == raw


def test_an_unrouted_mail_routes_after_the_address_is_added(acme, globex):
    from tickets.intake.pipeline import process_inbound

    ingest(build_mail(to="newdesk@in.test"))
    inbound = InboundMail.objects.get()
    DedicatedAddress.objects.create(client=globex, address="NewDesk@in.test")
    result = process_inbound(inbound)
    assert result.outcome == "created"
    assert result.client == globex


def test_an_sdm_can_route_an_unrouted_mail_by_hand(acme, globex):
    from tickets.intake.pipeline import process_inbound

    ingest(build_mail(to="typo@in.test"))
    inbound = InboundMail.objects.get()
    inbound.route_to = globex
    inbound.save()
    result = process_inbound(inbound)
    assert (result.outcome, result.client) == ("created", globex)
    assert result.ticket.client == globex


def test_a_mail_to_an_inactive_client_is_rejected(acme):
    acme.active = False
    acme.save()
    result = ingest(build_mail())
    assert (result.outcome, result.client, result.ticket) == ("rejected", acme, None)


def test_dedicated_addresses_are_unique_whatever_their_case(acme, globex):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        DedicatedAddress.objects.create(client=globex, address="ACME@in.test")


def test_a_redelivered_unrouted_mail_waits_only_once(acme):
    raw = build_mail(to="nobody@in.test")
    assert ingest(raw).outcome == "unrouted"
    second = ingest(raw)
    assert second.outcome == "duplicate"
    assert "waits as unrouted" in second.reason
    assert InboundMail.objects.filter(outcome="unrouted").count() == 1
