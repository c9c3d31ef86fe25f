"""The SDM's PSA console: connections (write-only credentials, members, test connection,
health), the write-back list (retry now, cancel, detail) and time entry edits that travel
to the PSA, or are refused where it forbids them."""

import html
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.utils import formats, timezone

from psasync.connectors import connector_class
from psasync.models import Attempt, MemberMapping, PsaConnection, WriteBack
from psasync.simulator import Faults
from tests.factories import make_agent
from tickets.actions import Actor, set_psa_ticket_number
from tickets.models import Ticket, TimeEntry

pytestmark = pytest.mark.django_db

CONNECTIONS = "/admin/psasync/psaconnection/"
WRITEBACKS = "/admin/psasync/writeback/"
TIME = "/admin/tickets/timeentry/"
TICKETS = "/admin/tickets/ticket/"
PRIVATE = "PRIVATE-NOTE-7731 the customer's password is hunter2"


def said(response) -> list[str]:
    """The messages the admin showed the SDM on this response."""
    return [str(message) for message in get_messages(response.wsgi_request)]


def page(response) -> str:
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def form_data(connection: PsaConnection, **changes) -> dict:
    """The change form as the admin renders it for `connection`, with `changes` applied
    (None drops a field, as an unticked checkbox is dropped)."""
    members = list(connection.members.all())
    data = {
        "client": connection.client_id,
        "kind": connection.kind,
        "base_url": connection.base_url,
        "enabled": "on" if connection.enabled else None,
        "work_type": connection.work_type,
        "role": connection.role,
        "billing_code": connection.billing_code,
        "billable": connection.billable,
        "rate_limit": connection.rate_limit or "",
        "rate_window_seconds": connection.rate_window_seconds or "",
        "max_concurrent": connection.max_concurrent or "",
        "timeout_seconds": connection.timeout_seconds,
        "new_credentials": "",
        "members-TOTAL_FORMS": len(members),
        "members-INITIAL_FORMS": len(members),
    }
    for i, mapping in enumerate(members):
        data[f"members-{i}-id"] = mapping.pk
        data[f"members-{i}-connection"] = connection.pk
        data[f"members-{i}-agent"] = mapping.agent_id
        data[f"members-{i}-member"] = mapping.member
    data.update(changes)
    return {name: value for name, value in data.items() if value is not None}


def change(sdm_client, connection: PsaConnection, **changes):
    return sdm_client.post(
        f"{CONNECTIONS}{connection.pk}/change/", form_data(connection, **changes)
    )


def reloaded(connection: PsaConnection) -> PsaConnection:
    return PsaConnection.objects.get(pk=connection.pk)


def act(sdm_client, url: str, action: str, *rows, **fields):
    selected = [row.pk for row in rows]
    return sdm_client.post(url, {"action": action, "_selected_action": selected, **fields})


# --- the connection form: credentials are write-only ------------------------------------


def test_the_change_page_names_the_stored_credentials_but_never_shows_them(connect, sdm_client):
    sim, connection = connect("connectwise")
    shown = page(sdm_client.get(f"{CONNECTIONS}{connection.pk}/change/"))
    assert "client_id, company, private_key, public_key (values hidden)" in shown
    for value in sim.credentials().values():
        assert value not in shown


def test_blank_credentials_keep_the_stored_ones(connect, sdm_client):
    sim, connection = connect("connectwise")
    response = change(sdm_client, connection, work_type="Remote Support")
    assert response.status_code == 302
    saved = reloaded(connection)
    assert saved.work_type == "Remote Support"
    assert saved.credentials.reveal() == sim.credentials()


