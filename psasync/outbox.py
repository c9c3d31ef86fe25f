"""The transactional outbox: tickets' time signals become WriteBack rows.

Each receiver runs inside the transaction that changed the entry, so the row
commits with the entry or not at all. The send is queued on commit; if Redis is
unreachable then, the row waits as pending and the sweeper (psasync.sweeper)
sends it later. Nothing is lost between the two.
"""

import logging

from django.core.exceptions import ValidationError
from django.db import transaction
from django.dispatch import receiver
from django.utils import timezone

from clients.models import PsaKind
from tickets.models import TimeEntry
from tickets.signals import time_entry_changed, time_entry_recorded, time_entry_voided

from .connectors import connector_class
from .jobs import queue_send
from .models import Operation, PsaConnection, WriteBack, WriteBackState

log = logging.getLogger(__name__)
NO_CONNECTION = (
    "{client} has no PSA connection: set one up (Clients → PSA connections), then retry."
)


def schedule(writeback: WriteBack) -> None:
    """Queue the send once the current transaction commits (at once outside one)."""
    pk = writeback.pk

    def send() -> None:
        try:
            queue_send(pk)
        except Exception:  # Redis down: the row stays pending; the sweeper re-sends it
            log.exception("could not queue write-back %s; the sweeper will retry", pk)

    transaction.on_commit(send)


@receiver(time_entry_recorded, dispatch_uid="psasync.outbox.recorded")
def on_time_recorded(sender, entry: TimeEntry, **kwargs) -> None:
    client = entry.ticket.client
    connection = PsaConnection.objects.filter(client=client).first()
    if connection is None and client.psa_kind == PsaKind.NONE:
        return  # this MSP has no PSA for us to write to
    writeback = WriteBack.objects.create(
        entry=entry,
        client=client,
        connection=connection,
        operation=Operation.CREATE,
        next_attempt_at=timezone.now(),
    )
    if connection is None:
        # Kept, and shown to the SDM: the time must reach the PSA once it is connected.
        writeback.state = WriteBackState.FAILED
        writeback.last_error = NO_CONNECTION.format(client=client)
        writeback.save(update_fields=["state", "last_error"])
        return
    schedule(writeback)


def _create_of(entry: TimeEntry) -> WriteBack | None:
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the join.
    return (
        WriteBack.objects.select_for_update(of=("self",))
        .filter(entry=entry, operation=Operation.CREATE)
        .select_related("connection")
        .first()
    )


def _refuse_if_forbidden(create: WriteBack, operation: str) -> None:
    """A PSA that cannot change or delete sent time refuses the edit here, before it is made."""
    if create.connection is None or create.state == WriteBackState.PENDING and not create.attempts:
        return  # nothing has reached the PSA: the change just travels with the create
    connector = connector_class(create.connection.kind)
    allowed = connector.can_update if operation == Operation.UPDATE else connector.can_delete
    if not allowed:
        verb = "change" if operation == Operation.UPDATE else "delete"
        raise ValidationError(
            f"{connector.label} does not let us {verb}"
            f" time once it is sent ({connector.refusal}). Ask the MSP to correct it in"
            f" {connector.label}, or log a correcting entry."
        )


def _follow_up(create: WriteBack, operation: str) -> None:
    pending = create.changes.filter(
        operation=operation, state__in=[WriteBackState.PENDING, WriteBackState.SENDING]
    )
    if operation == Operation.UPDATE and pending.filter(state=WriteBackState.PENDING).exists():
        return  # a pending update sends the entry as it stands when it runs
    change = WriteBack.objects.create(
        entry=create.entry,
        client=create.client,
        connection=create.connection,
        operation=operation,
        origin=create,
        next_attempt_at=timezone.now(),
    )
    schedule(change)


@receiver(time_entry_changed, dispatch_uid="psasync.outbox.changed")
def on_time_changed(sender, entry: TimeEntry, changed: set[str], **kwargs) -> None:
    if not changed - {"private_notes"}:
        return  # private notes never leave: nothing for the PSA
    create = _create_of(entry)
    if create is None or create.state in (WriteBackState.FAILED, WriteBackState.CANCELLED):
        return  # never sent: retrying the create sends the entry as it now is
    _refuse_if_forbidden(create, Operation.UPDATE)
    if create.state == WriteBackState.PENDING and not create.attempts:
        return  # not tried yet: it will send the new values
    _follow_up(create, Operation.UPDATE)


@receiver(time_entry_voided, dispatch_uid="psasync.outbox.voided")
def on_time_voided(sender, entry: TimeEntry, **kwargs) -> None:
    create = _create_of(entry)
    if create is None:
        return
    if not create.attempts and create.state != WriteBackState.SENDING:
        # Never tried, so never in the PSA: there is nothing to delete there.
        create.state = WriteBackState.CANCELLED
        create.last_error = "The time entry was deleted before it was sent."
        create.save(update_fields=["state", "last_error"])
        return
    _refuse_if_forbidden(create, Operation.DELETE)
    _follow_up(create, Operation.DELETE)
