"""Each PSA's default pattern finds its own ticket numbers, and only those."""

import pytest

from clients.models import Client

CASES = [
    ("connectwise", "Ticket #48213 - Outlook keeps asking for a password", "48213"),
    ("connectwise", "Updated: Service Ticket #1234567 (Baker & Co)", "1234567"),
    ("autotask", "New ticket T20261201.0042 assigned to After-hours", "T20261201.0042"),
    ("halopsa", "[ID:0012345] New ticket logged: VPN down", "12345"),
    ("halopsa", "Ticket ID: 00456 has been updated", "456"),
    ("syncro", "Ticket #1042 - Printer offline", "1042"),
]


@pytest.mark.parametrize(("kind", "subject", "number"), CASES)
def test_the_default_pattern_reads_the_psas_number(kind, subject, number):
    assert Client(psa_kind=kind).find_psa_ticket_number(subject) == number


@pytest.mark.parametrize(
    ("kind", "subject"),
    [
        ("autotask", "Ticket #48213 - a ConnectWise number is not Autotask's"),
        ("connectwise", "T20261201.0042 is an Autotask number"),
        ("connectwise", "Invoice #4 is too short to be a ticket"),
        ("none", "Ticket #48213 with no PSA configured"),
    ],
)
def test_other_systems_numbers_are_not_taken(kind, subject):
    assert Client(psa_kind=kind).find_psa_ticket_number(subject) == ""


def test_a_clients_own_pattern_wins_over_the_default():
    client = Client(psa_kind="connectwise", psa_ticket_pattern=r"\{CW-(\d+)\}")
    assert client.find_psa_ticket_number("Ticket #48213 {CW-77}") == "77"
