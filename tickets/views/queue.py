from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clients.models import Client

from ..actions import CapReached, claim_next_ticket, set_presence
from ..forms import QueueFilterForm
from ..models.ticket import OPEN_STATUSES
from ..queue import QUEUE_ORDER, client_ids_of, held_by, visible_to
from .access import agent_required

PAGE = 50
LIST_FIELDS = ("client", "assignee__user")


class Page(list):
    """One page of rows, without counting the whole queue (a COUNT over a large
    queue costs more than the page itself): one row more than shown says whether
    there is a next page."""

    def __init__(self, rows: list, number: int):
        super().__init__(rows[:PAGE])
        self.number = number
        self.has_next = len(rows) > PAGE
        self.has_previous = number > 1
        self.has_other_pages = self.has_next or self.has_previous
        self.next_page_number = number + 1
        self.previous_page_number = number - 1


def _page(request, tickets) -> Page:
    try:
        number = max(1, min(int(request.GET.get("page", 1)), 10_000))
    except ValueError:
        number = 1
    start = (number - 1) * PAGE
    return Page(list(tickets[start : start + PAGE + 1]), number)


@agent_required
def my_tickets(request):
    tickets = held_by(request.agent).select_related(*LIST_FIELDS).order_by(*QUEUE_ORDER)
    template = "desk/_ticket_rows.html" if request.htmx else "desk/my_tickets.html"
    return render(request, template, {"page": _page(request, tickets), "now": timezone.now()})


@agent_required
def team_queue(request):
    form = QueueFilterForm(request.GET or None)
    tickets = visible_to(request.agent).filter(status__in=OPEN_STATUSES)
    if form.is_valid():
        if form.cleaned_data["client"]:
            tickets = tickets.filter(client__slug=form.cleaned_data["client"])
        if form.cleaned_data["priority"]:
            tickets = tickets.filter(priority=form.cleaned_data["priority"])
        if form.cleaned_data["unassigned"]:
            tickets = tickets.filter(assignee__isnull=True)
    tickets = tickets.select_related(*LIST_FIELDS).order_by(*QUEUE_ORDER)
    clients = Client.objects.filter(pk__in=client_ids_of(request.agent)).order_by("name")
    clients = list(clients.values_list("slug", "name"))
    context = {
        "page": _page(request, tickets),
        "form": form,
        "clients": clients,
        "now": timezone.now(),
    }
    template = "desk/_ticket_rows.html" if request.htmx else "desk/queue.html"
    return render(request, template, context)


@require_POST
@agent_required
def take_next(request):
    try:
        ticket = claim_next_ticket(request.agent)
    except CapReached as exc:
        messages.warning(request, f"{exc} Resolve or hand one back first.")
        return redirect("desk:my-tickets")
    if ticket is None:
        messages.info(request, "Nothing in your queue right now.")
        return redirect("desk:my-tickets")
    messages.success(request, f"{ticket.reference} is yours.")
    return redirect("desk:ticket", pk=ticket.pk)


@require_POST
@agent_required
def presence(request):
    try:
        set_presence(request.agent, request.POST.get("presence", ""))
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect(request.POST.get("next") or "desk:my-tickets")
