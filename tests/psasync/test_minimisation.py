"""Data minimisation: only the MSP's ticket, the times, the member and the brief summary
leave for the PSA; never our notes, mail, priority, SLA, or anything of another ticket."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from psasync.actions import retry_now
from psasync.connectors.base import PermanentError
from psasync.models import MemberMapping, Operation, WriteBack, WriteBackState
from psasync.payload import build_payload
from psasync.sending import send_writeback
from tests.factories import UserFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tests.psasync.conftest import PSA_NUMBER
from tickets.actions import Actor, add_note, change_time, record_time, void_time
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

KINDS = ["connectwise", "autotask", "halopsa", "syncro"]
SUMMARY = "Cleared the stuck print job and restarted the spooler."
SECRETS = {
    "private notes": "SECRET-PRIVATE-NOTES-7731",
    "private notes, changed": "SECRET-PRIVATE-NOTES-CHANGED-4410",
    "void reason": "SECRET-VOID-REASON-9902",
    "ticket subject": "SECRET-TICKET-SUBJECT-1185",
    "ticket description": "SECRET-TICKET-DESCRIPTION-2296",
    "mail subject": "SECRET-MAIL-SUBJECT-3307",
    "mail body": "SECRET-MAIL-BODY-4418",
    "internal note": "SECRET-INTERNAL-NOTE-5529",
    "category": "SECRET-CATEGORY-6630",
    "other ticket's summary": "SECRET-OTHER-SUMMARY-7741",
    "other ticket's private notes": "SECRET-OTHER-NOTES-8852",
    "SLA deadline": "2031-07-13",  # every SLA date below falls on it
}
SLA_MOMENT = datetime(2031, 7, 13, 5, 17, 43, tzinfo=UTC)
OURS_ONLY = ("priority", "impact", "urgency", "sla", "due", "category")


def plant_secrets(ticket: Ticket, agent) -> None:
    """Everything we know about the ticket that the MSP's PSA must never receive."""
    Ticket.objects.filter(pk=ticket.pk).update(
        subject=SECRETS["ticket subject"],
        description=SECRETS["ticket description"],
        category=SECRETS["category"],
        priority="P1",
        impact=1,
        urgency=1,
        priority_overridden=True,
        first_response_due=SLA_MOMENT,
        resolution_due=SLA_MOMENT,
        sla_next_due=SLA_MOMENT,
        sla_check_at=SLA_MOMENT,
    )
    reply = build_mail(
        subject=f"Re: [{ticket.reference}] {SECRETS['mail subject']}", body=SECRETS["mail body"]
    )
    assert ingest(reply).ticket == ticket
    add_note(ticket, Actor.of(agent.user), SECRETS["internal note"])
    other = ingest(build_mail(subject="Scanner offline")).ticket
    assert other != ticket
    end = timezone.now() - timedelta(hours=9)
    record_time(
        other,
        agent,
        end - timedelta(minutes=20),
        end,
        SECRETS["other ticket's summary"],
        private_notes=SECRETS["other ticket's private notes"],
    )


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return {k.lower() for k in value} | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


