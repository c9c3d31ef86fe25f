"""Bugs a review of the distribution and SLA work found, each kept as a regression test.

Attachments served safely, the first response recorded, caps under concurrent
assignment, coverage windows validated, the spring-forward gap, timers that keep
their time, and the rest: see each test's comment.
"""

import threading
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Group, Permission
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import CoverageWindow, SlaPolicy, SlaTarget, is_covered
from desklib.businesstime import Calendar, business_time_between
from tests.factories import UserFactory, make_agent
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import (
    Actor,
    auto_assign,
    change_status,
    claim_next_ticket,
    override_priority,
    resolve_ticket,
)
from tickets.models import Team, Ticket
from tickets.roles import SDM_GROUP
from tickets.sla_watch import flag_sla_states

pytestmark = pytest.mark.django_db
NEW_YORK = ZoneInfo("America/New_York")
postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (CI sets DATABASE_URL)"
)


@pytest.fixture
def sdm(db):
    user = UserFactory(username="sdm", email="sdm@desk.example")
    user.groups.add(Group.objects.get_or_create(name=SDM_GROUP)[0])
    user.user_permissions.add(Permission.objects.get(codename="override_priority"))
    return user


def sla(client, **targets) -> SlaPolicy:
    policy = SlaPolicy.objects.create(client=client, business_hours_only=False)
    for priority, (respond, resolve) in targets.items():
        SlaTarget.objects.create(
            policy=policy, priority=priority, first_response_minutes=respond,
            resolution_minutes=resolve,
        )  # fmt: skip
    return policy


def mail_with_attachment(content: bytes, maintype: str, subtype: str, filename: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "pat@customer.example", "acme@in.test", "see file"
    msg.set_content("attached")
    msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


# --- 1. Stored XSS through attachments (tickets/views/ticket.py: attachment) ---------------
# The view decides "inline" from the sender's Content-Type but FileResponse takes the
# response's Content-Type from the file name: image/png named x.html is served inline as
# text/html, on our origin, to a logged-in agent.


@pytest.mark.parametrize(
    ("maintype", "subtype", "filename"),
    [("image", "png", "invoice.html"), ("image", "svg+xml", "logo.svg")],
    ids=["image-type-html-name", "svg"],
)
def test_an_attachment_that_a_browser_would_run_as_a_page_is_never_served_inline(
    alex, client, maintype, subtype, filename
):
    payload = (
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(document.domain)</script></svg>"
    )
    ticket = ingest(mail_with_attachment(payload, maintype, subtype, filename)).ticket
    attachment = ticket.messages.get().attachments.get()
    response = client.get(f"/desk/tickets/{ticket.pk}/attachments/{attachment.pk}/")
    served_as = response["Content-Type"].split(";")[0]
    inline = not response.get("Content-Disposition", "").startswith("attachment")
    assert not (inline and served_as in {"text/html", "image/svg+xml", "application/xhtml+xml"})


# --- 2. The first-response clock can never be met (nothing sets first_responded_at) -------


def test_a_ticket_claimed_at_once_does_not_breach_its_first_response_target(
    acme, team, sdm, django_capture_on_commit_callbacks
):
    sla(acme, P3=(60, 600))
    agent = make_agent("alex", team)
    ticket = ingest(build_mail()).ticket
    claim_next_ticket(agent)  # the agent picks it up within a minute of its arrival
    with django_capture_on_commit_callbacks(execute=True):
        flag_sla_states(now=ticket.created_at + timedelta(minutes=61))
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None
    assert ticket.sla_next_due == ticket.resolution_due  # the queue now orders by resolution
    assert ticket.sla_state != "breached"


# --- 3. Closing a resolved ticket forgets when it was resolved (actions/status.py) --------


def test_closing_a_resolved_ticket_keeps_when_it_was_resolved(acme):
    ticket = ingest(build_mail()).ticket
    actor = Actor.of(UserFactory(username="alex"))
    ticket = resolve_ticket(ticket, actor, "Restarted the spooler.")
    resolved_at = ticket.resolved_at
    ticket = change_status(ticket, "closed", actor)
    ticket.refresh_from_db()
    assert ticket.resolved_at == resolved_at


def test_a_system_actor_can_resolve_a_ticket(acme):
    # Actor allows user=None (intake, sla-watch, auto-assign); resolve_ticket and add_note
    # then hit InternalNote.author NOT NULL: an IntegrityError, not a resolved ticket.
    ticket = resolve_ticket(ingest(build_mail()).ticket, Actor("psa-sync"), "Closed in the PSA.")
    assert ticket.status == "resolved"


# --- 4. The SLA alert mail has literal "\n" instead of line breaks (sla_watch.py) ---------


def test_the_sla_alert_mail_has_real_line_breaks(acme, sdm, django_capture_on_commit_callbacks):
    sla(acme, P3=(60, 600))
    ticket = ingest(build_mail()).ticket
    with django_capture_on_commit_callbacks(execute=True):
        flag_sla_states(now=ticket.created_at + timedelta(minutes=61))
    [message] = mail.outbox
    assert "\\n" not in message.body
    assert len(message.body.strip().splitlines()) >= 3


# --- 5. A breach is sticky after the SDM lowers the priority (sla_watch excludes breached) --


def test_a_priority_override_that_moves_the_deadlines_out_clears_a_breach(
    acme, sdm, django_capture_on_commit_callbacks
):
    sla(acme, P3=(15, 60), P4=(24 * 60, 5 * 24 * 60))
    ticket = ingest(build_mail()).ticket
    with django_capture_on_commit_callbacks(execute=True):
        flag_sla_states(now=ticket.created_at + timedelta(minutes=16))
        ticket.refresh_from_db()
        assert ticket.sla_state == "breached"
        override_priority(ticket, "P4", "Not urgent after all", Actor.of(sdm))
        flag_sla_states(now=ticket.created_at + timedelta(minutes=17))
    ticket.refresh_from_db()
    assert ticket.resolution_due > ticket.created_at + timedelta(days=1)
    assert ticket.sla_state != "breached"  # deadlines a day away, flag still "breached"


# --- 6. A coverage window without an end breaks the client's whole intake (coverage.py) ---


def test_a_coverage_window_without_an_end_is_refused(acme):
    window = CoverageWindow(client=acme, kind="after_hours", weekday=0, starts=time(18))
    with pytest.raises(ValidationError):
        window.full_clean()


def test_a_half_filled_coverage_window_does_not_crash_the_coverage_check(acme):
    # What the admin inline accepts today; every mail for the client then fails with a
    # TypeError ('<' between time and None) inside is_covered.
    CoverageWindow.objects.create(client=acme, kind="after_hours", weekday=0, starts=time(18))
    is_covered(acme, datetime(2026, 12, 7, 20, tzinfo=UTC))


# --- 7. A window edge inside the spring-forward gap (desklib/businesstime.py) --------------
# The module says such a time is read as "the instant the clock jumps past it"
# (03:00 EDT for 02:30 on 8 March 2026); zoneinfo's fold=0 gives 03:30 EDT instead.


def test_a_window_opening_inside_the_spring_gap_opens_when_the_clock_jumps():
    cal = Calendar("America/New_York", {6: ((time(2, 30), time(4)),)})  # Sundays 02:30-04:00
    day_start = datetime(2026, 3, 8, 0, tzinfo=NEW_YORK).astimezone(UTC)
    day_end = datetime(2026, 3, 8, 12, tzinfo=NEW_YORK).astimezone(UTC)
    assert business_time_between(cal, day_start, day_end) == timedelta(hours=1)  # 03:00-04:00


# --- 8. Automatic assignment passes an agent's cap under concurrent workers -------------


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_automatic_assignment_respects_the_cap(acme):
    team = Team.objects.create(name="Auto", assignment="round_robin")
    team.clients.add(acme)
    agent = make_agent("solo", team, cap=1)
    tickets = Ticket.objects.bulk_create(
        Ticket(client=acme, subject=f"t{n}", priority="P3") for n in range(16)
    )
    barrier = threading.Barrier(len(tickets))

    def assign(pk):
        try:
            barrier.wait()
            return auto_assign(pk)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=assign, args=(t.pk,)) for t in tickets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Ticket.objects.filter(assignee=agent).count() <= agent.max_open_tickets


