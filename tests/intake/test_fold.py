import pytest

from tests.factories import IntakeRuleFactory
from tests.intake_helpers import ingest
from tests.mails import build_mail
from tickets.actions import INTAKE_ACTOR, change_status
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

NAGIOS_BODY = """***** Nagios *****

Notification Type: {type}

Service: Disk C:
Host: srv-db01
State: {state}
"""


def nagios(type_: str, state: str) -> bytes:
    return build_mail(
        sender="nagios@noc.example",
        subject=f"** {type_} Service Alert: srv-db01/Disk C: is {state} **",
        body=NAGIOS_BODY.format(type=type_, state=state),
        headers={"Auto-Submitted": "auto-generated"},
    )


def test_a_repeated_alert_folds_into_the_open_ticket(acme):
    first = ingest(nagios("PROBLEM", "CRITICAL"))
    second = ingest(nagios("PROBLEM", "CRITICAL"))
    assert (first.outcome, second.outcome) == ("created", "folded")
    assert second.ticket == first.ticket
    ticket = Ticket.objects.get()
    assert ticket.occurrence_count == 2
    assert ticket.messages.count() == 2


def test_a_recovery_folds_and_marks_the_ticket_recovered(acme):
    ingest(nagios("PROBLEM", "CRITICAL"))
    result = ingest(nagios("RECOVERY", "OK"))
    assert result.outcome == "folded"
    ticket = Ticket.objects.get()
    assert ticket.alert_state == "recovered"
    assert ticket.messages.filter(kind="recovery").count() == 1


def test_a_recovery_without_an_open_alert_opens_no_ticket(acme):
    result = ingest(nagios("RECOVERY", "OK"))
    assert result.outcome == "suppressed"
    assert not Ticket.objects.exists()


def test_an_alert_after_the_ticket_was_resolved_opens_a_new_one(acme):
    first = ingest(nagios("PROBLEM", "CRITICAL")).ticket
    change_status(first, "resolved", INTAKE_ACTOR)
    second = ingest(nagios("PROBLEM", "CRITICAL"))
    assert second.outcome == "created"
    assert second.ticket != first


def test_zabbix_problem_and_resolution_fold_by_problem_id(acme):
    body = (
        "Problem started at 23:10:00 on 2026.12.01\nProblem name: High CPU\n"
        "Host: app-02\nOriginal problem ID: 991\n"
    )
    ingest(build_mail(sender="zabbix@noc.example", subject="Problem: High CPU", body=body))
    resolved = body.replace("Problem started", "Problem has been resolved")
    result = ingest(
        build_mail(sender="zabbix@noc.example", subject="Resolved in 5m: High CPU", body=resolved)
    )
    assert result.outcome == "folded"
    assert Ticket.objects.get().alert_state == "recovered"


def test_datto_rmm_alerts_fold_by_alert_uid(acme):
    body = "Device: GLX-FS01\nAlert: Service stopped\nAlert UID: abc-123\n"
    for _ in range(3):
        ingest(
            build_mail(
                sender="noreply@rmm.datto.com", subject="Datto RMM Alert: GLX-FS01", body=body
            )
        )
    assert Ticket.objects.get().occurrence_count == 3


def test_generic_alerts_fold_when_only_numbers_and_dates_differ(acme):
    headers = {"Auto-Submitted": "auto-generated"}
    ingest(
        build_mail(
            sender="ups@site.example",
            subject="UPS on battery, 87% at 2026-12-01 03:00",
            headers=headers,
        )
    )
    result = ingest(
        build_mail(
            sender="ups@site.example",
            subject="UPS on battery, 64% at 2026-12-01 03:20",
            headers=headers,
        )
    )
    assert result.outcome == "folded"


def test_generic_alerts_about_different_hosts_do_not_fold(acme):
    headers = {"Auto-Submitted": "auto-generated"}
    ingest(build_mail(sender="mon@site.example", subject="Ping lost to srv1", headers=headers))
    assert (
        ingest(
            build_mail(sender="mon@site.example", subject="Ping lost to srv2", headers=headers)
        ).outcome
        == "created"
    )


def test_two_people_asking_the_same_thing_get_two_tickets(acme):
    ingest(build_mail(sender="a@customer.example", subject="Printer broken"))
    assert (
        ingest(build_mail(sender="a@customer.example", subject="Printer broken")).outcome
        == "created"
    )


def test_alerts_fold_only_within_their_client(acme, globex):
    ingest(nagios("PROBLEM", "CRITICAL"))
    result = ingest(nagios("PROBLEM", "CRITICAL"), to="globex@in.test")
    assert (result.outcome, result.client) == ("created", globex)


def test_a_rule_fingerprint_folds_by_its_groups(acme):
    IntakeRuleFactory(
        client=acme, sender_pattern="veeam@", treat_as_alert=True, fingerprint_pattern=r"Job (\w+)"
    )
    ingest(build_mail(sender="veeam@b.example", subject="[Failed] Job Nightly (3 VMs)"))
    result = ingest(build_mail(sender="veeam@b.example", subject="[Warning] Job Nightly (2 VMs)"))
    assert result.outcome == "folded"
    assert (
        ingest(build_mail(sender="veeam@b.example", subject="[Failed] Job Weekly")).outcome
        == "created"
    )


def test_alerts_relayed_under_different_psa_tickets_do_not_fold(acme):
    acme.psa_kind = "connectwise"
    acme.save()
    body = "Datto RMM\nDevice: SRV01\nAlert: Disk space low\n"
    first = ingest(
        build_mail(
            sender="noreply@rmm.datto.com",
            subject="Ticket #48213 - Datto RMM disk SRV01",
            body=body,
        )
    )
    second = ingest(
        build_mail(
            sender="noreply@rmm.datto.com",
            subject="Ticket #48999 - Datto RMM disk SRV01",
            body=body,
        )
    )
    assert (first.outcome, second.outcome) == ("created", "created")
    assert second.ticket.psa_ticket_number == "48999"
    third = ingest(
        build_mail(
            sender="noreply@rmm.datto.com",
            subject="Ticket #48999 - Datto RMM disk SRV01",
            body=body,
        )
    )
    assert (third.outcome, third.ticket) == ("folded", second.ticket)


def test_a_body_that_only_mentions_datto_rmm_is_not_a_datto_alert(acme):
    body = "Please check why Datto RMM shows the agent offline.\nDevice: SRV01\n"
    ingest(build_mail(subject="Agent offline?", body=body))
    assert ingest(build_mail(subject="Agent offline?", body=body)).outcome == "created"


def test_folding_into_a_ticket_resolved_meanwhile_is_refused_for_a_fresh_decision(acme):
    from django.utils import timezone

    from desklib.alerts import detect_preset
    from desklib.mailparse import parse_mail
    from tickets.actions import StaleDecision, fold_alert

    raw = nagios("PROBLEM", "CRITICAL")
    ticket = ingest(raw).ticket
    change_status(ticket, "resolved", INTAKE_ACTOR)
    parsed = parse_mail(raw, timezone.now())
    with pytest.raises(StaleDecision):
        fold_alert(
            ticket,
            parsed,
            None,
            signature=detect_preset(parsed.from_address, parsed.subject, parsed.text),
        )


def test_the_audit_trail_records_creation_and_repeats(acme):
    ticket = ingest(nagios("PROBLEM", "CRITICAL")).ticket
    ingest(nagios("PROBLEM", "CRITICAL"))
    ingest(nagios("RECOVERY", "OK"))
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == ["created", "alert_repeated", "alert_recovered"]
    assert ticket.events.get(kind="alert_repeated").new_value["occurrence_count"] == 2
