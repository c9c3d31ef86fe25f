import re

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from .actions import (
    Actor,
    assign_ticket,
    change_time,
    override_priority,
    set_psa_ticket_number,
    void_time,
)
from .actions.reference import NUMBER_MAX
from .forms import LocalDateTimeInput
from .intake.pipeline import FAILED, process_inbound
from .models import (
    Agent,
    Attachment,
    InboundMail,
    InboundStatus,
    Message,
    Priority,
    PriorityMatrixCell,
    Skill,
    Team,
    Ticket,
    TicketEvent,
    TimeEntry,
)


def _without_hd(search_term: str) -> str:
    return re.sub(r"(?i)\bHD-(\d+)\b", r"\1", search_term)


class ReadOnlyInline:
    """Rows shown with their parent, never added, changed or deleted there."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Tickets and their mails change only through tickets.actions (audited)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MessageInline(ReadOnlyInline, admin.StackedInline):
    model = Message
    show_change_link = True
    fields = [("kind", "sent_at"), ("from_name", "from_address"), "subject", "text", "message_id"]
    readonly_fields = fields[0] + fields[1] + ("subject", "text", "message_id")


class TicketEventInline(ReadOnlyInline, admin.TabularInline):
    model = TicketEvent
    fields = ["created_at", "actor_label", "kind", "old_value", "new_value", "note"]
    readonly_fields = fields


@admin.register(PriorityMatrixCell)
class PriorityMatrixAdmin(admin.ModelAdmin):
    """The SDM's impact x urgency matrix; new tickets take their priority from it."""

    list_display = ["impact", "urgency", "priority"]
    list_editable = ["priority"]

    def has_add_permission(self, request):
        return False  # all nine cells exist from the first migration

    def has_delete_permission(self, request, obj=None):
        return False


class AssignForm(forms.Form):
    agent = forms.ModelChoiceField(queryset=Agent.objects.select_related("user"))


class OverridePriorityForm(forms.Form):
    priority = forms.ChoiceField(choices=Priority.choices)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


class PsaNumberForm(forms.Form):
    number = forms.CharField(
        label="The MSP's ticket number",
        max_length=NUMBER_MAX,
        help_text="As their PSA shows it. Time is written back against it; retry the"
        " ticket's failed write-backs afterwards (PSA write-backs).",
    )


class ActionFormMixin:
    def _only_one(self, request, queryset, why: str) -> bool:
        """Whether exactly one row is selected; if not, says `why` it must be."""
        if queryset.count() == 1:
            return True
        self.message_user(request, why, messages.ERROR)
        return False

    def _action_form(
        self, request, queryset, form_class, action: str, title: str, apply, initial=None
    ):
        """An intermediate page: the form, then `apply(row, data)` for each selected row."""
        form = form_class(request.POST if "apply" in request.POST else None, initial=initial)
        if form.is_valid():
            done, refused = 0, []
            for row in queryset:
                try:
                    apply(row, form.cleaned_data)
                    done += 1
                except (ValueError, PermissionDenied) as exc:
                    refused.append(f"{getattr(row, 'reference', row)}: {exc}")
                except ValidationError as exc:
                    refused.append(f"{getattr(row, 'reference', row)}: {' '.join(exc.messages)}")
            if done:
                self.message_user(request, f"{title}: {done} done.", messages.SUCCESS)
            for line in refused:
                self.message_user(request, line, messages.ERROR)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title, "form": form, "tickets": list(queryset), "action": action,
            "opts": self.model._meta,
        }  # fmt: skip
        return TemplateResponse(request, "admin/tickets/action_form.html", context)