# --- 9. The team queue runs one query per team of the agent (views/queue.py) -------------


def test_the_team_queue_runs_the_same_queries_however_many_teams_the_agent_is_in(
    alex, client, globex
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/desk/queue/").status_code == 200
        return len(ctx)

    one_team = queries()
    for n in range(5):
        extra = Team.objects.create(name=f"Extra {n}")
        extra.clients.add(globex)
        alex.teams.add(extra)
    assert queries() == one_team


# --- 10. An agent can close a ticket without a resolution, bypassing resolve ------------


def test_an_agent_cannot_close_a_ticket_without_resolving_it(alex, client):
    ticket = ingest(build_mail()).ticket
    client.post(f"/desk/tickets/{ticket.pk}/status/", {"status": "closed"})
    ticket.refresh_from_db()
    assert ticket.status != "closed"


def test_time_before_now_minus_a_year_is_refused(alex, client):
    # Garbage dates (year 0001) are accepted and would be written back to the MSP's PSA.
    ticket = ingest(build_mail()).ticket
    data = {
        "started_at": "0001-01-01T00:00", "ended_at": "0001-01-01T01:00",
        "summary": "x", "work_type": "remote",
    }  # fmt: skip
    response = client.post(f"/desk/tickets/{ticket.pk}/time/", data)
    assert response.status_code == 400
    assert not ticket.time_entries.exists()


# --- 11. "Stop timer" throws the measured time away (views/ticket.py: timer) -------------
# stop_timer returns the timer "for the time entry form", but the view ignores it and
# redirects; the page then offers an empty form: the running time is lost.


def test_stopping_the_timer_keeps_its_time_for_the_entry(alex, client):
    from tickets.models import RunningTimer

    ticket = ingest(build_mail()).ticket
    client.post(f"/desk/tickets/{ticket.pk}/timer/", {"action": "start"})
    started = timezone.localtime() - timedelta(minutes=40)
    RunningTimer.objects.filter(agent=alex).update(started_at=started)
    client.post(f"/desk/tickets/{ticket.pk}/timer/", {"action": "stop"})
    page = client.get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert started.strftime("%Y-%m-%dT%H:%M") in page or ticket.time_entries.exists()


# --- 12. A stale ticket in auto_assign overwrites "waiting" with "open" (actions/assignment.py)
# auto_assign reads the ticket without a lock; _give then decides "a NEW ticket opens" from
# that copy and the UPDATE sets status=open unconditionally. A ticket set to waiting in the
# meantime becomes open with its SLA clock still paused (sla_paused_at kept): paused forever.


def test_giving_a_ticket_that_went_waiting_meanwhile_keeps_status_and_clock_consistent(acme, team):
    from tickets.actions import auto_assign

    agent = make_agent("sam", team)
    ticket = ingest(build_mail()).ticket  # the team is manual: not assigned at intake
    change_status(ticket, "waiting", Actor("sdm"))  # before the assignment job runs
    team.assignment = "round_robin"
    team.save()
    assert auto_assign(ticket.pk) == agent
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert (ticket.status, ticket.assignee) == ("waiting", agent)
    assert (ticket.status == "waiting") == (ticket.sla_paused_at is not None)
