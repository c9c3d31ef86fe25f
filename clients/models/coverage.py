"""When we are responsible for a client's work: after hours, weekends, 24x7, overflow."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models

from desklib.businesstime import Calendar, is_open, weekly_from_rows

from .calendar import WEEKDAYS
from .client import Client


class CoverageKind(models.TextChoices):
    AFTER_HOURS = "after_hours", "After hours"
    WEEKENDS = "weekends", "Weekends"
    ALWAYS = "always", "24x7"
    OVERFLOW = "overflow", "Overflow"


class CoverageWindow(models.Model):
    """A weekly window of our responsibility, in the client's time zone.

    A client with no windows is covered at all times; an "always" window covers
    every hour whatever its times say.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="coverage")
    kind = models.CharField(max_length=20, choices=CoverageKind)
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS, null=True, blank=True)
    starts = models.TimeField(null=True, blank=True)
    ends = models.TimeField(
        null=True, blank=True, help_text="Not after 'starts': the window runs past midnight."
    )

    class Meta:
        ordering = ["client", "weekday", "starts"]

    def __str__(self) -> str:
        if self.kind == CoverageKind.ALWAYS or self.starts is None:
            return self.get_kind_display()
        when = f"{self.get_weekday_display()} {self.starts:%H:%M}-{self.ends:%H:%M}"
        return f"{self.get_kind_display()}: {when}"

    def clean(self) -> None:
        if self.kind != CoverageKind.ALWAYS and (
            self.weekday is None or self.starts is None or self.ends is None
        ):
            raise ValidationError("Give the weekday, start and end (or choose 24x7).")


def is_covered(client: Client, at: datetime) -> bool:
    """Whether the instant falls in one of the client's coverage windows."""
    windows = list(client.coverage.all())
    if not windows or any(w.kind == CoverageKind.ALWAYS for w in windows):
        return True
    rows = [
        (w.weekday, w.starts, w.ends)
        for w in windows
        if w.weekday is not None and w.starts is not None and w.ends is not None
    ]
    return is_open(Calendar(zone=client.timezone, weekly=weekly_from_rows(rows)), at)
