"""Alert fingerprints: repeats and recoveries of one alert share one fingerprint."""

import pytest

from desklib.alerts import MAX_FINGERPRINT, detect_preset, generic

NAGIOS_SERVICE_BODY = """***** Nagios *****

Notification Type: {type}

Service: HTTP
Host: web1
Address: 10.0.0.21
State: {state}

Date/Time: Tue Dec 1 03:10:00 CET 2026

Additional Info:

{output}
"""

NAGIOS_HOST_BODY = """***** Nagios *****

Notification Type: {type}
Host: srv-fs01
State: {state}
Address: 10.0.0.5
Info: {output}

Date/Time: Tue Dec 1 03:10:00 CET 2026
"""

# Icinga 2's mail-service-notification.sh since 2.8.
ICINGA2_SERVICE_BODY = """***** Service Monitoring on icinga2-master *****

http on web1 is {state}!

Info:    {output}

When:    2026-12-01 03:10:00 +0100
Service: http
Host:    web1
IPv4:    10.0.0.21
"""

# Zabbix 5+ default media type messages.
ZABBIX_PROBLEM_BODY = """Problem started at 23:10:00 on 2026.12.01
Problem name: High CPU utilization (over 90% for 5m)
Host: srv-app01
Severity: Warning
Operational data: Current utilization: 97.2 %
Original problem ID: {event_id}
"""

ZABBIX_RESOLVED_BODY = """Problem has been resolved at 23:25:03 on 2026.12.01
Problem name: High CPU utilization (over 90% for 5m)
Problem duration: 15m 3s
Host: srv-app01
Severity: Warning
Original problem ID: {event_id}
"""

DATTO_BODY = """Datto RMM Alert

Site: Bauer GmbH
Device: SRV-FS01
Alert: Disk Usage - C: {percent}% used
Priority: High
Alert UID: {uid}
"""
UID = "4b3c6a0e-2f1d-4c4b-9a77-0d1e5f6a7b8c"


def test_a_nagios_service_problem_and_its_recovery_share_a_fingerprint():
    problem = detect_preset(
        "nagios@noc.example",
        "** PROBLEM Service Alert: web1/HTTP is CRITICAL **",
        NAGIOS_SERVICE_BODY.format(type="PROBLEM", state="CRITICAL", output="HTTP 503"),
    )
    recovery = detect_preset(
        "nagios@noc.example",
        "** RECOVERY Service Alert: web1/HTTP is OK **",
        NAGIOS_SERVICE_BODY.format(type="RECOVERY", state="OK", output="HTTP OK: 200"),
    )
    assert problem.preset == recovery.preset == "nagios"
    assert problem.fingerprint == recovery.fingerprint == "nagios:web1:http"
    assert (problem.recovery, recovery.recovery) == (False, True)


def test_a_nagios_host_problem_and_its_recovery_share_a_fingerprint():
    problem = detect_preset(
        "nagios@noc.example",
        "** PROBLEM Host Alert: srv-fs01 is DOWN **",
        NAGIOS_HOST_BODY.format(type="PROBLEM", state="DOWN", output="PING CRITICAL"),
    )
    recovery = detect_preset(
        "nagios@noc.example",
        "** RECOVERY Host Alert: srv-fs01 is UP **",
        NAGIOS_HOST_BODY.format(type="RECOVERY", state="UP", output="PING OK"),
    )
    assert problem.fingerprint == recovery.fingerprint == "nagios:srv-fs01:(host)"
    assert (problem.recovery, recovery.recovery) == (False, True)


def test_a_nagios_subject_alone_is_enough():
    signature = detect_preset(
        "nagios@noc.example", "** PROBLEM Service Alert: web1/HTTP is CRITICAL **", ""
    )
    assert (signature.fingerprint, signature.recovery) == ("nagios:web1:http", False)