def test_new_credentials_replace_the_stored_ones_sealed(connect, sdm_client):
    sim, connection = connect("connectwise")
    fresh = {**sim.credentials(), "private_key": "Rotated-Private-2"}
    response = change(sdm_client, connection, new_credentials=json.dumps(fresh))
    assert response.status_code == 302
    assert reloaded(connection).credentials.reveal() == fresh
    assert "Rotated-Private-2" not in page(sdm_client.get(f"{CONNECTIONS}{connection.pk}/change/"))


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        ('{"company": "simmsp",', "Not JSON"),
        ('["company", "simmsp"]', "Write an object of text fields"),
        ('{"company": "simmsp", "public_key": 7}', "Write an object of text fields"),
        ('{"company": "simmsp", "public_key": "k", "client_id": "c"}', "Missing: private_key"),
    ],
)
def test_credentials_that_are_not_json_or_lack_a_field_of_the_kind_are_refused(
    connect, sdm_client, typed, refusal
):
    sim, connection = connect("connectwise")
    shown = page(change(sdm_client, connection, new_credentials=typed))
    assert refusal in shown
    assert reloaded(connection).credentials.reveal() == sim.credentials()
    assert sim.credentials()["private_key"] not in shown


def test_credentials_are_checked_against_the_kind_being_saved(acme, connect, sdm_client):
    sim, connection = connect("connectwise")
    acme.psa_kind = "none"  # so that only the credentials stand in the way
    acme.save(update_fields=["psa_kind"])
    typed = json.dumps(sim.credentials())
    assert "Missing: api_key" in page(
        change(sdm_client, connection, kind="syncro", new_credentials=typed)
    )
    shown = page(change(sdm_client, connection, kind="syncro"))
    assert "The stored credentials lack api_key for Syncro" in shown
    assert reloaded(connection).kind == "connectwise"
    typed = json.dumps({"api_key": "T0k3n-Syncro"})
    assert change(sdm_client, connection, kind="syncro", new_credentials=typed).status_code == 302
    assert reloaded(connection).credentials.reveal() == {"api_key": "T0k3n-Syncro"}


def test_a_new_connection_cannot_be_saved_without_credentials(acme, sdm_client):
    form = sdm_client.get(f"{CONNECTIONS}add/")
    assert form.status_code == 200
    data = {
        "client": acme.pk,
        "kind": "syncro",
        "base_url": "https://acme.syncromsp.com/api/v1",
        "enabled": "on",
        "billable": "entry",
        "timeout_seconds": "20",
        "new_credentials": "",
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
    }
    assert "Credentials are required." in page(sdm_client.post(f"{CONNECTIONS}add/", data))
    assert not PsaConnection.objects.exists()
    data["new_credentials"] = '{"api_key": "T0k3n-Syncro"}'
    assert sdm_client.post(f"{CONNECTIONS}add/", data).status_code == 302
    assert PsaConnection.objects.get().credentials.reveal() == {"api_key": "T0k3n-Syncro"}


# --- members inline ----------------------------------------------------------------------


def test_member_mappings_are_edited_inline(connect, desk, sdm_client):
    team, alex, _ = desk
    sam = make_agent("sam", team)
    _, connection = connect("connectwise")
    assert "alex" in page(sdm_client.get(f"{CONNECTIONS}{connection.pk}/change/"))
    response = change(
        sdm_client,
        connection,
        **{
            "members-TOTAL_FORMS": 2,
            "members-0-member": "alex.cw",
            "members-1-agent": sam.pk,
            "members-1-member": "sam.cw",
        },
    )
    assert response.status_code == 302
    mapped = dict(connection.members.values_list("agent__user__username", "member"))
    assert mapped == {"alex": "alex.cw", "sam": "sam.cw"}


def test_an_agent_is_mapped_only_once_per_connection(connect, desk, sdm_client):
    _, alex, _ = desk
    _, connection = connect("connectwise")
    response = change(
        sdm_client,
        connection,
        **{"members-TOTAL_FORMS": 2, "members-1-agent": alex.pk, "members-1-member": "again"},
    )
    assert response.status_code == 200
    assert list(MemberMapping.objects.values_list("member", flat=True)) == ["alex"]


# --- test connection ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["connectwise", "autotask", "halopsa", "syncro"])
def test_test_connection_reports_each_check_working(connect, sdm_client, kind):
    sim, connection = connect(kind)
    lines = said(act(sdm_client, CONNECTIONS, "test_connection", connection))
    assert len(lines) == 2, lines
    assert all(f"{connection}: " in line and " works" in line for line in lines), lines
    assert "authenticate" in lines[0]
    assert f"find ticket {sim.state.tickets[min(sim.state.tickets)]['number']} works" in lines[1]


