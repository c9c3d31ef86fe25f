"""The SDM's hands on the outbox: retry now, cancel. Audited on the entry's ticket."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tickets.actions import Actor, record_event

from .models import WriteBack, WriteBackState
from .outbox import schedule


def retry_now(writeback: WriteBack, user) -> WriteBack:
    """Send a failed or waiting write-back again at once (giving up counts afresh)."""
    with transaction.atomic():
        writeback = WriteBack.objects.select_for_update(of=("self",)).get(pk=writeback.pk)
        if writeback.state not in (WriteBackState.FAILED, WriteBackState.PENDING):
            raise ValidationError(
                f"A {writeback.get_state_display().lower()} write-back cannot be retried."
            )
        if writeback.connection_id is None:
            connection = getattr(writeback.client, "psa_connection", None)
            if connection is None:
                raise ValidationError(f"{writeback.client} still has no PSA connection.")
            writeback.connection = connection
        old = writeback.state
        writeback.state = WriteBackState.PENDING
        writeback.next_attempt_at = timezone.now()
        writeback.retry_from = writeback.attempts
        writeback.save(update_fields=["state", "next_attempt_at", "retry_from", "connection"])
        record_event(
            writeback.entry.ticket,
            Actor.of(user),
            "writeback_retried",
            old={"writeback": writeback.pk, "state": old},
            new={"writeback": writeback.pk, "state": writeback.state},
        )
        schedule(writeback)
        return writeback


def cancel(writeback: WriteBack, user) -> WriteBack:
    """Stop a write-back that has not been sent (it stays listed, cancelled, with who)."""
    with transaction.atomic():
        writeback = WriteBack.objects.select_for_update(of=("self",)).get(pk=writeback.pk)
        if writeback.state not in (WriteBackState.FAILED, WriteBackState.PENDING):
            raise ValidationError(
                f"A {writeback.get_state_display().lower()} write-back cannot be cancelled."
            )
        old = writeback.state
        writeback.state = WriteBackState.CANCELLED
        writeback.last_error = f"Cancelled by {user.get_username()}. " + writeback.last_error
        writeback.save(update_fields=["state", "last_error"])
        record_event(
            writeback.entry.ticket,
            Actor.of(user),
            "writeback_cancelled",
            old={"writeback": writeback.pk, "state": old},
            new={"writeback": writeback.pk, "state": writeback.state},
        )
        return writeback
