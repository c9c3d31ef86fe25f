import pytest

from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import INTAKE_ACTOR, change_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def original(acme):
    return ingest(build_mail(message_id="<orig-1@customer.example>", subject="VPN is down")).ticket


def test_it_threads_a_reply_by_in_reply_to(original):
    result = ingest(
        build_mail(subject="Re: VPN", headers={"In-Reply-To": "<orig-1@customer.example>"})
    )
    assert (result.outcome, result.ticket) == ("threaded", original)
    assert original.messages.count() == 2


def test_it_threads_a_reply_by_any_references_entry(original):
    refs = "<unknown-a@x> <orig-1@customer.example> <unknown-b@x>"
    result = ingest(build_mail(subject="Fwd: something else", headers={"References": refs}))
    assert result.ticket == original
    assert "references" in result.reason


def test_it_threads_by_our_token(original):
    result = ingest(build_mail(subject=f"Re: [{original.reference}] VPN is down"))
    assert (result.outcome, result.ticket) == ("threaded", original)


def test_it_threads_by_the_clients_psa_ticket_number(acme):
    acme.psa_kind = "connectwise"
    acme.save()
    first = ingest(build_mail(subject="Ticket #48213 - Outlook password prompts")).ticket
    assert first.psa_ticket_number == "48213"
    result = ingest(build_mail(subject="Updated: Ticket #48213 - customer replied"))
    assert (result.outcome, result.ticket) == ("threaded", first)


def test_it_threads_autotask_numbers(acme):
    acme.psa_kind = "autotask"
    acme.save()
    first = ingest(build_mail(subject="New ticket T20261201.0042: VPN down")).ticket
    assert first.psa_ticket_number == "T20261201.0042"
    assert ingest(build_mail(subject="T20261201.0042 note added")).ticket == first


def test_a_custom_psa_pattern_overrides_the_default(acme):
    acme.psa_kind = "halopsa"
    acme.psa_ticket_pattern = r"\{REF:(\d+)\}"
    acme.save()
    first = ingest(build_mail(subject="New {REF:991} printer")).ticket
    assert first.psa_ticket_number == "991"
    assert ingest(build_mail(subject="Update {REF:991}")).ticket == first


def test_another_clients_message_id_never_threads(original, globex):
    raw = build_mail(to="globex@in.test", headers={"In-Reply-To": "<orig-1@customer.example>"})
    result = ingest(raw)
    assert result.outcome == "created"
    assert result.ticket.client == globex


def test_another_clients_token_never_threads(original, globex):
    result = ingest(build_mail(to="globex@in.test", subject=f"Re: [{original.reference}] VPN"))
    assert result.outcome == "created"
    assert result.ticket != original


def test_another_clients_psa_number_never_threads(acme, globex):
    for client in (acme, globex):
        client.psa_kind = "connectwise"
        client.save()
    acme_ticket = ingest(build_mail(subject="Ticket #777 printer")).ticket
    result = ingest(build_mail(to="globex@in.test", subject="Ticket #777 printer"))
    assert result.outcome == "created"
    assert result.ticket != acme_ticket


def test_a_loose_hd_number_is_not_our_token(original):
    # Only "[HD-n]" is ours; "HD-1" in prose could be anyone's.
    result = ingest(build_mail(subject=f"Question about {original.reference} drive"))
    assert result.outcome == "created"


def test_a_reply_reopens_a_resolved_ticket(original):
    change_status(original, "resolved", INTAKE_ACTOR)
    ingest(build_mail(headers={"In-Reply-To": "<orig-1@customer.example>"}))
    original.refresh_from_db()
    assert original.status == "open"
    assert original.events.filter(kind="status_changed", new_value="open").exists()


def test_in_reply_to_wins_over_a_newer_reference(acme):
    older = ingest(build_mail(message_id="<older@customer.example>", subject="VPN")).ticket
    newer = ingest(build_mail(message_id="<newer@customer.example>", subject="Printer")).ticket
    reply = build_mail(
        subject="Re: VPN",
        headers={
            "In-Reply-To": "<older@customer.example>",
            "References": "<older@customer.example> <newer@customer.example>",
        },
    )
    assert ingest(reply).ticket == older
    assert newer.messages.count() == 1


def test_reopening_a_resolved_alert_ticket_by_hand_hands_its_alert_to_the_newer_one(acme):
    from tests.intake.test_fold import nagios

    first = ingest(nagios("PROBLEM", "CRITICAL")).ticket
    change_status(first, "resolved", INTAKE_ACTOR)
    second = ingest(nagios("PROBLEM", "CRITICAL")).ticket
    first = change_status(first, "open", INTAKE_ACTOR)
    assert first.fingerprint == "" and second.fingerprint
    assert first.events.filter(kind="fingerprint_released").exists()