def test_test_connection_reports_bad_credentials_with_the_psas_message(connect, sdm_client):
    sim, connection = connect("connectwise")
    connection.credentials = {**sim.credentials(), "private_key": "not-the-key"}
    connection.save()
    lines = said(act(sdm_client, CONNECTIONS, "test_connection", connection))
    assert lines == [
        f"{connection}: authenticate FAILS (ConnectWise PSA 401: Incorrect public/private key)"
    ]


@pytest.mark.parametrize(
    ("kind", "field"),
    [("autotask", "secret"), ("halopsa", "client_secret"), ("syncro", "api_key")],
)
def test_test_connection_fails_authentication_on_every_kind_with_a_wrong_secret(
    connect, sdm_client, kind, field
):
    sim, connection = connect(kind)
    connection.credentials = {**sim.credentials(), field: "not-the-right-one"}
    connection.save()
    (line,) = said(act(sdm_client, CONNECTIONS, "test_connection", connection))
    verdict, _, detail = line.partition(" FAILS (")
    assert verdict.startswith(f"{connection}: authenticate")
    assert detail.startswith(f"{connector_class(kind).label} 401: ")
    assert len(detail) > len(f"{connector_class(kind).label} 401: )")


def test_test_connection_reports_a_ticket_the_psa_does_not_know(connect, desk, sdm_client):
    _, _, ticket = desk
    sim, connection = connect("connectwise")
    ticket.psa_ticket_number = "99999"
    ticket.save(update_fields=["psa_ticket_number"])
    lines = said(act(sdm_client, CONNECTIONS, "test_connection", connection))
    assert " works" in lines[0]
    assert "find ticket 99999 FAILS" in lines[1]


# --- the connection list: health and failure rate ------------------------------------------


def test_the_list_shows_health_and_the_failure_rate_of_the_last_24_hours(
    connect, log_time, run_jobs, sdm_client
):
    sim, connection = connect("connectwise")
    with run_jobs():
        log_time()
    assert "ok" in page(sdm_client.get(CONNECTIONS))
    sim.set_faults(Faults(error_rate=1.0))
    with run_jobs():
        log_time()
    old = WriteBack.objects.order_by("pk").first()
    long_ago = timezone.now() - timedelta(days=2)
    Attempt.objects.create(  # outside the window: does not count
        writeback=old, started_at=long_ago, finished_at=long_ago, outcome="failed"
    )
    listing = page(sdm_client.get(CONNECTIONS))
    assert "Failures (24 h)" in listing
    assert "50%" in listing
    assert "failing: ConnectWise PSA 500" in listing


def test_a_connection_never_used_shows_no_attempts(connect, sdm_client):
    connect("connectwise")
    listing = page(sdm_client.get(CONNECTIONS))
    assert "no attempts" in listing
    assert "not used yet" in listing


# --- the write-back list -------------------------------------------------------------------


def test_the_writeback_list_shows_state_attempts_last_error_and_next_attempt(
    connect, log_time, run_jobs, sdm_client
):
    sim, connection = connect("connectwise")
    good = connection.credentials.reveal()
    connection.credentials = {**good, "private_key": "wrong"}
    connection.save()
    with run_jobs():
        log_time()
    connection.credentials = good
    connection.save()
    sim.set_faults(Faults(error_rate=1.0))
    with run_jobs():
        log_time()
    failed, waiting = WriteBack.objects.order_by("pk")
    assert (failed.state, waiting.state) == ("failed", "pending")
    listing = page(sdm_client.get(WRITEBACKS))
    for column in ("State", "Attempts", "Last error", "Next attempt"):
        assert column in listing
    assert "Failed" in listing and "Pending" in listing
    assert "Incorrect public/private key" in listing
    assert "Internal server error (simulated)" in listing
    due = formats.date_format(timezone.localtime(waiting.next_attempt_at), "DATETIME_FORMAT")
    assert due in listing


