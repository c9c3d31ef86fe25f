"""The agents' pages: what they show, to whom, and what they let an agent do."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.factories import UserFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.models import Ticket, TimeEntry

pytestmark = pytest.mark.django_db
LOCAL = "%Y-%m-%dT%H:%M"


def test_the_desk_needs_a_login(client):
    response = client.get("/desk/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_a_user_who_is_not_an_agent_is_told_so(client, db):
    client.force_login(UserFactory(username="visitor"))
    response = client.get("/desk/")
    assert response.status_code == 403
    assert "Not set up as an agent" in response.content.decode()


def test_my_tickets_lists_only_what_i_hold(alex, client):
    mine = ingest(build_mail(subject="Mine to fix")).ticket
    ingest(build_mail(subject="Nobody's yet"))
    Ticket.objects.filter(pk=mine.pk).update(assignee=alex)
    page = client.get("/desk/").content.decode()
    assert "Mine to fix" in page and "Nobody&#x27;s yet" not in page


def test_the_team_queue_shows_the_teams_clients_only_and_filters(alex, client, globex):
    ingest(build_mail(subject="Acme printer"))
    ingest(build_mail(subject="Globex secret", to="globex@in.test"))
    page = client.get("/desk/queue/").content.decode()
    assert "Acme printer" in page and "Globex secret" not in page
    assert "Acme printer" not in client.get("/desk/queue/", {"priority": "P1"}).content.decode()


def test_another_teams_ticket_is_not_found(alex, client, globex):
    other = ingest(build_mail(to="globex@in.test")).ticket
    assert client.get(f"/desk/tickets/{other.pk}/").status_code == 404
    assert client.post(f"/desk/tickets/{other.pk}/note/", {"text": "hi"}).status_code == 404


def test_take_next_claims_and_opens_the_ticket(alex, client):
    ticket = ingest(build_mail(subject="Urgent thing")).ticket
    response = client.post("/desk/take-next/")
    assert response["Location"] == f"/desk/tickets/{ticket.pk}/"
    assert Ticket.objects.get(pk=ticket.pk).assignee == alex
    page = client.get(response["Location"]).content.decode()
    assert "Urgent thing" in page and "is yours" in page


def test_take_next_with_an_empty_queue_says_so(alex, client):
    response = client.post("/desk/take-next/", follow=True)
    assert "Nothing in your queue" in response.content.decode()


def test_the_ticket_page_shows_the_sanitised_thread_and_attachments(alex, client):
    html = '<p>Look <b>here</b></p><script>alert("x")</script>'
    ticket = ingest(build_mail(subject="HTML mail", html=html)).ticket
    page = client.get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert "<b>here</b>" in page and 'alert("x")' not in page


def test_logging_time_through_the_form(alex, client):
    ticket = ingest(build_mail()).ticket
    now = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "started_at": (now - timedelta(minutes=45)).strftime(LOCAL),
        "ended_at": (now - timedelta(minutes=15)).strftime(LOCAL),
        "summary": "Cleared the print spooler.", "private_notes": "spooler.exe was hung",
        "billable": "on", "work_type": "remote",
    }  # fmt: skip
    response = client.post(f"/desk/tickets/{ticket.pk}/time/", data)
    assert response.status_code == 302
    entry = TimeEntry.objects.get()
    assert (entry.duration, entry.summary) == (timedelta(minutes=30), "Cleared the print spooler.")


def test_an_impossible_time_entry_is_refused_with_its_message(alex, client):
    ticket = ingest(build_mail()).ticket
    now = timezone.localtime().strftime(LOCAL)
    data = {"started_at": now, "ended_at": now, "summary": "x", "work_type": "remote"}
    response = client.post(f"/desk/tickets/{ticket.pk}/time/", data)
    assert response.status_code == 400
    assert response.content.decode().count("The end must be after the start.") == 1  # once
    assert not TimeEntry.objects.exists()


def test_an_overlapping_time_entry_is_refused_with_its_message_once(alex, client):
    ticket = ingest(build_mail()).ticket
    now = timezone.localtime().replace(second=0, microsecond=0)
    data = {
        "started_at": (now - timedelta(minutes=45)).strftime(LOCAL),
        "ended_at": (now - timedelta(minutes=15)).strftime(LOCAL),
        "summary": "Cleared the print spooler.", "billable": "on", "work_type": "remote",
    }  # fmt: skip
    assert client.post(f"/desk/tickets/{ticket.pk}/time/", data).status_code == 302
    response = client.post(f"/desk/tickets/{ticket.pk}/time/", data)
    assert response.status_code == 400
    assert response.content.decode().count("Overlaps your entry on") == 1
    assert TimeEntry.objects.count() == 1


def test_the_timer_prefills_the_time_entry(alex, client):
    ticket = ingest(build_mail()).ticket
    client.post(f"/desk/tickets/{ticket.pk}/timer/", {"action": "start"})
    page = client.get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert "Timer running since" in page
    assert timezone.localtime().strftime("%Y-%m-%dT") in page


def test_notes_status_and_resolve(alex, client):
    ticket = ingest(build_mail()).ticket
    client.post(f"/desk/tickets/{ticket.pk}/note/", {"text": "Called the user, no answer."})
    client.post(f"/desk/tickets/{ticket.pk}/status/", {"status": "waiting"})
    assert Ticket.objects.get(pk=ticket.pk).status == "waiting"
    client.post(f"/desk/tickets/{ticket.pk}/resolve/", {"resolution": "Restarted the spooler."})
    ticket.refresh_from_db()
    assert ticket.status == "resolved"
    texts = list(ticket.notes.values_list("text", flat=True))
    assert texts == ["Called the user, no answer.", "Resolution: Restarted the spooler."]


def test_an_html_attachment_downloads_and_never_renders(alex, client):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "pat@customer.example", "acme@in.test", "see file"
    msg.set_content("attached")
    msg.add_attachment(
        b"<script>alert(1)</script>", maintype="text", subtype="html", filename="x.html"
    )
    ticket = ingest(msg.as_bytes()).ticket
    attachment = ticket.messages.get().attachments.get()
    response = client.get(f"/desk/tickets/{ticket.pk}/attachments/{attachment.pk}/")
    assert response["Content-Disposition"].startswith("attachment")


def test_the_queue_refresh_returns_rows_only(alex, client):
    ingest(build_mail(subject="Row me"))
    response = client.get("/desk/queue/", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "Row me" in body and "<html" not in body


def test_the_admin_refuses_agents(alex, client):
    assert client.get("/admin/tickets/ticket/").status_code == 302


def queries_for(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


@pytest.mark.parametrize("url", ["/desk/queue/", "/desk/"])
def test_list_pages_run_the_same_queries_for_10_and_1000_tickets(alex, client, acme, url):
    def make(n):
        Ticket.objects.bulk_create(
            Ticket(client=acme, subject=f"t{i}", priority="P3", assignee=alex) for i in range(n)
        )

    make(10)
    small = queries_for(client, url)
    make(990)
    assert queries_for(client, url) == small


def test_the_ticket_page_runs_the_same_queries_however_long_the_thread(alex, client):
    ticket = ingest(build_mail(message_id="<t0@x>")).ticket
    small = queries_for(client, f"/desk/tickets/{ticket.pk}/")
    for n in range(1, 30):
        ingest(build_mail(message_id=f"<t{n}@x>", headers={"In-Reply-To": "<t0@x>"}))
    assert queries_for(client, f"/desk/tickets/{ticket.pk}/") == small


def test_an_agent_sets_its_presence_from_any_page(alex, client):
    client.post("/desk/presence/", {"presence": "away", "next": "/desk/queue/"})
    alex.refresh_from_db()
    assert alex.presence == "away"
    assert client.post("/desk/presence/", {"presence": "asleep"}).status_code == 302
    alex.refresh_from_db()
    assert alex.presence == "away"


def test_an_agent_hands_a_ticket_back_to_the_queue(alex, client):
    ticket = ingest(build_mail()).ticket
    client.post("/desk/take-next/")
    client.post(f"/desk/tickets/{ticket.pk}/release/")
    ticket.refresh_from_db()
    assert ticket.assignee is None
    assert ticket.events.filter(kind="released").exists()


def test_inline_images_point_at_their_attachment_and_remote_ones_are_blocked(alex, client):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "pat@customer.example", "acme@in.test", "photo"
    msg.set_content("see photo")
    msg.add_alternative(
        '<p><img src="cid:photo1@x"><img src="https://tracker.example/p.gif"></p>', subtype="html"
    )
    msg.get_payload()[1].add_related(
        b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", cid="<photo1@x>"
    )
    ticket = ingest(msg.as_bytes()).ticket
    attachment = ticket.messages.get().attachments.get()
    page = client.get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert f'src="/desk/tickets/{ticket.pk}/attachments/{attachment.pk}/"' in page
    assert "img-src 'self' data:" in page  # the CSP keeps tracking pixels from loading


def test_a_long_folded_alert_shows_its_first_and_latest_mails(alex, client, acme):
    from tickets.models import Message

    ticket = ingest(build_mail(subject="Disk alert 0")).ticket
    first = ticket.messages.get()
    Message.objects.bulk_create(
        Message(
            ticket=ticket,
            client=acme,
            subject=f"Disk alert {n}",
            sent_at=first.sent_at + timedelta(minutes=n),
        )
        for n in range(1, 100)
    )
    page = client.get(f"/desk/tickets/{ticket.pk}/").content.decode()
    assert "Disk alert 0<" in page and "Disk alert 99<" in page and "Disk alert 50<" not in page
    assert "75 more mails in between" in page
