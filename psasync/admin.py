"""The SDM's PSA console: connections (health, test connection) and the write-back list."""

import json
import re
import uuid
from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import Truncator

from . import actions
from .connectors import connector_class
from .connectors.base import PsaError, http_client
from .encryption import CredentialsUnreadable
from .models import Attempt, MemberMapping, PsaConnection, WriteBack, WriteBackState
from .sending import build_connector


class PsaConnectionForm(forms.ModelForm):
    new_credentials = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "autocomplete": "off"}),
        label="Credentials (JSON)",
        help_text="Write-only: leave blank to keep the stored ones. ConnectWise: company, "
        "public_key, private_key, client_id. Autotask: username, secret, integration_code. "
        "HaloPSA: client_id, client_secret (tenant). Syncro: api_key.",
    )

    class Meta:
        model = PsaConnection
        fields = [
            "client", "kind", "base_url", "enabled", "work_type", "role", "billing_code",
            "billable", "rate_limit", "rate_window_seconds", "max_concurrent", "timeout_seconds",
        ]  # fmt: skip

    def clean_new_credentials(self) -> dict | None:
        text = self.cleaned_data["new_credentials"].strip()
        if not text:
            if not self.instance.pk or not self.instance.credentials:
                raise ValidationError("Credentials are required.")
            return None
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Not JSON: {exc}") from exc
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ValidationError('Write an object of text fields, e.g. {"api_key": "..."}.')
        return value

    def clean(self) -> dict:
        data = super().clean()
        creds = data.get("new_credentials")
        kind = data.get("kind")
        if not kind or "new_credentials" not in data:
            return data
        connector = connector_class(kind)
        if creds:
            missing = [f for f in connector.credential_fields if not creds.get(f)]
            if missing:
                self.add_error("new_credentials", f"Missing: {', '.join(missing)}.")
            return data
        # Blank keeps the stored ones: they must still suit the kind (it may have changed).
        try:
            stored = self.instance.credentials.field_names()
        except CredentialsUnreadable:
            return data  # shown as UNREADABLE; other fixes (pausing it) stay possible
        missing = [f for f in connector.credential_fields if f not in stored]
        if missing:
            self.add_error(
                "new_credentials",
                f"The stored credentials lack {', '.join(missing)} for {connector.label}: "
                "enter them all.",
            )
        return data

    def save(self, commit: bool = True) -> PsaConnection:
        if self.cleaned_data.get("new_credentials"):
            self.instance.credentials = self.cleaned_data["new_credentials"]
        return super().save(commit)


class MemberInline(admin.TabularInline):
    model = MemberMapping
    extra = 1
    autocomplete_fields = ["agent"]


@admin.register(PsaConnection)
class PsaConnectionAdmin(admin.ModelAdmin):
    form = PsaConnectionForm
    inlines = [MemberInline]
    list_display = ["client", "kind", "enabled", "last_success_at", "failure_rate_24h", "health"]
    list_filter = ["kind", "enabled"]
    search_fields = ["client__name", "client__slug"]
    autocomplete_fields = ["client"]
    readonly_fields = [
        "stored_credential_fields",
        "last_success_at",
        "last_failure_at",
        "last_error",
    ]
    actions = ["test_connection"]

    @admin.display(description="Stored credentials")
    def stored_credential_fields(self, obj: PsaConnection) -> str:
        try:
            names = obj.credentials.field_names()
        except CredentialsUnreadable as exc:
            return f"UNREADABLE: {exc}"
        return ", ".join(names) + " (values hidden)" if names else "none"

    @admin.display(description="Failures (24 h)")
    def failure_rate_24h(self, obj: PsaConnection) -> str:
        rate = obj.failure_rate()
        return "no attempts" if rate is None else f"{rate:.0%}"

    @admin.display(description="Health")
    def health(self, obj: PsaConnection) -> str:
        if not obj.enabled:
            return "paused"
        if obj.last_failure_at and (
            not obj.last_success_at or obj.last_failure_at > obj.last_success_at
        ):
            return format_html(
                '<span title="{}">failing: {}</span>',
                obj.last_error,
                Truncator(obj.last_error).chars(60),
            )
        return "ok" if obj.last_success_at else "not used yet"

    @admin.action(description="Test connection")
    def test_connection(self, request, queryset: QuerySet[PsaConnection]) -> None:
        for connection in queryset.select_related("client"):
            sample = (
                connection.client.tickets.exclude(psa_ticket_number="")
                .order_by("-created_at")
                .values_list("psa_ticket_number", flat=True)
                .first()
            )
            try:
                with http_client() as http:
                    checks = build_connector(connection, http).check(ticket_number=sample or "")
            except (PsaError, CredentialsUnreadable) as exc:
                self.message_user(request, f"{connection}: {exc}", messages.ERROR)
                continue
            for check in checks:
                level = messages.SUCCESS if check.ok else messages.ERROR
                verdict = "works" if check.ok else "FAILS"
                detail = f" ({check.detail})" if check.detail else ""
                self.message_user(request, f"{connection}: {check.name} {verdict}{detail}", level)