def test_the_writeback_list_warns_of_failures_and_of_overdue_rows(
    connect, log_time, run_jobs, sdm_client
):
    sim, connection = connect("connectwise")
    connection.credentials = {**sim.credentials(), "private_key": "wrong"}
    connection.save()
    with run_jobs():
        log_time()
    log_time()  # never queued: waits
    WriteBack.objects.filter(state="pending").update(
        next_attempt_at=timezone.now() - timedelta(minutes=15)
    )
    assert said(sdm_client.get(WRITEBACKS)) == [
        "1 write-back(s) failed and need you.",
        "1 write-back(s) overdue by more than 10 minutes: is a worker running?",
    ]
    assert said(sdm_client.get(WRITEBACKS, {"state__exact": "failed"})) == [
        "1 write-back(s) overdue by more than 10 minutes: is a worker running?"
    ]


def test_the_writeback_list_finds_rows_by_psa_number_marker_and_error(
    connect, log_time, run_jobs, sdm_client
):
    sim, connection = connect("connectwise")
    with run_jobs():
        log_time()
    sent = WriteBack.objects.get()
    connection.credentials = {**sim.credentials(), "private_key": "wrong"}
    connection.save()
    with run_jobs():
        log_time()
    failed = WriteBack.objects.exclude(pk=sent.pk).get()

    def found(term: str) -> list[int]:
        response = sdm_client.get(WRITEBACKS, {"q": term})
        assert response.status_code == 200
        return sorted(row.pk for row in response.context["cl"].result_list)

    assert found("48213") == sorted([sent.pk, failed.pk])
    assert found(sent.marker) == [sent.pk]  # as the SDM copies it from the PSA
    assert found(sent.uuid.hex) == [sent.pk]
    assert found(str(failed.uuid)) == [failed.pk]
    assert found("public/private") == [failed.pk]
    assert found(sent.remote_id) == [sent.pk]


def test_retry_now_sends_a_failed_writeback_once_the_psa_is_fixed(
    connect, log_time, run_jobs, sdm_client, monkeypatch
):
    monkeypatch.setattr("psasync.sending.MAX_ATTEMPTS", 1)
    sim, _ = connect("connectwise")
    sim.set_faults(Faults(error_rate=1.0))
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()
    assert writeback.state == "failed"
    assert "Gave up after 1 attempts" in writeback.last_error
    sim.set_faults(Faults())
    with run_jobs():
        response = act(sdm_client, WRITEBACKS, "retry_now", writeback)
    assert said(response) == ["1 write-back(s) queued to send now."]
    writeback.refresh_from_db()
    assert (writeback.state, writeback.attempts) == ("sent", 2)
    assert len(sim.entries()) == 1


def test_cancel_stops_a_pending_writeback(connect, log_time, sdm_client):
    sim, _ = connect("connectwise")
    log_time()  # not run: it waits, pending
    writeback = WriteBack.objects.get()
    assert writeback.state == "pending"
    response = act(sdm_client, WRITEBACKS, "cancel", writeback)
    assert said(response) == ["1 write-back(s) cancelled."]
    writeback.refresh_from_db()
    assert writeback.state == "cancelled"
    assert writeback.last_error.startswith("Cancelled by sdm.")
    assert sim.requests == []


@pytest.mark.parametrize(
    ("action", "refusal"),
    [("retry_now", "cannot be retried"), ("cancel", "cannot be cancelled")],
)
def test_retry_now_and_cancel_refuse_a_sent_writeback(
    connect, log_time, run_jobs, sdm_client, action, refusal
):
    sim, _ = connect("connectwise")
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()
    asked = len(sim.requests)
    with run_jobs():
        response = act(sdm_client, WRITEBACKS, action, writeback)
    assert said(response) == [f"#{writeback.pk}: A sent write-back {refusal}."]
    after = WriteBack.objects.get()
    assert (after.state, after.attempts, after.last_error) == ("sent", 1, "")
    assert len(sim.requests) == asked
    assert len(sim.entries()) == 1


def test_the_detail_page_shows_the_payload_as_sent_and_the_attempts(
    connect, log_time, run_jobs, sdm_client
):
    sim, _ = connect("connectwise")
    sim.set_faults(Faults(error_rate=1.0))
    with run_jobs():
        entry = log_time(summary="Replaced the toner.")
    sim.set_faults(Faults())
    writeback = WriteBack.objects.get()
    with run_jobs():
        act(sdm_client, WRITEBACKS, "retry_now", writeback)
    writeback.refresh_from_db()
    assert writeback.state == "sent"
    detail = page(sdm_client.get(f"{WRITEBACKS}{writeback.pk}/change/"))
    assert json.dumps(writeback.sent_payload, indent=2) in detail
    assert '"notes": "Replaced the toner."' in detail
    assert writeback.marker in detail
    assert "Will retry" in detail and "Sent" in detail
    assert "Internal server error (simulated)" in detail
    assert entry.summary == "Replaced the toner."


