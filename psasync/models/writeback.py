import uuid

from django.db import models
from django.db.models import Q

from clients.models import Client
from tickets.models import TimeEntry

from .connection import PsaConnection


class Operation(models.TextChoices):
    CREATE = "create", "Create"
    UPDATE = "update", "Update"
    DELETE = "delete", "Delete"


class WriteBackState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATES = (WriteBackState.PENDING, WriteBackState.SENDING)


class WriteBack(models.Model):
    """One change of a time entry to make in the MSP's PSA: the transactional outbox.

    Written in the transaction that records the entry; sent by psasync.sending on the
    `psa` queue: pending → sending → sent | failed (or cancelled by the SDM). An
    update or delete points at the create it changes (`origin`), whose marker and
    remote ids it reuses.
    """

    entry = models.ForeignKey(TimeEntry, on_delete=models.PROTECT, related_name="writebacks")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="writebacks")
    connection = models.ForeignKey(
        PsaConnection, null=True, blank=True, on_delete=models.PROTECT, related_name="writebacks"
    )
    operation = models.CharField(max_length=10, choices=Operation, default=Operation.CREATE)
    origin = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="changes"
    )
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    state = models.CharField(
        max_length=10, choices=WriteBackState, default=WriteBackState.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(default=0)
    # Attempts made before the SDM's last "retry now": giving up counts from there.
    retry_from = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_status = models.PositiveSmallIntegerField(null=True, blank=True)
    remote_ticket_id = models.CharField(max_length=64, blank=True)
    remote_id = models.CharField(max_length=64, blank=True)
    sent_payload = models.JSONField(null=True, blank=True, help_text="The body as sent (audit).")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "write-back"
        indexes = [
            models.Index(
                fields=["state", "next_attempt_at"],
                name="writeback_open_due",
                condition=Q(state__in=["pending", "sending"]),
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(operation="create", origin__isnull=True)
                | Q(~Q(operation="create"), origin__isnull=False),
                name="writeback_change_has_origin",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_operation_display()} {self.entry_id} → {self.get_state_display()}"

    @property
    def marker(self) -> str:
        """What finds our entry in the PSA again: the create's uuid, in a hidden field."""
        return f"[hd:{(self.origin.uuid if self.origin_id else self.uuid).hex}]"


class AttemptOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    ADOPTED = "adopted", "Found already applied"
    RETRY = "retry", "Will retry"
    FAILED = "failed", "Failed"
    DEFERRED = "deferred", "Deferred (our rate limit)"


class Attempt(models.Model):
    """One try at a write-back: the SDM's history, and the connection's health."""

    writeback = models.ForeignKey(WriteBack, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=AttemptOutcome)
    status = models.PositiveSmallIntegerField(null=True, blank=True)
    message = models.TextField(blank=True)
    on_our_side = models.BooleanField(
        default=False,
        help_text="Failed before any request, on something we must supply (e.g. the MSP's"
        " ticket number): not counted against the connection's health.",
    )

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["started_at"])]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} at {self.started_at:%Y-%m-%d %H:%M:%S}"
