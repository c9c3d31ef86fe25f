"""When we count time for a client: its business hours, holidays and exceptions."""

from datetime import date

import holidays
from django.core.exceptions import ValidationError
from django.db import models

from desklib.businesstime import Calendar, weekly_from_rows

from .client import Client

WEEKDAYS = [(0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"),
            (4, "Friday"), (5, "Saturday"), (6, "Sunday")]  # fmt: skip


def validate_country(value: str) -> None:
    if value and value.upper() not in holidays.list_supported_countries():
        raise ValidationError(f"{value!r} is not a country the holidays package knows (ISO 3166).")


class BusinessCalendar(models.Model):
    """A client's business calendar, in the client's time zone.

    Weekly hours (a window may cross midnight), public holidays by country and
    subdivision from the `holidays` package, and dated exceptions: closures, or
    other hours for one day.
    """

    client = models.OneToOneField(Client, on_delete=models.CASCADE, related_name="calendar")
    holiday_country = models.CharField(
        max_length=3, blank=True, validators=[validate_country], help_text="ISO code, e.g. GB, US."
    )
    holiday_subdivision = models.CharField(
        max_length=10, blank=True, help_text="e.g. ENG for England, NY for New York."
    )

    def __str__(self) -> str:
        return f"Calendar of {self.client}"

    def clean(self) -> None:
        if self.holiday_subdivision and self.holiday_country:
            try:
                holidays.country_holidays(
                    self.holiday_country.upper(), subdiv=self.holiday_subdivision
                )
            except NotImplementedError as exc:
                raise ValidationError({"holiday_subdivision": str(exc)}) from exc

    def holiday_dates(self, years: range) -> set[date]:
        if not self.holiday_country:
            return set()
        found = holidays.country_holidays(
            self.holiday_country.upper(),
            subdiv=self.holiday_subdivision or None,
            years=list(years),
        )
        return set(found)

    def as_calendar(self, around: date) -> Calendar:
        """The pure calendar for arithmetic, with holidays of the years around `around`."""
        hours = weekly_from_rows(self.hours.values_list("weekday", "opens", "closes"))
        closed = self.holiday_dates(range(around.year - 1, around.year + 3))
        overrides = {}
        for exception in self.exceptions.all():
            if exception.opens is None:
                closed.add(exception.date)
            else:
                overrides.setdefault(exception.date, []).append((exception.opens, exception.closes))
        return Calendar(
            zone=self.client.timezone,
            weekly=hours,
            closed=frozenset(closed),
            overrides={d: tuple(sorted(ws)) for d, ws in overrides.items()},
        )


class BusinessHours(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField(choices=WEEKDAYS)
    opens = models.TimeField()
    closes = models.TimeField(help_text="Not after 'opens': the window runs past midnight.")

    class Meta:
        ordering = ["weekday", "opens"]
        verbose_name_plural = "business hours"

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens:%H:%M}-{self.closes:%H:%M}"


class CalendarException(models.Model):
    """One date: closed (no times), or open only in the times given."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="exceptions"
    )
    date = models.DateField()
    opens = models.TimeField(null=True, blank=True)
    closes = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["date", "opens"]

    def __str__(self) -> str:
        if self.opens is None:
            return f"{self.date} closed"
        return f"{self.date} {self.opens:%H:%M}-{self.closes:%H:%M}"

    def clean(self) -> None:
        if (self.opens is None) != (self.closes is None):
            raise ValidationError("Give both times for other hours, or neither for a closure.")
