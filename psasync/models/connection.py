from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from clients.models import Client, PsaKind
from tickets.models import Agent

from ..encryption import EncryptedJSONField

# What each PSA documents (requests, per seconds, in flight at once); an SDM may
# lower them where the MSP's other integrations share the same allowance.
DEFAULT_LIMITS = {
    PsaKind.CONNECTWISE: (600, 60, 5),  # not published as a number; conservative
    PsaKind.AUTOTASK: (10_000, 3600, 3),  # per database per hour; 3 threads
    PsaKind.HALOPSA: (300, 300, 4),  # per rolling 5 minutes
    PsaKind.SYNCRO: (180, 60, 4),  # per minute
}


class BillableOption(models.TextChoices):
    ENTRY = "entry", "As the agent marked the entry"
    ALWAYS = "always", "Always billable"
    NEVER = "never", "Never billable"


class PsaConnection(models.Model):
    """How we reach one client's PSA, and how our time maps onto it."""

    client = models.OneToOneField(Client, on_delete=models.PROTECT, related_name="psa_connection")
    kind = models.CharField(max_length=20, choices=[c for c in PsaKind.choices if c[0] != "none"])
    base_url = models.URLField(
        max_length=300,
        help_text="ConnectWise: https://api-na.myconnectwise.net/v4_6_release/apis/3.0; "
        "Autotask: https://webservices.autotask.net/atservicesrest (the zone is discovered); "
        "HaloPSA: https://<tenant>.halopsa.com; Syncro: https://<subdomain>.syncromsp.com/api/v1",
    )
    credentials = EncryptedJSONField(blank=True, help_text="Encrypted at rest.")
    enabled = models.BooleanField(
        default=True, help_text="Off: write-backs wait (pending) until it is on again."
    )
    work_type = models.CharField(
        max_length=100, blank=True, help_text="Default work type (ConnectWise work type name)."
    )
    role = models.CharField(
        max_length=100, blank=True, help_text="Role / work role (Autotask roleID, CW work role)."
    )
    billing_code = models.CharField(
        max_length=100,
        blank=True,
        help_text="Billing code (Autotask billingCodeID, Syncro product id, Halo charge rate).",
    )
    billable = models.CharField(max_length=10, choices=BillableOption, default=BillableOption.ENTRY)
    rate_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests per window; blank: the PSA's documented limit."
    )
    rate_window_seconds = models.PositiveIntegerField(null=True, blank=True)
    max_concurrent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Requests in flight at once; blank: the PSA's default."
    )
    # At most 30 s: three requests and their waits must end within the job's 120 s.
    timeout_seconds = models.FloatField(
        default=20.0, validators=[MinValueValidator(0.5), MaxValueValidator(30)]
    )

    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "PSA connection"

    def __str__(self) -> str:
        return f"{self.client} → {self.get_kind_display()}"

    def clean(self) -> None:
        if self.client_id and self.client.psa_kind not in (self.kind, PsaKind.NONE):
            raise ValidationError(
                {"kind": f"{self.client} uses {self.client.get_psa_kind_display()}."}
            )

    def limits(self) -> tuple[int, int, int]:
        """(requests, per seconds, in flight) in force for this connection."""
        requests, window, concurrent = DEFAULT_LIMITS[self.kind]
        return (
            self.rate_limit or requests,
            self.rate_window_seconds or window,
            self.max_concurrent or concurrent,
        )

    def limit_key(self) -> str:
        """Names this connection's limits in Redis; the creation time keeps a recreated
        row (a restored or test database reusing ids) from inheriting old counts."""
        return f"{self.pk}.{self.created_at.timestamp():.6f}"

    def failure_rate(self, since: timedelta = timedelta(hours=24)) -> float | None:
        """Share of attempts in the period that did not succeed (None: no attempts);
        failures on our side (nothing sent) are not the connection's."""
        from .writeback import Attempt, AttemptOutcome

        recent = (
            Attempt.objects.filter(
                writeback__connection=self, started_at__gte=timezone.now() - since
            )
            .exclude(outcome=AttemptOutcome.DEFERRED)
            .exclude(on_our_side=True)
        )
        total = recent.count()
        if not total:
            return None
        failed = recent.filter(outcome__in=[AttemptOutcome.RETRY, AttemptOutcome.FAILED]).count()
        return failed / total


class MemberMapping(models.Model):
    """Our agent as the MSP's PSA knows them (member identifier, resource id, agent id)."""

    connection = models.ForeignKey(PsaConnection, on_delete=models.CASCADE, related_name="members")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="psa_members")
    member = models.CharField(max_length=100, help_text="The PSA's member / resource / agent id.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "agent"], name="one_member_per_agent")
        ]

    def __str__(self) -> str:
        return f"{self.agent} = {self.member}"
