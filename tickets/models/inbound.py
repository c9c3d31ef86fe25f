from django.db import models
from django.db.models import Q

from clients.models import Client

from .ticket import Ticket


class InboundStatus(models.TextChoices):
    RECEIVED = "received", "Received, not processed yet"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Processing failed"


class IntakeOutcome(models.TextChoices):
    CREATED = "created", "Created a ticket"
    THREADED = "threaded", "Added to a ticket"
    FOLDED = "folded", "Folded into an open alert"
    SUPPRESSED = "suppressed", "Suppressed"
    UNROUTED = "unrouted", "Unrouted"
    DUPLICATE = "duplicate", "Duplicate delivery"
    REJECTED = "rejected", "Rejected"


# Outcomes after which a redelivery of the same mail is a duplicate.
CONSUMING_OUTCOMES = (
    IntakeOutcome.CREATED,
    IntakeOutcome.THREADED,
    IntakeOutcome.FOLDED,
    IntakeOutcome.SUPPRESSED,
)


class InboundMail(models.Model):
    """A mail as it reached us, stored before anything else is done with it.

    The raw bytes never change; processing fills in the outcome, and can be
    repeated from the admin after a failure or a re-route.
    """

    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    provider = models.CharField(max_length=30, help_text="Email provider, or 'cli'.")
    provider_event_id = models.CharField(max_length=200, blank=True)
    envelope_recipient = models.CharField(max_length=254, blank=True)
    raw = models.BinaryField()
    raw_sha256 = models.CharField(max_length=64)
    raw_size = models.PositiveBigIntegerField()
    unreadable_payload = models.BooleanField(
        default=False,
        help_text="A provider's post that held no readable mail; kept as posted, not processed.",
    )
    raw_rebuilt = models.BooleanField(
        default=False,
        help_text="The provider posted parsed fields only; the raw message was rebuilt from them.",
    )

    status = models.CharField(max_length=10, choices=InboundStatus, default=InboundStatus.RECEIVED)
    outcome = models.CharField(max_length=10, choices=IntakeOutcome, blank=True)
    reason = models.TextField(blank=True)
    error = models.TextField(blank=True, help_text="The last processing failure.")
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    route_to = models.ForeignKey(
        Client,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Set by an SDM to route an unrouted mail to this client on reprocessing.",
    )
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.PROTECT, related_name="inbound_mails"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound_mails"
    )
    subject = models.CharField(max_length=998, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    dedupe_key = models.CharField(max_length=300, blank=True)
    is_primary = models.BooleanField(
        default=False, help_text="The first delivery of this mail for its client."
    )

    class Meta:
        verbose_name = "inbound mail"
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["status", "outcome"]),
            models.Index(fields=["dedupe_key"]),
        ]
        constraints = [
            # The database, not a race-prone lookup, decides which delivery is the first.
            models.UniqueConstraint(
                fields=["client", "dedupe_key"],
                condition=Q(is_primary=True),
                name="inbound_one_primary_per_mail",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject or '(not parsed yet)'}"
