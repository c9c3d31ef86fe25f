from django.conf import settings
from django.db import models

from .agent import Agent
from .ticket import Ticket


class InternalNote(models.Model):
    """A note for us, never for the MSP."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    author_label = models.CharField(
        max_length=100, default="", help_text="The user's name, or the system part."
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on {self.ticket.reference}"


class RunningTimer(models.Model):
    """The clock an agent started on a ticket. Stopping it keeps it, with the time it
    stopped, until the agent logs the entry it fills in."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="timer")
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(
        null=True, blank=True, help_text="Stopped, waiting to be logged as a time entry."
    )

    def __str__(self) -> str:
        return f"{self.agent} on {self.ticket.reference} since {self.started_at:%H:%M}"
