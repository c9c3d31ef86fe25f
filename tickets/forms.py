from django import forms
from django.utils import timezone

from .models import Priority, TicketStatus, WorkType
from .models.time_entry import SUMMARY_MAX

LOCAL_INPUT = "%Y-%m-%dT%H:%M"


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format=LOCAL_INPUT, **kwargs)


class TimeEntryForm(forms.Form):
    started_at = forms.DateTimeField(widget=LocalDateTimeInput(), input_formats=[LOCAL_INPUT])
    ended_at = forms.DateTimeField(widget=LocalDateTimeInput(), input_formats=[LOCAL_INPUT])
    summary = forms.CharField(
        max_length=SUMMARY_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Goes to the MSP's PSA. Brief, and fit for their customer's eyes.",
    )
    private_notes = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), help_text="Ours only."
    )
    billable = forms.BooleanField(required=False, initial=True)
    work_type = forms.ChoiceField(choices=WorkType.choices, initial=WorkType.REMOTE)

    @classmethod
    def from_timer(cls, timer):
        end = timezone.localtime(timer.stopped_at or timezone.now()).replace(
            second=0, microsecond=0
        )
        start = timezone.localtime(timer.started_at).replace(second=0, microsecond=0)
        return cls(initial={"started_at": start, "ended_at": max(end, start)})


class NoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Internal note")


class StatusForm(forms.Form):
    # Agents move work between open and waiting; resolving has its own form (with a
    # resolution note), and closing is the SDM's.
    status = forms.ChoiceField(
        choices=[(s, label) for s, label in TicketStatus.choices if s in ("open", "waiting")]
    )


class ResolveForm(forms.Form):
    resolution = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class QueueFilterForm(forms.Form):
    client = forms.CharField(required=False)
    priority = forms.ChoiceField(required=False, choices=[("", "Any priority"), *Priority.choices])
    unassigned = forms.BooleanField(required=False)
