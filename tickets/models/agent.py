from django.conf import settings
from django.db import models

from clients.models import Client


class Skill(models.Model):
    """Something a ticket may need. A ticket whose category names a skill needs it."""

    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class AssignmentStrategy(models.TextChoices):
    MANUAL = "manual", "Manual (agents take next, the SDM assigns)"
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"


class Team(models.Model):
    """A group of agents serving some clients; their tickets are the team's queue."""

    name = models.CharField(max_length=100, unique=True)
    clients = models.ManyToManyField(Client, related_name="teams", blank=True)
    assignment = models.CharField(
        max_length=20, choices=AssignmentStrategy, default=AssignmentStrategy.MANUAL
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Presence(models.TextChoices):
    AVAILABLE = "available", "Available"
    BUSY = "busy", "Busy"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class Agent(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent"
    )
    teams = models.ManyToManyField(Team, related_name="agents", blank=True)
    skills = models.ManyToManyField(Skill, related_name="agents", blank=True)
    max_open_tickets = models.PositiveSmallIntegerField(
        default=5, help_text="Open tickets the agent may hold at once."
    )
    presence = models.CharField(max_length=10, choices=Presence, default=Presence.OFFLINE)
    last_assigned_at = models.DateTimeField(null=True, blank=True, help_text="For round robin.")

    class Meta:
        ordering = ["user__username"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()
