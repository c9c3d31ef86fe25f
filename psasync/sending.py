"""Send one write-back to the MSP's PSA: the job on the `psa` queue.

pending → sending → sent (remote id kept) | failed, and back to pending with a
next attempt after a retryable failure. A row is claimed under its lock, so two
workers (or a job and its duplicate from the sweeper) never send it twice at
once. Every attempt after the first looks for our marker before creating
anything: the PSAs have no idempotency keys, and an earlier attempt may have
been applied although its answer was lost (a timeout, a 5xx, a killed worker).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from cryptography.fernet import InvalidToken
from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import close_old_connections, transaction
from django.db import connection as db_connection
from django.utils import timezone

from tickets.models import TimeEntry

from .connectors import connector_class
from .connectors.base import (
    ConnectionConfig,
    Connector,
    NotReady,
    PermanentError,
    RemoteEntry,
    RetryableError,
    http_client,
)
from .encryption import CredentialsUnreadable, fernet
from .limits import Deferred, in_flight_slot, request_gate
from .models import (
    Attempt,
    AttemptOutcome,
    Operation,
    PsaConnection,
    WriteBack,
    WriteBackState,
)
from .payload import build_payload

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # about two hours of backoff before the SDM is asked
BACKOFF_BASE = 10.0  # seconds; doubles each attempt
BACKOFF_CAP = 30 * 60.0
JOB_TIMEOUT = settings.RQ_QUEUES["psa"]["DEFAULT_TIMEOUT"]  # rq stops a send after this
TICKET_ID_TTL = 24 * 3600
REMOTE_ID_MAX = WriteBack._meta.get_field("remote_id").max_length


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential with full jitter over its upper half,
    and never sooner than the PSA's Retry-After."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))
    delay = random.uniform(ceiling / 2, ceiling)
    return max(delay, retry_after or 0.0)


def send_writeback(writeback_id: int) -> str:
    """Try to send one write-back now; returns what happened (for logs and tests)."""
    if not db_connection.in_atomic_block:
        # A worker that runs jobs in its own process (rq's SimpleWorker) keeps its
        # database connection between jobs: drop one that broke or grew too old.
        close_old_connections()
    writeback = _claim(writeback_id)
    if writeback is None:
        return "skipped"
    started = timezone.now()
    try:
        return _attempt(writeback, started)
    except Exception as exc:  # recording the outcome failed (a value our columns refuse)
        log.exception("write-back %s: could not record the outcome", writeback.pk)
        message = f"Could not record the PSA's answer ({type(exc).__name__}: {exc})"
        return _fail(writeback, started, f"{message[:1500]}; retry once it is fixed.", None)


def _attempt(writeback: WriteBack, started: datetime) -> str:
    connection = writeback.connection
    requests, window, in_flight = connection.limits()
    writes: list[str] = []  # writes that passed our gate in this attempt: they may have landed

    def note_write(request: httpx.Request) -> None:
        if request.method != "GET":
            writes.append(request.method)

    try:
        with in_flight_slot(connection.limit_key(), in_flight):
            gate = request_gate(connection.limit_key(), requests, window)
            with http_client(event_hooks={"request": [gate, note_write]}) as http:
                connector = build_connector(connection, http)
                outcome, remote = _perform(writeback, connector)
    except Deferred as deferred:
        if writes:
            # Our limit came between two requests, after a write had left (Syncro's
            # billable PATCH after its POST): this was an attempt, and the next one must
            # look for the entry by its marker before creating another.
            why = f"{deferred.why} after a {writes[-1]} had left"
            error = RetryableError(why, retry_after=deferred.seconds, maybe_applied=True)
            return _retry_or_fail(writeback, started, error)
        return _defer(writeback, started, deferred)
    except RetryableError as exc:
        return _retry_or_fail(writeback, started, exc)
    except PermanentError as exc:
        ours = isinstance(exc, NotReady)
        return _fail(writeback, started, exc.message, exc.status, on_our_side=ours)
    except CredentialsUnreadable as exc:
        log.error("write-back %s: credentials of %s unreadable: %s", writeback.pk, connection, exc)
        return _fail(writeback, started, f"Credentials: {exc}", None)
    except Exception as exc:  # our bug, not the PSA's: keep the row, show it, retry
        log.exception("write-back %s failed unexpectedly", writeback.pk)
        error = RetryableError(f"internal error: {type(exc).__name__}: {exc}", maybe_applied=True)
        return _retry_or_fail(writeback, started, error)
    if remote is not None and len(remote.id) > REMOTE_ID_MAX:
        message = (
            f"The PSA answered an entry id longer than {REMOTE_ID_MAX} characters"
            f" ({remote.id[:80]}…); the entry may be in the PSA: check it there."
        )
        return _fail(writeback, started, message, None)
    return _succeed(writeback, started, outcome, remote)


def build_connector(connection: PsaConnection, http: httpx.Client) -> Connector:
    config = ConnectionConfig(
        kind=connection.kind,
        base_url=connection.base_url.rstrip("/"),
        credentials=connection.credentials.reveal(),
        timeout=connection.timeout_seconds,
    )
    return connector_class(connection.kind)(config, http=http, cache=SealedCache())


class SealedCache:
    """Connectors' cache (tokens, zone URLs) in Django's cache (Redis, shared by the
    workers): keyed by a digest, values sealed like the credentials they stand for."""

    def get(self, key: str) -> str | None:
        token = django_cache.get(_cache_key(key))
        if not token:
            return None
        try:
            return fernet().decrypt(token.encode()).decode()
        except InvalidToken:  # sealed under a key since removed: fetch anew
            return None

    def set(self, key: str, value: str, ttl: float) -> None:
        if not value or ttl <= 0:
            django_cache.delete(_cache_key(key))
            return
        sealed = fernet().encrypt(value.encode()).decode()
        django_cache.set(_cache_key(key), sealed, timeout=max(1, int(ttl)))


def _cache_key(key: str) -> str:
    import hashlib

    return "psa:" + hashlib.sha256(key.encode()).hexdigest()


# --- claiming and the operations -------------------------------------------------


def _claim(writeback_id: int) -> WriteBack | None:
    """Move the row from pending to sending, if it is due and its connection is on."""
    now = timezone.now()
    with transaction.atomic():
        writeback = (
            WriteBack.objects.select_for_update(of=("self",))
            .select_related("connection", "entry__ticket", "entry__agent__user", "origin")
            .filter(pk=writeback_id)
            .first()
        )
        if writeback is None or writeback.state != WriteBackState.PENDING:
            return None
        if writeback.next_attempt_at and writeback.next_attempt_at > now + timedelta(seconds=1):
            return None  # an early duplicate; the scheduled job or the sweeper comes back
        if writeback.connection is None or not writeback.connection.enabled:
            return None  # waits; the sweeper sends it once the connection is back on
        settled = not writeback.origin_id or writeback.origin.state == WriteBackState.SENT
        if not settled and not _origin_settled(writeback):
            return None
        if writeback.operation == Operation.UPDATE and _another_update_in_flight(writeback):
            _later(writeback, 5)  # one at a time: this one then sends the values as they are
            return None
        writeback.state = WriteBackState.SENDING
        writeback.attempts += 1
        writeback.sending_since = now
        writeback.save(update_fields=["state", "attempts", "sending_since"])
        return writeback


def _another_update_in_flight(change: WriteBack) -> bool:
    """Whether another update of the same entry is being sent. Claims of updates lock
    their create row first, so two never both see the other still pending."""
    WriteBack.objects.select_for_update().filter(pk=change.origin_id).first()
    siblings = WriteBack.objects.filter(
        origin_id=change.origin_id, operation=Operation.UPDATE, state=WriteBackState.SENDING
    )
    return siblings.exclude(pk=change.pk).exists()


def _origin_settled(change: WriteBack) -> bool:
    """An update or delete waits for its create; a delete first stops a create that
    is still retrying (it may already be in the PSA: the delete looks for it)."""
    origin = WriteBack.objects.select_for_update().get(pk=change.origin_id)
    if origin.state == WriteBackState.SENDING:
        _later(change, 5)
        return False
    if change.operation == Operation.DELETE and origin.state in (
        WriteBackState.PENDING,
        WriteBackState.FAILED,
    ):
        origin.state = WriteBackState.CANCELLED
        origin.last_error = "The time entry was deleted; the delete removes what reached the PSA."
        origin.save(update_fields=["state", "last_error"])
        change.origin = origin
        return True
    if change.operation == Operation.UPDATE and origin.state == WriteBackState.PENDING:
        _later(change, 10)  # the create sends current values; check after it
        return False
    if origin.state != WriteBackState.SENT and change.operation == Operation.UPDATE:
        change.state = WriteBackState.CANCELLED
        change.last_error = "The entry never reached the PSA; retrying its create sends it as is."
        change.save(update_fields=["state", "last_error"])
        return False
    return True


def _later(writeback: WriteBack, seconds: float) -> None:
    writeback.next_attempt_at = timezone.now() + timedelta(seconds=seconds)
    writeback.save(update_fields=["next_attempt_at"])
    transaction.on_commit(lambda: _requeue(writeback, seconds))


def _perform(writeback: WriteBack, connector: Connector) -> tuple[str, RemoteEntry | None]:
    """Carry out the operation; returns (outcome, the remote entry when there is one)."""
    origin = writeback.origin or writeback
    retrying = writeback.attempts > 1 or (
        writeback.origin_id is not None and origin.attempts > 0 and not origin.remote_id
    )
    if writeback.operation == Operation.DELETE:
        ticket_id = origin.remote_ticket_id or _ticket_id(writeback, connector)
        remote_id = origin.remote_id
        if not remote_id and retrying:
            found = connector.find_by_marker(ticket_id, writeback.marker)
            remote_id = found.id if found else ""
        if remote_id:
            connector.delete_time(ticket_id, remote_id)
        return AttemptOutcome.SENT, RemoteEntry(remote_id) if remote_id else None
    # The entry as it is now, in one query: an edit may have committed while the claim
    # waited for its lock, leaving the values read with the lock behind.
    writeback.entry = TimeEntry.objects.select_related("ticket", "agent__user").get(
        pk=writeback.entry_id
    )
    payload = build_payload(writeback)
    if writeback.operation == Operation.UPDATE:
        entry = connector.update_time(origin.remote_ticket_id, origin.remote_id, payload)
        return AttemptOutcome.SENT, entry
    ticket_id = _ticket_id(writeback, connector, payload.ticket_number)
    if retrying:
        found = connector.find_by_marker(ticket_id, payload.marker)
        if found:
            # Made by an earlier attempt, with the entry as it stood then: an edit since
            # (no update follows a create that had failed) must still reach the PSA.
            if connector.can_update:
                found = connector.update_time(ticket_id, found.id, payload)
            return AttemptOutcome.ADOPTED, found
    return AttemptOutcome.SENT, connector.add_time(ticket_id, payload)


def _ticket_id(writeback: WriteBack, connector: Connector, number: str = "") -> str:
    if writeback.remote_ticket_id:
        return writeback.remote_ticket_id
    number = number or writeback.entry.ticket.psa_ticket_number
    # A PSA ticket keeps its id: one lookup serves every entry on that ticket for a day,
    # sparing the MSP's request allowance.
    key = f"psa:ticket:{writeback.connection.limit_key()}:{number}"
    ticket_id = django_cache.get(key)
    if not ticket_id:
        ticket_id = connector.find_ticket(number)
        django_cache.set(key, ticket_id, timeout=TICKET_ID_TTL)
    writeback.remote_ticket_id = ticket_id
    WriteBack.objects.filter(pk=writeback.pk).update(remote_ticket_id=ticket_id)
    return ticket_id


# --- recording the outcome ---------------------------------------------------------


@dataclass
class _Result:
    outcome: str
    status: int | None = None
    message: str = ""
    on_our_side: bool = False  # nothing was sent: not the connection's failure


def _finish(writeback: WriteBack, started: datetime, result: _Result, **fields) -> str:
    now = timezone.now()
    with transaction.atomic():
        WriteBack.objects.filter(pk=writeback.pk).update(**fields)
        if result.outcome == AttemptOutcome.DEFERRED:
            return _set(writeback, fields, result.outcome)  # not an attempt: no history row
        Attempt.objects.create(
            writeback=writeback,
            started_at=started,
            finished_at=now,
            outcome=result.outcome,
            status=result.status,
            message=result.message[:2000],
            on_our_side=result.on_our_side,
        )
        if result.outcome in (AttemptOutcome.SENT, AttemptOutcome.ADOPTED):
            PsaConnection.objects.filter(pk=writeback.connection_id).update(last_success_at=now)
        elif not result.on_our_side:
            PsaConnection.objects.filter(pk=writeback.connection_id).update(
                last_failure_at=now, last_error=result.message[:2000]
            )
    return _set(writeback, fields, result.outcome)


def _set(writeback: WriteBack, fields: dict, outcome: str) -> str:
    for name, value in fields.items():
        setattr(writeback, name, value)
    return outcome


def _succeed(
    writeback: WriteBack, started: datetime, outcome: str, remote: RemoteEntry | None
) -> str:
    fields = {
        "state": WriteBackState.SENT,
        "sent_at": timezone.now(),
        "sending_since": None,
        "next_attempt_at": None,
        "last_error": "",
        "last_status": None,
    }
    if remote is not None:
        fields["remote_id"] = remote.id
        if remote.sent is not None:
            fields["sent_payload"] = remote.sent
    note = "an earlier attempt had reached the PSA; adopted it" if outcome == "adopted" else ""
    return _finish(writeback, started, _Result(outcome, message=note), **fields)


def _retry_or_fail(writeback: WriteBack, started: datetime, error: RetryableError) -> str:
    if writeback.attempts - writeback.retry_from >= MAX_ATTEMPTS:
        message = f"Gave up after {writeback.attempts} attempts. Last: {error.message}"
        return _fail(writeback, started, message, error.status)
    delay = backoff(writeback.attempts, error.retry_after)
    outcome = _finish(
        writeback,
        started,
        _Result(AttemptOutcome.RETRY, error.status, error.message),
        state=WriteBackState.PENDING,
        sending_since=None,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
        last_error=error.message,
        last_status=error.status,
    )
    _requeue(writeback, delay)
    return outcome


def _fail(
    writeback: WriteBack,
    started: datetime,
    message: str,
    status: int | None,
    on_our_side: bool = False,
) -> str:
    return _finish(
        writeback,
        started,
        _Result(AttemptOutcome.FAILED, status, message, on_our_side),
        state=WriteBackState.FAILED,
        sending_since=None,
        next_attempt_at=None,
        last_error=message,
        last_status=status,
    )


def _defer(writeback: WriteBack, started: datetime, deferred: Deferred) -> str:
    """Our own limit: not an attempt, so it does not count towards giving up."""
    outcome = _finish(
        writeback,
        started,
        _Result(AttemptOutcome.DEFERRED, message=deferred.why),
        state=WriteBackState.PENDING,
        attempts=writeback.attempts - 1,
        sending_since=None,
        next_attempt_at=timezone.now() + timedelta(seconds=deferred.seconds),
    )
    _requeue(writeback, deferred.seconds)
    return outcome


def _requeue(writeback: WriteBack, seconds: float) -> None:
    """Run again after `seconds` (rq's scheduler); the sweeper covers a lost job."""
    from .jobs import queue_send

    try:
        queue_send(writeback.pk, delay=seconds)
    except Exception:
        log.exception("could not re-queue write-back %s; the sweeper will", writeback.pk)
