"""How a client's mail is treated on intake: its ordered rules."""

from django.core.exceptions import ValidationError
from django.db import models

from .client import Client, validate_regex


class Level(models.IntegerChoices):
    HIGH = 1, "High"
    MEDIUM = 2, "Medium"
    LOW = 3, "Low"


class IntakeRule(models.Model):
    """One of a client's ordered rules: conditions on a mail, actions when all hold.

    Blank conditions always hold. Regexes are searched case-insensitively.
    """

    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="intake_rules")
    position = models.PositiveIntegerField(default=0, help_text="Rules run in ascending order.")
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    stop_processing = models.BooleanField(default=False, help_text="Later rules are skipped.")

    # Conditions
    sender_pattern = models.CharField(max_length=300, blank=True, validators=[validate_regex])
    subject_pattern = models.CharField(max_length=300, blank=True, validators=[validate_regex])
    body_pattern = models.CharField(max_length=300, blank=True, validators=[validate_regex])
    header_name = models.CharField(max_length=100, blank=True)
    header_pattern = models.CharField(max_length=300, blank=True, validators=[validate_regex])
    window_start = models.TimeField(null=True, blank=True, help_text="In the client's time zone.")
    window_end = models.TimeField(
        null=True,
        blank=True,
        help_text="May be earlier than the start: the window crosses midnight.",
    )
    window_weekdays = models.CharField(
        max_length=7,
        blank=True,
        help_text="Days the window applies, 0=Monday … 6=Sunday; blank: every day.",
    )

    coverage = models.CharField(
        max_length=10,
        blank=True,
        choices=[
            ("", "Any time"),
            ("inside", "Inside our coverage"),
            ("outside", "Outside our coverage"),
        ],
    )

    # Actions
    set_impact = models.PositiveSmallIntegerField(choices=Level, null=True, blank=True)
    set_urgency = models.PositiveSmallIntegerField(choices=Level, null=True, blank=True)
    set_category = models.CharField(max_length=100, blank=True)
    suppress = models.BooleanField(default=False, help_text="Record the mail; open no ticket.")
    treat_as_alert = models.BooleanField(default=False)
    fingerprint_pattern = models.CharField(
        max_length=300,
        blank=True,
        validators=[validate_regex],
        help_text="With 'treat as alert': regex on the subject whose groups form the alert's "
        "fingerprint. Blank: the preset or generic fingerprint.",
    )

    class Meta:
        ordering = ["client", "position", "id"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if bool(self.header_name) != bool(self.header_pattern):
            raise ValidationError("A header condition needs both the header name and a pattern.")
        if (self.window_start is None) != (self.window_end is None):
            raise ValidationError("A time window needs both a start and an end.")
        if self.window_weekdays and not set(self.window_weekdays) <= set("0123456"):
            raise ValidationError({"window_weekdays": "Use digits 0 (Monday) to 6 (Sunday)."})
        if self.fingerprint_pattern and not self.treat_as_alert:
            raise ValidationError({"fingerprint_pattern": "Only used with 'treat as alert'."})
