import re

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..actions import (
    Actor,
    add_note,
    change_status,
    clear_timer,
    record_time,
    release_ticket,
    resolve_ticket,
    start_timer,
    stop_timer,
    void_time,
)
from ..forms import NoteForm, ResolveForm, StatusForm, TimeEntryForm
from ..models import Attachment, RunningTimer, Ticket, TimeEntry
from ..queue import visible_to
from .access import agent_required


def _ticket_for(request, pk: int) -> Ticket:
    """The ticket if the agent's teams serve its client; 404 otherwise (no hint it exists)."""
    return get_object_or_404(
        visible_to(request.agent).select_related("client", "assignee__user"), pk=pk
    )


def _render(request, ticket, status=200, **forms):
    timer = RunningTimer.objects.filter(agent=request.agent).select_related("ticket").first()
    messages_in_order = ticket.messages.prefetch_related("attachments").order_by("sent_at", "id")
    total = ticket.messages.count()
    hidden = 0
    if total > THREAD_HEAD + THREAD_TAIL + 10:
        # An alert folded thousands of times: its first mails and its latest are the story.
        hidden = total - THREAD_HEAD - THREAD_TAIL
        thread = [*messages_in_order[:THREAD_HEAD], *messages_in_order[total - THREAD_TAIL :]]
    else:
        thread = list(messages_in_order)
    for message in thread:
        message.shown_html = _inline_images(message, ticket) if message.html else ""
    context = {
        "ticket": ticket,
        "thread": thread,
        "hidden": hidden,
        "thread_head": THREAD_HEAD,
        "notes": ticket.notes.all(),
        "events": ticket.events.all(),
        "entries": ticket.time_entries.filter(voided_at__isnull=True)
        .select_related("agent__user")
        # psasync's outbox rows, by their related name: the agent sees what reached the PSA
        .prefetch_related("writebacks"),
        "timer": timer,
        "now": timezone.now(),
        "time_form": forms.get("time_form")
        or (
            TimeEntryForm.from_timer(timer)
            if timer and timer.ticket_id == ticket.pk
            else TimeEntryForm()
        ),
        "note_form": forms.get("note_form") or NoteForm(),
        "status_form": forms.get("status_form") or StatusForm(initial={"status": ticket.status}),
        "resolve_form": forms.get("resolve_form") or ResolveForm(),
    }
    return render(request, "desk/ticket.html", context, status=status)


@agent_required
def ticket_page(request, pk: int):
    return _render(request, _ticket_for(request, pk))


def _submit(request, pk: int, form_class, form_key: str, act, done: str = "", then=None):
    """One form on the ticket page: valid and accepted by the action, then redirect;
    otherwise the page again with the form's errors (400)."""
    ticket = _ticket_for(request, pk)
    form = form_class(request.POST)
    if form.is_valid():
        try:
            act(ticket, form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if done:
                messages.success(request, done.format(ticket=ticket))
            return redirect(then or reverse("desk:ticket", args=[ticket.pk]))
    return _render(request, ticket, status=400, **{form_key: form})


@require_POST
@agent_required
def log_time(request, pk: int):
    def act(ticket, data):
        record_time(
            ticket, request.agent, data["started_at"], data["ended_at"], data["summary"],
            private_notes=data["private_notes"], billable=data["billable"],
            work_type=data["work_type"],
        )  # fmt: skip
        clear_timer(request.agent, ticket)

    return _submit(request, pk, TimeEntryForm, "time_form", act, "Time logged.")


@require_POST
@agent_required
def delete_time(request, pk: int, entry_id: int):
    """An agent deletes their own entry, with a reason; the PSA follows (or it is refused)."""
    ticket = _ticket_for(request, pk)
    entry = get_object_or_404(
        TimeEntry, pk=entry_id, ticket=ticket, agent=request.agent, voided_at__isnull=True
    )
    try:
        void_time(entry, request.user, request.POST.get("reason", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Time entry deleted.")
    return redirect("desk:ticket", pk=ticket.pk)


@require_POST
@agent_required
def timer(request, pk: int):
    ticket = _ticket_for(request, pk)
    if request.POST.get("action") == "stop":
        stop_timer(request.agent)
        messages.info(request, "Timer stopped: log its time below.")
    else:
        start_timer(request.agent, ticket)
        messages.info(request, "Timer started.")
    return redirect("desk:ticket", pk=ticket.pk)


@require_POST
@agent_required
def note(request, pk: int):
    actor = Actor.of(request.user)
    return _submit(
        request, pk, NoteForm, "note_form", lambda t, data: add_note(t, actor, data["text"])
    )


@require_POST
@agent_required
def status(request, pk: int):
    actor = Actor.of(request.user)
    return _submit(
        request, pk, StatusForm, "status_form",
        lambda t, data: change_status(t, data["status"], actor),
    )  # fmt: skip


@require_POST
@agent_required
def resolve(request, pk: int):
    actor = Actor.of(request.user)
    return _submit(
        request, pk, ResolveForm, "resolve_form",
        lambda t, data: resolve_ticket(t, actor, data["resolution"]),
        done="{ticket.reference} resolved.", then=reverse("desk:my-tickets"),
    )  # fmt: skip


@agent_required
def attachment(request, pk: int, attachment_id: int):
    ticket = _ticket_for(request, pk)
    found = Attachment.objects.filter(pk=attachment_id, message__ticket=ticket).first()
    if found is None:
        raise Http404
    # The sender chose the type and the name: only plain raster images show inline,
    # under their own type; everything else (HTML, SVG, ...) downloads as bytes.
    inline = found.content_type in INLINE_IMAGE_TYPES
    response = FileResponse(
        found.file.open("rb"),
        as_attachment=not inline,
        filename=found.filename,
        content_type=found.content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    return response


INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
THREAD_HEAD, THREAD_TAIL = 5, 20


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


@require_POST
@agent_required
def release(request, pk: int):
    ticket = _ticket_for(request, pk)
    try:
        release_ticket(ticket, request.agent)
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("desk:ticket", pk=ticket.pk)
    messages.info(request, f"{ticket.reference} is back in the queue.")
    return redirect("desk:my-tickets")


_CID = re.compile(r"""(src=["'])cid:([^"']+)(["'])""", re.IGNORECASE)


def _inline_images(message, ticket) -> str:
    """The sanitised HTML with its cid: images pointed at their attachments."""
    urls = {
        a.content_id: reverse("desk:attachment", args=[ticket.pk, a.pk])
        for a in message.attachments.all()
        if a.content_id
    }
    if not urls or "cid:" not in message.html:
        return message.html

    def swap(match: re.Match) -> str:
        url = urls.get(match.group(2).strip("<>"))
        return f"{match.group(1)}{url}{match.group(3)}" if url else match.group(0)

    return _CID.sub(swap, message.html)
