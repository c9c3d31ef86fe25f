from datetime import timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clients.models import Client, Level


class Source(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    MANUAL = "manual", "Manual"


class TicketStatus(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    WAITING = "waiting", "Waiting on MSP / customer"
    RESOLVED = "resolved", "Resolved"
    CLOSED = "closed", "Closed"


OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.WAITING)


class AlertState(models.TextChoices):
    NONE = "", "Not an alert"
    PROBLEM = "problem", "Problem"
    RECOVERED = "recovered", "Recovered"


class Priority(models.TextChoices):
    P1 = "P1", "P1 (critical)"
    P2 = "P2", "P2 (high)"
    P3 = "P3", "P3 (medium)"
    P4 = "P4", "P4 (low)"


class SlaState(models.TextChoices):
    NONE = "", "No deadline"
    OK = "ok", "On track"
    AT_RISK = "at_risk", "At risk"
    BREACHED = "breached", "Breached"


class Ticket(models.Model):
    """A unit of work for one client; shown as HD-<id>."""

    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="tickets")
    source = models.CharField(max_length=10, choices=Source, default=Source.EMAIL)
    subject = models.CharField(max_length=998)
    description = models.TextField(blank=True)
    requester_email = models.CharField(max_length=254, blank=True)
    requester_name = models.CharField(max_length=200, blank=True)
    psa_ticket_number = models.CharField(
        max_length=50, blank=True, db_index=True, help_text="The MSP's own ticket number."
    )
    status = models.CharField(max_length=10, choices=TicketStatus, default=TicketStatus.NEW)
    category = models.CharField(max_length=100, blank=True)
    impact = models.PositiveSmallIntegerField(choices=Level, default=Level.MEDIUM)
    urgency = models.PositiveSmallIntegerField(choices=Level, default=Level.MEDIUM)
    # Always set (the matrix at intake); never blank, so the queue sorts by index.
    priority = models.CharField(max_length=2, choices=Priority, default=Priority.P3)

    outside_coverage = models.BooleanField(
        default=False, help_text="Arrived when we are not responsible for the client."
    )
    is_alert = models.BooleanField(default=False)
    fingerprint = models.CharField(max_length=255, blank=True)
    alert_state = models.CharField(max_length=10, choices=AlertState, blank=True)
    occurrence_count = models.PositiveIntegerField(default=1)
    last_occurrence_at = models.DateTimeField(null=True, blank=True)

    assignee = models.ForeignKey(
        "tickets.Agent", null=True, blank=True, on_delete=models.SET_NULL, related_name="tickets"
    )
    required_skill = models.ForeignKey(
        "tickets.Skill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    priority_overridden = models.BooleanField(
        default=False, help_text="Set by an SDM; the matrix no longer decides."
    )

    # SLA clock (tickets/sla.py). Deadlines are UTC instants computed on the
    # client's calendar; time spent waiting on the MSP or its customer is added.
    first_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_paused_for = models.DurationField(default=timedelta(0))
    sla_state = models.CharField(max_length=10, choices=SlaState, blank=True, db_index=True)
    # The deadline that orders the queue: first response until there is one, then resolution.
    sla_next_due = models.DateTimeField(null=True, blank=True)
    # When the SLA state can next change (tickets/sla.py next_check): the watch's index.
    sla_check_at = models.DateTimeField(null=True, blank=True, db_index=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["client", "status"]),
            models.Index(fields=["assignee", "status"]),
            # The queue's order (tickets/queue.py QUEUE_ORDER), for take next and the pages.
            models.Index(
                fields=["priority", "sla_next_due", "created_at", "id"],
                condition=Q(assignee__isnull=True) & Q(status__in=OPEN_STATUSES),
                name="ticket_unassigned_queue",
            ),
            models.Index(
                fields=["priority", "sla_next_due", "created_at", "id"],
                condition=Q(status__in=OPEN_STATUSES),
                name="ticket_open_queue",
            ),
            # An agent serving a few clients whose work is all low priority.
            models.Index(
                fields=["client", "priority", "sla_next_due", "created_at", "id"],
                condition=Q(assignee__isnull=True) & Q(status__in=OPEN_STATUSES),
                name="ticket_unassigned_by_client",
            ),
        ]
        permissions = [
            ("override_priority", "Can override a ticket's priority"),
            ("assign_ticket", "Can assign tickets to agents"),
        ]
        constraints = [
            # At most one open ticket per alert fingerprint: concurrent alerts fold, not fork.
            models.UniqueConstraint(
                fields=["client", "fingerprint"],
                condition=Q(status__in=OPEN_STATUSES) & ~Q(fingerprint=""),
                name="ticket_one_open_per_fingerprint",
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject[:60]}"

    @property
    def reference(self) -> str:
        return f"HD-{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES
