"""The MSPs we work for and the addresses they mail us at."""

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from desklib import patterns


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/London).") from exc


def validate_regex(value: str) -> None:
    try:
        patterns.compile_check(value)
    except ValueError as exc:
        raise ValidationError(f"Not a valid regular expression: {exc}") from exc


class PsaKind(models.TextChoices):
    NONE = "none", "No PSA"
    CONNECTWISE = "connectwise", "ConnectWise PSA"
    AUTOTASK = "autotask", "Autotask"
    HALOPSA = "halopsa", "HaloPSA"
    SYNCRO = "syncro", "Syncro"


# How each PSA writes its ticket number into the subjects of its notifications.
# The first capture group is the number as the PSA knows it.
DEFAULT_PSA_TICKET_PATTERNS = {
    PsaKind.CONNECTWISE: r"\bTicket\s*#\s*(\d{3,10})\b",
    PsaKind.AUTOTASK: r"\b(T\d{8}\.\d{4})\b",
    PsaKind.HALOPSA: r"(?:\[\s*ID\s*:?\s*|\bTicket\s*(?:ID)?\s*[#:]\s*)0*(\d{1,10})\b",
    PsaKind.SYNCRO: r"\bTicket\s*#\s*(\d{1,10})\b",
}


class Client(models.Model):
    """An MSP whose mail and calls we handle."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    timezone = models.CharField(
        max_length=64, default="UTC", validators=[validate_timezone], help_text="IANA name."
    )
    active = models.BooleanField(default=True, help_text="Mail to an inactive client is rejected.")
    psa_kind = models.CharField(max_length=20, choices=PsaKind, default=PsaKind.NONE)
    psa_ticket_pattern = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_regex],
        help_text="Regex finding the MSP's ticket number in a subject; first group is the "
        "number. Blank: the default for the PSA kind.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def effective_psa_pattern(self) -> str:
        return self.psa_ticket_pattern or DEFAULT_PSA_TICKET_PATTERNS.get(self.psa_kind, "")

    def find_psa_ticket_number(self, subject: str) -> str:
        """The MSP's ticket number in `subject`, or '' when its PSA's pattern is absent."""
        pattern = self.effective_psa_pattern
        if not pattern:
            return ""
        try:
            match = patterns.search(pattern, subject)
        except patterns.PatternTimeout:
            return ""  # logged; threading falls back to headers and our token
        if not match:
            return ""
        # The first group that took part ("#(\d+)|Case (\S+)"), else the whole match.
        number = next((g for g in match.groups() if g), None) or match.group(0)
        return number.strip()[:50]


def normalise_address(address: str) -> str:
    """An address as stored and compared: trimmed and lower-case."""
    return (address or "").strip().strip("<>").strip().lower()


def without_tag(address: str) -> str:
    """acme+alerts@x -> acme@x: plus-addressing routes like the plain address."""
    local, at, domain = normalise_address(address).rpartition("@")
    return (
        f"{local.split('+', 1)[0]}@{domain}" if at and "+" in local else normalise_address(address)
    )


class DedicatedAddress(models.Model):
    """An address we gave one client; mail to it (or to a +tag of it) is that client's."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="addresses")
    address = models.EmailField(max_length=254)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name_plural = "dedicated addresses"
        constraints = [
            models.UniqueConstraint(Lower("address"), name="dedicated_address_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.address

    def save(self, *args, **kwargs):
        self.address = normalise_address(self.address)
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.address = normalise_address(self.address)


class PortalMembership(models.Model):
    """A user of an MSP who may see that MSP's own work in the portal and API."""

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="portal_members")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portal_memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "user"], name="portal_membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.client}"