MARKER_SEARCH = re.compile(
    r"^(?:\[hd:)?([0-9a-f]{32}|[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12})\]?$", re.I
)


class AttemptInline(admin.TabularInline):
    model = Attempt
    extra = 0
    can_delete = False
    fields = ["started_at", "finished_at", "outcome", "status", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WriteBack)
class WriteBackAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "client",
        "ticket",
        "operation",
        "state",
        "attempts",
        "short_error",
        "next_attempt_at",
        "sent_at",
        "remote_id",
    ]
    list_filter = ["state", "operation", "client", "connection__kind"]
    list_select_related = ["client", "entry__ticket"]
    search_fields = ["entry__ticket__psa_ticket_number", "remote_id", "last_error", "uuid"]
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["retry_now", "cancel"]
    readonly_fields = [
        "entry",
        "client",
        "connection",
        "operation",
        "origin",
        "uuid",
        "marker",
        "state",
        "attempts",
        "next_attempt_at",
        "sending_since",
        "last_status",
        "last_error",
        "remote_ticket_id",
        "remote_id",
        "payload_as_sent",
        "created_at",
        "sent_at",
    ]
    exclude = ["sent_payload", "retry_from"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return obj is None and super().has_change_permission(request, obj)

    def get_search_results(self, request, queryset, search_term):
        # The SDM pastes our marker from the PSA ("[hd:<hex>]"); a text search on the uuid
        # column misses that form on PostgreSQL, so a marker or uuid is looked up exactly.
        match = MARKER_SEARCH.match(search_term.strip())
        if match:
            wanted = uuid.UUID(match.group(1))
            return queryset.filter(Q(uuid=wanted) | Q(origin__uuid=wanted)), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Ticket")
    def ticket(self, obj: WriteBack) -> str:
        ticket = obj.entry.ticket
        return f"{ticket.reference} / {ticket.psa_ticket_number or '—'}"

    @admin.display(description="Last error")
    def short_error(self, obj: WriteBack) -> str:
        return format_html(
            '<span title="{}">{}</span>', obj.last_error, Truncator(obj.last_error).chars(80)
        )

    @admin.display(description="Payload as sent")
    def payload_as_sent(self, obj: WriteBack) -> str:
        if obj.sent_payload is None:
            return "—"
        return format_html("<pre>{}</pre>", json.dumps(obj.sent_payload, indent=2))

    def _each(self, request, queryset, do, done: str) -> None:
        count = 0
        for writeback in queryset.select_related("client", "entry__ticket"):
            try:
                do(writeback, request.user)
                count += 1
            except ValidationError as exc:
                self.message_user(
                    request, f"#{writeback.pk}: {' '.join(exc.messages)}", messages.ERROR
                )
        if count:
            self.message_user(request, f"{count} write-back(s) {done}.", messages.SUCCESS)

    @admin.action(description="Retry now", permissions=["change"])
    def retry_now(self, request, queryset: QuerySet[WriteBack]) -> None:
        self._each(request, queryset, actions.retry_now, "queued to send now")

    @admin.action(description="Cancel (do not send)", permissions=["change"])
    def cancel(self, request, queryset: QuerySet[WriteBack]) -> None:
        self._each(request, queryset, actions.cancel, "cancelled")

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":  # an action: counts taken now would be stale after it
            return super().changelist_view(request, extra_context)
        failed = WriteBack.objects.filter(state=WriteBackState.FAILED).count()
        stuck = WriteBack.objects.filter(
            state=WriteBackState.PENDING,
            next_attempt_at__lt=timezone.now() - timedelta(minutes=10),
        ).count()
        if failed and "state__exact" not in request.GET:
            self.message_user(
                request, f"{failed} write-back(s) failed and need you.", messages.WARNING
            )
        if stuck:
            self.message_user(
                request,
                f"{stuck} write-back(s) overdue by more than 10 minutes: is a worker running?",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)