def test_an_icinga2_problem_and_its_recovery_share_a_fingerprint():
    problem = detect_preset(
        "icinga@noc.example",
        "[PROBLEM] http on web1 is CRITICAL!",
        ICINGA2_SERVICE_BODY.format(state="CRITICAL", output="HTTP CRITICAL - 503"),
    )
    recovery = detect_preset(
        "icinga@noc.example",
        "[RECOVERY] http on web1 is OK!",
        ICINGA2_SERVICE_BODY.format(state="OK", output="HTTP OK - 200"),
    )
    assert problem.preset == recovery.preset == "nagios"
    assert problem.fingerprint == recovery.fingerprint == "nagios:web1:http"
    assert (problem.recovery, recovery.recovery) == (False, True)


def test_an_icinga2_acknowledgement_is_not_a_recovery():
    signature = detect_preset(
        "icinga@noc.example",
        "[ACKNOWLEDGEMENT] http on web1 is CRITICAL!",
        ICINGA2_SERVICE_BODY.format(state="CRITICAL", output="HTTP CRITICAL - 503"),
    )
    assert (signature.fingerprint, signature.recovery) == ("nagios:web1:http", False)


def test_a_zabbix_problem_and_its_resolution_share_a_fingerprint_by_original_problem_id():
    problem = detect_preset(
        "zabbix@noc.example",
        "Problem: High CPU utilization (over 90% for 5m)",
        ZABBIX_PROBLEM_BODY.format(event_id="48121"),
    )
    resolved = detect_preset(
        "zabbix@noc.example",
        "Resolved in 15m 3s: High CPU utilization (over 90% for 5m)",
        ZABBIX_RESOLVED_BODY.format(event_id="48121"),
    )
    assert problem.preset == resolved.preset == "zabbix"
    assert problem.fingerprint == resolved.fingerprint == "zabbix:48121"
    assert (problem.recovery, resolved.recovery) == (False, True)


def test_two_zabbix_problems_with_different_ids_have_different_fingerprints():
    first = detect_preset(
        "zabbix@noc.example", "Problem: High CPU", ZABBIX_PROBLEM_BODY.format(event_id="1")
    )
    second = detect_preset(
        "zabbix@noc.example", "Problem: High CPU", ZABBIX_PROBLEM_BODY.format(event_id="2")
    )
    assert first.fingerprint != second.fingerprint


def test_a_datto_rmm_alert_and_its_resolution_share_a_fingerprint_by_alert_uid():
    alert = detect_preset(
        "noreply@centrastage.net",
        "Datto RMM: Disk Usage alert on SRV-FS01",
        DATTO_BODY.format(percent=91, uid=UID),
    )
    resolved = detect_preset(
        "noreply@centrastage.net",
        "Datto RMM: Disk Usage alert resolved on SRV-FS01",
        DATTO_BODY.format(percent=78, uid=UID),
    )
    assert alert.preset == resolved.preset == "datto"
    assert alert.fingerprint == resolved.fingerprint == f"datto:{UID}"
    assert (alert.recovery, resolved.recovery) == (False, True)


def test_a_datto_rmm_alert_without_uid_is_fingerprinted_by_device_and_alert():
    body = DATTO_BODY.format(percent=91, uid="").replace("Alert UID: \n", "")
    first = detect_preset("noreply@centrastage.net", "Datto RMM alert", body)
    again = detect_preset("noreply@centrastage.net", "Datto RMM alert", body.replace("91", "94"))
    assert first.preset == "datto"
    assert first.fingerprint == again.fingerprint
    assert "srv-fs01" in first.fingerprint


def test_an_empty_alert_uid_line_does_not_fold_different_devices_together():
    body = DATTO_BODY.format(percent=91, uid="")
    fs01 = detect_preset("noreply@centrastage.net", "Datto RMM alert", body)
    dc01 = detect_preset("noreply@centrastage.net", "Datto RMM alert", body.replace("FS01", "DC01"))
    assert fs01.fingerprint != dc01.fingerprint


