"""An agent deletes their own time entry from the ticket page; the PSA follows."""

import pytest
from django.urls import reverse

from psasync.connectors import connector_class
from psasync.models import Operation, WriteBack, WriteBackState
from tests.factories import make_agent
from tickets.models import TimeEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent_client(client, desk):
    client.force_login(desk[1].user)
    return client


def delete_url(entry: TimeEntry) -> str:
    return reverse("desk:delete-time", args=[entry.ticket_id, entry.pk])


def test_the_ticket_page_offers_delete_only_on_the_agents_own_entries(agent_client, desk, log_time):
    team, _, ticket = desk
    mine = log_time()
    theirs = log_time()
    TimeEntry.objects.filter(pk=theirs.pk).update(agent=make_agent("sam", team))

    page = agent_client.get(reverse("desk:ticket", args=[ticket.pk])).content.decode()

    assert delete_url(mine) in page
    assert delete_url(theirs) not in page


def test_deleting_a_sent_entry_voids_it_and_deletes_it_in_the_psa(
    agent_client, connect, log_time, run_jobs
):
    sim, _ = connect("connectwise")
    with run_jobs():
        entry = log_time()
    assert len(sim.entries()) == 1

    with run_jobs():
        response = agent_client.post(delete_url(entry), {"reason": "Logged on the wrong ticket"})

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.void_reason == "Logged on the wrong ticket"
    delete = WriteBack.objects.get(entry=entry, operation=Operation.DELETE)
    assert delete.state == WriteBackState.SENT
    assert sim.entries() == []


def test_a_delete_without_a_reason_is_refused_and_changes_nothing(agent_client, log_time):
    entry = log_time()

    response = agent_client.post(delete_url(entry), {"reason": "  "}, follow=True)

    assert "Say why this time is deleted." in response.content.decode()
    entry.refresh_from_db()
    assert entry.voided_at is None


def test_an_agent_cannot_delete_another_agents_entry(client, desk, log_time):
    entry = log_time()
    other = make_agent("sam", desk[0])
    client.force_login(other.user)

    response = client.post(delete_url(entry), {"reason": "not mine"})

    assert response.status_code == 404
    entry.refresh_from_db()
    assert entry.voided_at is None


def test_a_psa_that_forbids_deleting_sent_time_refuses_with_its_reason(
    agent_client, connect, log_time, run_jobs, monkeypatch
):
    connect("syncro")
    with run_jobs():
        entry = log_time()
    syncro = connector_class("syncro")
    monkeypatch.setattr(syncro, "can_delete", False)
    monkeypatch.setattr(syncro, "refusal", "this PSA keeps time once billed")

    response = agent_client.post(delete_url(entry), {"reason": "wrong ticket"}, follow=True)

    page = response.content.decode()
    assert "Syncro does not let us delete time once it is sent" in page
    assert "this PSA keeps time once billed" in page
    entry.refresh_from_db()
    assert entry.voided_at is None
    assert not WriteBack.objects.filter(entry=entry, operation=Operation.DELETE).exists()