def test_no_writeback_page_shows_private_notes(connect, log_time, run_jobs, sdm_client):
    sim, connection = connect("connectwise")
    with run_jobs():
        log_time(private_notes=PRIVATE)
    connection.credentials = {**sim.credentials(), "private_key": "wrong"}
    connection.save()
    with run_jobs():
        log_time(private_notes=PRIVATE)
    pages = [page(sdm_client.get(WRITEBACKS))]
    pages += [page(sdm_client.get(f"{WRITEBACKS}{w.pk}/change/")) for w in WriteBack.objects.all()]
    assert len(pages) == 3
    for shown in pages:
        assert "PRIVATE-NOTE-7731" not in shown
        assert "hunter2" not in shown


# --- time entry admin: edits travel to the PSA, or are refused ------------------------------


def change_time_form(entry: TimeEntry, **changes) -> dict:
    local = timezone.localtime
    fields = {
        "started_at": local(entry.started_at).strftime("%Y-%m-%d %H:%M:%S"),
        "ended_at": local(entry.ended_at).strftime("%Y-%m-%d %H:%M:%S"),
        "summary": entry.summary,
        "billable": "on" if entry.billable else None,
        "apply": "1",
        **changes,
    }
    return {name: value for name, value in fields.items() if value is not None}


def test_an_sdm_changes_sent_time_and_the_psa_entry_follows(
    connect, log_time, run_jobs, sdm_client
):
    sim, _ = connect("connectwise")
    with run_jobs():
        entry = log_time(minutes=30)
    later = timezone.localtime(entry.ended_at + timedelta(minutes=15))
    with run_jobs():
        response = act(
            sdm_client, TIME, "change_entries", entry,
            **change_time_form(
                entry, ended_at=later.strftime("%Y-%m-%d %H:%M:%S"), summary="Replaced the fuser."
            ),
        )  # fmt: skip
    assert said(response) == ["Change time entries: 1 done."]
    update = WriteBack.objects.get(operation="update")
    assert update.state == "sent", update.last_error
    (remote,) = sim.entries()
    assert remote["hours"] == 0.75
    assert remote["summary"] == "Replaced the fuser."


def test_the_change_form_starts_from_the_entrys_own_values(connect, log_time, sdm_client):
    # An SDM who only fixes the summary must not make the entry non-billable in the PSA.
    connect("connectwise")
    entry = log_time(minutes=30, summary="Reset the VPN token.")
    shown = page(act(sdm_client, TIME, "change_entries", entry))
    local = timezone.localtime
    assert f'value="{local(entry.started_at):%Y-%m-%dT%H:%M}"' in shown
    assert f'value="{local(entry.ended_at):%Y-%m-%dT%H:%M}"' in shown
    assert "Reset the VPN token.</textarea>" in shown
    assert re.search(r'<input type="checkbox" name="billable"[^>]* checked', shown)


def test_the_change_action_takes_one_entry_at_a_time(connect, log_time, sdm_client):
    connect("connectwise")
    first, second = log_time(), log_time()
    response = act(
        sdm_client, TIME, "change_entries", first, second,
        **change_time_form(first, summary="One summary for both."),
    )  # fmt: skip
    assert said(response) == [
        "Change one time entry at a time: each has its own times and summary."
    ]
    assert set(TimeEntry.objects.values_list("summary", flat=True)) == {"Cleared the print queue."}


