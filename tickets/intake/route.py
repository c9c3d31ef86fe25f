"""Stage 1: which client is this mail for? Decided by our dedicated addresses."""

from clients.models import Client, DedicatedAddress, normalise_address, without_tag
from desklib.mailparse import ParsedMail


def candidate_addresses(envelope_recipient: str, parsed: ParsedMail) -> list[str]:
    """Recipients in the order they are trusted: envelope, then To, Cc, Delivered-To;
    each exactly as written first, then without its +tag."""
    seen: dict[str, None] = {}
    for address in [envelope_recipient, *parsed.to, *parsed.cc, *parsed.delivered_to]:
        normalised = normalise_address(address)
        if "@" in normalised:
            seen.setdefault(normalised, None)
            seen.setdefault(without_tag(normalised), None)
    return list(seen)


def route(envelope_recipient: str, parsed: ParsedMail) -> tuple[Client | None, str]:
    """The client whose dedicated address the mail was sent to, and that address.

    The envelope recipient wins: a mail can name other clients' addresses in its
    headers (a forward, a Cc), but the provider tells us where it was delivered.
    """
    candidates = candidate_addresses(envelope_recipient, parsed)
    if not candidates:
        return None, ""
    found = {
        a.address: a.client
        for a in DedicatedAddress.objects.filter(address__in=candidates).select_related("client")
    }
    for address in candidates:
        if address in found:
            return found[address], address
    return None, ""
