from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from .agent import Agent
from .ticket import Ticket

SUMMARY_MAX = 500
MAX_ENTRY = timedelta(hours=24)


class WorkType(models.TextChoices):
    REMOTE = "remote", "Remote support"
    PHONE = "phone", "Phone call"
    ONSITE = "onsite", "On site"
    ADMIN = "admin", "Administration"


class TimeEntry(models.Model):
    """Time an agent spent on a ticket.

    `summary` is the only text that ever leaves for the MSP's PSA; `private_notes`
    never leave. Created only through tickets.actions.record_time, which refuses
    zero, negative, over-24-hour and overlapping entries with a clear message.
    """

    ticket = models.ForeignKey(Ticket, on_delete=models.PROTECT, related_name="time_entries")
    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="time_entries")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    duration = models.DurationField()
    summary = models.CharField(
        max_length=SUMMARY_MAX, help_text="Sent to the MSP's PSA: brief, for their customer's eyes."
    )
    private_notes = models.TextField(blank=True, help_text="Ours only; never sent anywhere.")
    billable = models.BooleanField(default=True)
    work_type = models.CharField(max_length=10, choices=WorkType, default=WorkType.REMOTE)
    created_at = models.DateTimeField(auto_now_add=True)
    # Deleted time is kept (it may have reached the MSP's PSA): void, with who and why.
    voided_at = models.DateTimeField(null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    void_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["started_at"]
        verbose_name_plural = "time entries"
        indexes = [models.Index(fields=["agent", "started_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gt=F("started_at")), name="time_entry_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(duration__gt=timedelta(0)) & Q(duration__lte=MAX_ENTRY),
                name="time_entry_duration_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agent} {self.duration} on {self.ticket.reference}"