def test_an_sdm_sets_a_missing_psa_number_and_the_retried_write_back_is_sent(
    connect, desk, log_time, run_jobs, sdm_client
):
    # An alert came without the MSP's number; its time failed, waiting for one.
    sim, _ = connect("connectwise")
    ticket = desk[2]
    Ticket.objects.filter(pk=ticket.pk).update(psa_ticket_number="")
    with run_jobs():
        log_time()
    writeback = WriteBack.objects.get()
    assert writeback.state == "failed"
    assert "Set the MSP's ticket number" in writeback.last_error

    form = page(act(sdm_client, TICKETS, "set_psa_number", ticket))
    assert 'name="number"' in form
    response = act(sdm_client, TICKETS, "set_psa_number", ticket, apply="1", number=" 48213 ")
    assert said(response) == ["Set the MSP's ticket number: 1 done."]
    ticket.refresh_from_db()
    assert ticket.psa_ticket_number == "48213"
    event = ticket.events.get(kind="psa_ticket_number_set")
    assert (event.old_value, event.new_value) == ({"number": ""}, {"number": "48213"})
    assert event.actor.username == "sdm"

    with run_jobs():
        act(sdm_client, WRITEBACKS, "retry_now", writeback)
    writeback.refresh_from_db()
    assert writeback.state == "sent"
    assert len(sim.entries()) == 1


def test_a_psa_number_is_set_on_one_ticket_at_a_time(desk, sdm_client):
    from tests.intake_helpers import ingest
    from tests.mails import build_mail

    ticket, other = desk[2], ingest(build_mail(subject="Another")).ticket
    response = act(sdm_client, TICKETS, "set_psa_number", ticket, other, apply="1", number="7")
    assert said(response) == [
        "Set one ticket's number at a time: each ticket has its own in the MSP's PSA."
    ]
    assert "7" not in set(Ticket.objects.values_list("psa_ticket_number", flat=True))


def test_setting_a_psa_number_needs_one_and_the_permission(desk, client):
    from django.contrib.auth import get_user_model

    ticket = desk[2]
    staff = get_user_model().objects.create_user("viewer", password="pw-viewer-12345")
    staff.is_staff = True
    staff.save()
    staff.user_permissions.add(*Permission.objects.filter(codename="view_ticket"))
    client.force_login(staff)
    response = act(client, TICKETS, "set_psa_number", ticket, apply="1", number="1")
    ticket.refresh_from_db()
    assert ticket.psa_ticket_number != "1"
    assert response.status_code in (200, 302)

    actor = Actor(label="test")
    with pytest.raises(ValueError, match="Give the MSP's ticket number"):
        set_psa_ticket_number(ticket, "  ", actor)


def test_an_sdm_deletes_sent_time_and_the_psa_entry_goes(connect, log_time, run_jobs, sdm_client):
    sim, _ = connect("connectwise")
    with run_jobs():
        entry = log_time()
    assert len(sim.entries()) == 1
    with run_jobs():
        response = act(
            sdm_client, TIME, "void_entries", entry, apply="1", reason="Logged on the wrong ticket"
        )
    assert said(response) == ["Delete time entries: 1 done."]
    entry.refresh_from_db()
    assert entry.voided_at is not None
    assert WriteBack.objects.get(operation="delete").state == "sent"
    assert sim.entries() == []


@pytest.mark.parametrize(
    ("action", "flag", "fields", "verb"),
    [
        ("change_entries", "can_update", {"summary": "Something else."}, "change"),
        ("void_entries", "can_delete", {"apply": "1", "reason": "Twice"}, "delete"),
    ],
)
def test_time_edits_are_refused_with_a_message_where_the_psa_forbids_them(
    connect, log_time, run_jobs, sdm_client, monkeypatch, action, flag, fields, verb
):
    sim, _ = connect("syncro")
    connector = connector_class("syncro")
    monkeypatch.setattr(connector, flag, False)
    monkeypatch.setattr(connector, "refusal", "the MSP locked time entries")
    with run_jobs():
        entry = log_time()
    if action == "change_entries":
        fields = change_time_form(entry, **fields)
    with run_jobs():
        response = act(sdm_client, TIME, action, entry, **fields)
    (line,) = said(response)
    assert line.startswith(f"{entry}: ")
    assert f"does not let us {verb} time once it is sent (the MSP locked time entries)" in line
    saved = TimeEntry.objects.get(pk=entry.pk)
    assert (saved.summary, saved.voided_at) == (entry.summary, None)
    assert list(WriteBack.objects.values_list("operation", flat=True)) == ["create"]
    assert len(sim.entries()) == 1
