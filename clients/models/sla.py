"""What we promise a client: response and resolution targets per priority."""

from datetime import timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .client import Client

PRIORITIES = [("P1", "P1"), ("P2", "P2"), ("P3", "P3"), ("P4", "P4")]


class SlaPolicy(models.Model):
    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="sla_policy")
    business_hours_only = models.BooleanField(
        default=True,
        help_text="Count targets in the client's business hours; off: around the clock (24x7).",
    )
    at_risk_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="A ticket is at risk once this share of a target has elapsed.",
    )

    class Meta:
        verbose_name = "SLA policy"
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return f"SLA of {self.client}"

    def targets_for(self, priority: str) -> "SlaTarget | None":
        return next((t for t in self.targets.all() if t.priority == priority), None)


class SlaTarget(models.Model):
    policy = models.ForeignKey(SlaPolicy, on_delete=models.CASCADE, related_name="targets")
    priority = models.CharField(max_length=2, choices=PRIORITIES)
    first_response_minutes = models.PositiveIntegerField()
    resolution_minutes = models.PositiveIntegerField()

    class Meta:
        ordering = ["priority"]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "priority"], name="sla_target_one_per_priority"
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.priority}: respond in {self.first_response_minutes} min, "
            f"resolve in {self.resolution_minutes} min"
        )

    @property
    def first_response(self) -> timedelta:
        return timedelta(minutes=self.first_response_minutes)

    @property
    def resolution(self) -> timedelta:
        return timedelta(minutes=self.resolution_minutes)