@admin.register(Ticket)
class TicketAdmin(ActionFormMixin, ReadOnlyAdmin):
    """The SDM's view of all work: read-only rows, changed through audited actions."""

    list_display = [
        "reference", "priority", "subject", "client", "status", "assignee", "sla_state",
        "sla_next_due", "is_alert", "occurrence_count", "psa_ticket_number", "created_at",
    ]  # fmt: skip
    list_filter = ["status", "priority", "sla_state", "assignee", "is_alert", "client", "source"]
    actions = ["assign", "override", "set_psa_number"]
    search_fields = ["subject", "psa_ticket_number", "requester_email", "=id"]
    list_select_related = ["client", "assignee__user"]
    readonly_fields = [
        "client", "source", "requester_email", "requester_name", "psa_ticket_number",
        "is_alert", "fingerprint", "alert_state", "occurrence_count", "last_occurrence_at",
        "status", "created_at", "updated_at", "resolved_at",
    ]  # fmt: skip
    inlines = [MessageInline, TicketEventInline]

    @admin.display(description="Ref", ordering="id")
    def reference(self, obj: Ticket) -> str:
        return obj.reference

    def get_search_results(self, request, queryset, search_term):
        return super().get_search_results(request, queryset, _without_hd(search_term))

    def has_assign_permission(self, request) -> bool:
        return request.user.has_perm("tickets.assign_ticket")

    def has_override_permission(self, request) -> bool:
        return request.user.has_perm("tickets.override_priority")

    @admin.action(description="Assign to an agent…", permissions=["assign"])
    def assign(self, request, queryset):
        actor = Actor.of(request.user)
        return self._action_form(
            request, queryset, AssignForm, "assign", "Assign to an agent",
            lambda ticket, data: assign_ticket(ticket, data["agent"], actor),
        )  # fmt: skip

    def has_set_psa_number_permission(self, request) -> bool:
        return request.user.has_perm("tickets.change_ticket")

    @admin.action(description="Set the MSP's ticket number…", permissions=["set_psa_number"])
    def set_psa_number(self, request, queryset):
        if not self._only_one(
            request,
            queryset,
            "Set one ticket's number at a time: each ticket has its own in the MSP's PSA.",
        ):
            return None
        actor = Actor.of(request.user)
        return self._action_form(
            request, queryset, PsaNumberForm, "set_psa_number", "Set the MSP's ticket number",
            lambda ticket, data: set_psa_ticket_number(ticket, data["number"], actor),
        )  # fmt: skip

    @admin.action(description="Override the priority…", permissions=["override"])
    def override(self, request, queryset):
        actor = Actor.of(request.user)
        return self._action_form(
            request, queryset, OverridePriorityForm, "override", "Override the priority",
            lambda ticket, data: override_priority(ticket, data["priority"], data["reason"], actor),
        )  # fmt: skip


class AttachmentInline(ReadOnlyInline, admin.TabularInline):
    model = Attachment
    fields = ["filename", "content_type", "size", "inline", "content_id", "file"]
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["subject", "kind", "from_address", "ticket", "sent_at"]
    list_select_related = ["ticket"]
    search_fields = ["subject", "message_id", "from_address"]
    inlines = [AttachmentInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Message._meta.fields]