def test_a_mail_from_a_person_matches_no_preset():
    body = "Hi, the printer on the 2nd floor is jammed again.\nThanks, Dana"
    assert detect_preset("dana@harbourlaw.example", "Printer jammed", body) is None


@pytest.mark.parametrize(
    ("first", "repeat"),
    [
        (
            "Backup job failed on srv1 at 2026-12-01 03:00",
            "Backup job failed on srv1 at 2026-12-02 03:05",
        ),
        (
            "Backup job failed on srv1 at 2026-12-01T03:00:00Z",
            "RE: Backup job failed on srv1 at 2026-12-03T03:00:12Z",
        ),
        (
            "Backup job failed on srv1 at 01.12.2026 3:00 am",
            "AW: WG: Backup job failed on srv1 at 04.12.2026 11:00 pm",
        ),
        (
            "Backup job failed on srv1 at Tue, 01 Dec 2026 03:00",
            "Fwd: Backup job failed on srv1 at Wed, 02 Dec 2026 03:10",
        ),
    ],
)
def test_the_generic_fingerprint_ignores_dates_and_reply_prefixes(first, repeat):
    assert (
        generic("backup@noc.example", repeat).fingerprint
        == generic("backup@noc.example", first).fingerprint
    )


def test_the_generic_fingerprint_ignores_numbers():
    first = generic("ups@noc.example", "Disk C: 91% full on srv1 (12 GB free)")
    again = generic("ups@noc.example", "Disk C: 95,5% full on srv1 (4 GB free)")
    assert first.fingerprint == again.fingerprint


def test_the_generic_fingerprint_keeps_numbered_host_names_apart():
    srv1 = generic("backup@noc.example", "Backup job failed on srv1")
    srv2 = generic("backup@noc.example", "Backup job failed on srv2")
    assert srv1.fingerprint != srv2.fingerprint


def test_the_generic_fingerprint_keeps_host_names_apart_that_start_like_a_month():
    mars = generic("backup@noc.example", "Backup failed on MARS")
    saturn = generic("backup@noc.example", "Backup failed on SATURN")
    assert mars.fingerprint != saturn.fingerprint


def test_the_generic_fingerprint_keeps_senders_apart():
    first = generic("backup@noc.example", "Backup job failed on srv1")
    other = generic("veeam@noc.example", "Backup job failed on srv1")
    assert first.fingerprint != other.fingerprint


def test_a_generic_recovery_shares_the_fingerprint_of_its_problem():
    problem = generic("ups@noc.example", "PROBLEM: UPS Serverraum on battery")
    recovery = generic("ups@noc.example", "RECOVERY: UPS Serverraum on battery")
    assert problem.fingerprint == recovery.fingerprint
    assert (problem.recovery, recovery.recovery) == (False, True)


@pytest.mark.parametrize("subject", ["srv1 is UP", "Backup is OK again", "Alert cleared: srv1"])
def test_a_generic_subject_saying_up_ok_or_cleared_is_a_recovery(subject):
    assert generic("monitor@noc.example", subject).recovery


@pytest.mark.parametrize(
    "subject", ["Please follow up on the failed backup", "Follow up: backup warning on srv1"]
)
def test_follow_up_is_not_a_recovery(subject):
    assert not generic("monitor@noc.example", subject).recovery


def test_follow_up_in_capitals_is_not_a_recovery():
    assert not generic("monitor@noc.example", "BACKUP FAILED ON SRV1 - PLEASE FOLLOW UP").recovery


def test_an_overlong_generic_fingerprint_is_bounded_and_still_distinct():
    first = generic("monitor@noc.example", "disk " + "x" * 1000 + " srv1")
    second = generic("monitor@noc.example", "disk " + "x" * 1000 + " srv2")
    assert len(first.fingerprint) <= MAX_FINGERPRINT
    assert first.fingerprint != second.fingerprint