def leaves(value) -> set[str]:
    """Every scalar in a JSON body, as text."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return {leaf for item in value for leaf in leaves(item)}
    return {str(value)}


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_but_the_brief_summary_leaves_through_create_update_and_delete(
    kind, connect, desk, log_time, run_jobs
):
    sim, _ = connect(kind)
    _, agent, ticket = desk
    plant_secrets(ticket, agent)
    ticket.refresh_from_db()

    with run_jobs():
        entry = log_time(summary=SUMMARY, private_notes=SECRETS["private notes"])
    with run_jobs():
        change_time(
            entry,
            agent.user,
            summary=SUMMARY + " Checked again.",
            private_notes=SECRETS["private notes, changed"],
        )
    with run_jobs():
        void_time(entry, agent.user, reason=SECRETS["void reason"])

    sent = WriteBack.objects.filter(entry=entry).order_by("created_at")
    assert [(w.operation, w.state) for w in sent] == [
        (Operation.CREATE, WriteBackState.SENT),
        (Operation.UPDATE, WriteBackState.SENT),
        (Operation.DELETE, WriteBackState.SENT),
    ], [w.last_error for w in sent]
    assert sim.entries() == []
    # The summary did leave (so the requests were seen), and nothing of ours did.
    assert any(SUMMARY in request.everything() for request in sim.requests)
    for request in sim.requests:
        text = request.everything()
        leaked = [name for name, secret in SECRETS.items() if secret in text]
        assert not leaked, f"{leaked} in {request.method} {request.path}"
        body = request.json() if request.body.startswith((b"{", b"[")) else None
        assert not [k for k in keys(body) if k.startswith(OURS_ONLY)], request.body


@pytest.mark.parametrize("kind", KINDS)
def test_the_sent_payload_holds_the_summary_and_member_against_the_msps_ticket(
    kind, connect, log_time
):
    sim, connection = connect(kind)
    log_time(summary=SUMMARY, private_notes=SECRETS["private notes"])

    send_writeback(WriteBack.objects.get().pk)

    writeback = WriteBack.objects.get()
    assert writeback.state == WriteBackState.SENT, writeback.last_error
    audit = leaves(writeback.sent_payload)
    assert any(SUMMARY in value for value in audit)
    assert MemberMapping.objects.get(connection=connection).member in audit
    assert SECRETS["private notes"] not in json.dumps(writeback.sent_payload)
    # Charged to the PSA's ticket that the MSP's own number names (ConnectWise and
    # HaloPSA show their ticket id as the number; Autotask and Syncro map one to the other).
    [psa_ticket] = [t for t in sim.state.tickets.values() if t["number"] == PSA_NUMBER[kind]]
    expected = int(PSA_NUMBER[kind]) if kind in ("connectwise", "halopsa") else psa_ticket["id"]
    [remote] = sim.entries()
    assert remote["ticket_id"] == int(writeback.remote_ticket_id) == expected


# --- what the payload refuses to build ---------------------------------------------------


@pytest.fixture
def sdm(db):
    return UserFactory(username="sdm", is_staff=True, is_superuser=True)


def test_it_refuses_a_ticket_without_a_psa_number_until_the_sdm_sets_it(
    connect, desk, log_time, run_jobs, sdm
):
    sim, _ = connect("connectwise")
    ticket = desk[2]
    Ticket.objects.filter(pk=ticket.pk).update(psa_ticket_number="")
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()

    with pytest.raises(PermanentError) as refused:
        build_payload(writeback)
    message = f"{ticket.reference} has no PSA ticket number"
    assert message in refused.value.message
    assert writeback.state == WriteBackState.FAILED
    assert message in writeback.last_error
    assert "then retry" in writeback.last_error
    assert sim.requests == []
    # Ours to fix, not the PSA's failure: the connection's health is untouched.
    connection = writeback.connection
    connection.refresh_from_db()
    assert (connection.last_failure_at, connection.last_error) == (None, "")
    assert connection.failure_rate() is None
    assert writeback.attempt_log.get().on_our_side

    Ticket.objects.filter(pk=ticket.pk).update(psa_ticket_number="48213")
    with run_jobs():
        retry_now(writeback, sdm)

    assert WriteBack.objects.get().state == WriteBackState.SENT
    assert len(sim.entries()) == 1


def test_it_refuses_an_agent_without_a_member_mapping_until_the_sdm_maps_them(
    connect, desk, log_time, run_jobs, sdm
):
    sim, connection = connect("connectwise")
    MemberMapping.objects.all().delete()
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()

    with pytest.raises(PermanentError) as refused:
        build_payload(writeback)
    message = "alex has no ConnectWise PSA member for Acme IT"
    assert message in refused.value.message
    assert writeback.state == WriteBackState.FAILED
    assert message in writeback.last_error
    assert sim.requests == []

    MemberMapping.objects.create(connection=connection, agent=desk[1], member="alex")
    with run_jobs():
        retry_now(writeback, sdm)

    assert WriteBack.objects.get().state == WriteBackState.SENT
    assert [e["member"] for e in sim.entries()] == ["alex"]