@admin.register(InboundMail)
class InboundMailAdmin(admin.ModelAdmin):
    """Every mail we received. Failed and unrouted ones are the SDM's to fix and reprocess."""

    list_display = [
        "id", "received_at", "outcome_badge", "client", "ticket_link", "short_subject",
        "from_address",
    ]  # fmt: skip
    list_filter = ["status", "outcome", "provider", "client"]
    search_fields = ["subject", "from_address", "envelope_recipient", "message_id", "=id"]
    list_select_related = ["client"]
    actions = ["reprocess"]
    fields = [
        ("received_at", "provider", "provider_event_id"),
        ("envelope_recipient", "raw_size", "raw_download"),
        ("status", "outcome", "attempts", "processed_at"),
        "reason", "error",
        "route_to",
        ("client", "ticket"),
        ("subject", "from_address", "message_id"),
    ]  # fmt: skip

    def get_readonly_fields(self, request, obj=None):
        names = [f.name for f in InboundMail._meta.fields if f.name not in ("route_to", "raw")]
        return [*names, "raw_download"]

    def get_urls(self):
        raw = path(
            "<int:pk>/raw/",
            self.admin_site.admin_view(self.raw_view),
            name="tickets_inboundmail_raw",
        )
        return [raw, *super().get_urls()]

    def raw_view(self, request, pk: int) -> HttpResponse:
        """The mail exactly as received, to open in a mail client or attach to a bug."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        inbound = get_object_or_404(InboundMail, pk=pk)
        response = HttpResponse(bytes(inbound.raw), content_type="message/rfc822")
        response["Content-Disposition"] = f'attachment; filename="inbound-{inbound.pk}.eml"'
        return response

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # never lose a mail, not even by a click

    @admin.display(description="Raw message")
    def raw_download(self, obj: InboundMail) -> str:
        url = reverse("admin:tickets_inboundmail_raw", args=[obj.pk])
        return format_html('<a href="{}">download .eml</a> ({} bytes)', url, obj.raw_size)

    @admin.display(description="Subject", ordering="subject")
    def short_subject(self, obj: InboundMail) -> str:
        return Truncator(obj.subject or "(not parsed yet)").chars(70)

    @admin.display(description="Outcome", ordering="outcome")
    def outcome_badge(self, obj: InboundMail) -> str:
        return "FAILED" if obj.status == InboundStatus.FAILED else (obj.outcome or "pending")

    @admin.display(description="Ticket")
    def ticket_link(self, obj: InboundMail) -> str:
        if not obj.ticket_id:
            return "-"
        url = reverse("admin:tickets_ticket_change", args=[obj.ticket_id])
        return format_html('<a href="{}">HD-{}</a>', url, obj.ticket_id)

    @admin.action(description="Reprocess selected mails (all but those already consumed)")
    def reprocess(self, request, queryset: QuerySet[InboundMail]) -> None:
        done: dict[str, int] = {}
        skipped = 0
        for inbound in queryset.order_by("id"):
            if inbound.is_primary:
                skipped += 1  # it made or joined a ticket; a second run would change nothing
                continue
            result = process_inbound(inbound)
            done[result.outcome] = done.get(result.outcome, 0) + 1
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(done.items())) or "nothing"
        level = messages.WARNING if FAILED in done else messages.SUCCESS
        self.message_user(request, f"Reprocessed: {summary}.", level)
        if skipped:
            self.message_user(
                request, f"{skipped} already processed mail(s) left as they are.", messages.INFO
            )

    def get_search_results(self, request, queryset, search_term):
        # The SDM copies "HD-12" from a ticket; the id search wants "12".
        return super().get_search_results(request, queryset, _without_hd(search_term))


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "assignment"]
    filter_horizontal = ["clients"]


@admin.register(Skill)
class SkillAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["__str__", "presence", "max_open_tickets", "last_assigned_at"]
    list_filter = ["presence", "teams"]
    list_select_related = ["user"]
    filter_horizontal = ["teams", "skills"]
    autocomplete_fields = ["user"]
    search_fields = ["user__username", "user__first_name", "user__last_name"]


class ChangeTimeForm(forms.Form):
    started_at = forms.DateTimeField(widget=LocalDateTimeInput())
    ended_at = forms.DateTimeField(widget=LocalDateTimeInput())
    summary = forms.CharField(max_length=500, widget=forms.Textarea(attrs={"rows": 2}))
    billable = forms.BooleanField(required=False)


class VoidTimeForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(TimeEntry)
class TimeEntryAdmin(ActionFormMixin, ReadOnlyAdmin):
    """Time changes through audited actions, which carry it to the MSP's PSA (or refuse)."""

    list_display = ["ticket", "agent", "started_at", "duration", "summary", "billable", "voided_at"]
    list_select_related = ["ticket", "agent__user"]
    list_filter = ["billable", "work_type", ("voided_at", admin.EmptyFieldListFilter)]
    actions = ["change_entries", "void_entries"]

    def has_edit_time_permission(self, request) -> bool:
        return request.user.has_perm("tickets.change_timeentry")

    @admin.action(description="Change time, summary or billable…", permissions=["edit_time"])
    def change_entries(self, request, queryset):
        # One at a time: each entry has its own times and summary, and the form starts
        # from them, so a field the SDM leaves alone stays as it was (billable too).
        if not self._only_one(
            request,
            queryset,
            "Change one time entry at a time: each has its own times and summary.",
        ):
            return None
        entry = queryset.get()
        current = {
            "started_at": timezone.localtime(entry.started_at),
            "ended_at": timezone.localtime(entry.ended_at),
            "summary": entry.summary,
            "billable": entry.billable,
        }
        return self._action_form(
            request, queryset, ChangeTimeForm, "change_entries", "Change time entries",
            lambda entry, data: change_time(entry, request.user, **data), initial=current,
        )  # fmt: skip

    @admin.action(description="Delete time (void)…", permissions=["edit_time"])
    def void_entries(self, request, queryset):
        return self._action_form(
            request, queryset, VoidTimeForm, "void_entries", "Delete time entries",
            lambda entry, data: void_time(entry, request.user, data["reason"]),
        )  # fmt: skip
