"""What every PSA connector offers, and how an HTTP answer becomes an outcome.

A connector is a thin httpx client for one PSA (one module each, beside this one).
It knows that PSA's URLs, headers, field names and error bodies, and nothing of our
models: the outbox (psasync.sending) hands it a `ConnectionConfig` and a
`TimePayload` and reads back a `RemoteEntry` or one of the errors below.

Outcomes the outbox acts on:
- `RetryableError`: try again later (timeouts, connection failures, 5xx, 429).
  `maybe_applied` says the PSA may have done it anyway (the request left, the
  answer did not come back), so the next attempt looks for our marker first.
- `PermanentError`: the PSA refused; its own message is shown to the SDM.
"""

from __future__ import annotations

import email.utils
import math
import ssl
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar, Protocol

import httpx

MARKER_PREFIX = "[hd:"


class PsaError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class RetryableError(PsaError):
    """The PSA could not take it now; the same request may succeed later."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = False,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class PermanentError(PsaError):
    """The PSA refused the request; sending it again would not help."""


class NotReady(PermanentError):
    """Not the PSA's refusal: something we must supply first (the MSP's ticket number,
    a member mapping). Nothing was sent; the SDM fixes it and retries, and the
    connection's health does not suffer for it."""


class TicketNotFound(PermanentError):
    pass


class NotSupported(PermanentError):
    """The PSA does not allow this operation through its API."""


@dataclass(frozen=True)
class TimePayload:
    """Everything that may leave for the PSA about one time entry, and nothing more.

    Built in one place only (psasync.payload.build_payload), which is where data
    minimisation is enforced.
    """

    marker: str  # "[hd:<uuid>]", put where the MSP's end customer never sees it
    ticket_number: str  # the MSP's own ticket number, as the MSP writes it
    member: str  # the PSA's member / resource / agent id for our agent
    started_at: datetime  # aware, UTC
    ended_at: datetime  # aware, UTC
    hours: Decimal  # the duration in hours, two decimals
    summary: str  # the brief summary: the only free text that leaves
    work_type: str = ""  # configured codes; each PSA reads the ones it has
    role: str = ""
    billing_code: str = ""
    billable: bool = True

    def for_audit(self) -> dict[str, Any]:
        data = asdict(self)
        data["started_at"] = utc_iso(self.started_at)
        data["ended_at"] = utc_iso(self.ended_at)
        data["hours"] = str(self.hours)
        return data


@dataclass(frozen=True)
class RemoteEntry:
    id: str
    sent: Any = None  # the JSON body as sent (None when the entry was adopted, not sent)


@dataclass(frozen=True)
class ConnectionConfig:
    kind: str
    base_url: str
    credentials: Mapping[str, str] = field(repr=False)  # never in a log or traceback
    timeout: float = 20.0


@dataclass(frozen=True)
class Check:
    """One line of "test connection": what was tried, whether it worked, and why not."""

    name: str
    ok: bool
    detail: str = ""


class Cache(Protocol):
    """Where a connector keeps what outlives one job (tokens, zone URLs)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str, ttl: float) -> None: ...


@dataclass
class DictCache:
    """A Cache in a dict, with expiry: for tests and one-off commands."""

    now: Any = field(default=lambda: datetime.now(UTC).timestamp())
    values: dict[str, tuple[str, float]] = field(default_factory=dict)

    def get(self, key: str) -> str | None:
        value, expires = self.values.get(key, (None, 0.0))
        return value if value is not None and expires > self.now() else None

    def set(self, key: str, value: str, ttl: float) -> None:
        self.values[key] = (value, self.now() + ttl)


@cache
def tls_context() -> ssl.SSLContext:
    """One TLS context per process for every client to a PSA: loading the CA bundle
    costs ~30 ms, more than the rest of a send. The worker builds it before it forks,
    so a job (a fork of the worker) inherits it (psasync.apps)."""
    return httpx.create_ssl_context()


def http_client(**kwargs: Any) -> httpx.Client:
    """An httpx client for talking to a PSA."""
    return httpx.Client(verify=tls_context(), **kwargs)


def utc_iso(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second: what every PSA here accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


RETRY_AFTER_CAP = 3600.0  # a PSA asking for longer is asked again after an hour


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After as seconds, from either of its forms (delta-seconds or an HTTP date),
    at most RETRY_AFTER_CAP: a wild value must not park a write-back for years."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if math.isnan(seconds):
        return None
    return min(RETRY_AFTER_CAP, max(0.0, seconds))


class Connector(ABC):
    """One PSA's API. Subclasses set the class attributes and the five operations."""

    kind: ClassVar[str]
    label: ClassVar[str]
    credential_fields: ClassVar[tuple[str, ...]]
    can_update: ClassVar[bool] = True
    can_delete: ClassVar[bool] = True
    refusal: ClassVar[str] = ""  # why update/delete is refused, when it is

    def __init__(self, config: ConnectionConfig, *, http: httpx.Client, cache: Cache) -> None:
        missing = [name for name in self.credential_fields if not config.credentials.get(name)]
        if missing:
            raise PermanentError(f"{self.label} credentials lack: {', '.join(missing)}")
        self.config = config
        self.http = http
        self.cache = cache

    # --- the operations -------------------------------------------------------

    @abstractmethod
    def find_ticket(self, number: str) -> str:
        """The PSA's id of the ticket the MSP calls `number`; TicketNotFound if none."""

    @abstractmethod
    def add_time(self, ticket_id: str, payload: TimePayload) -> RemoteEntry:
        """Create the time entry; the RemoteEntry carries the PSA's id and the body sent."""

    @abstractmethod
    def find_by_marker(self, ticket_id: str, marker: str) -> RemoteEntry | None:
        """Our entry on that ticket carrying `marker`, if the PSA has it."""

    @abstractmethod
    def update_time(self, ticket_id: str, remote_id: str, payload: TimePayload) -> RemoteEntry:
        """Change a sent entry to match the payload (NotSupported where the PSA forbids it)."""

    @abstractmethod
    def delete_time(self, ticket_id: str, remote_id: str) -> None:
        """Delete a sent entry; an entry already gone counts as deleted."""

    def check(self, *, ticket_number: str = "", member: str = "") -> list[Check]:
        """Test connection: can we authenticate, and see the ticket and member given."""
        checks = [self.check_auth()]
        if checks[0].ok and ticket_number:
            try:
                ticket_id = self.find_ticket(ticket_number)
                checks.append(Check(f"find ticket {ticket_number}", True, f"id {ticket_id}"))
            except PsaError as exc:
                checks.append(Check(f"find ticket {ticket_number}", False, exc.message))
        return checks

    @abstractmethod
    def check_auth(self) -> Check:
        """One cheap authenticated request."""

    # --- HTTP ---------------------------------------------------------------

    def error_message(self, response: httpx.Response) -> str:
        """The PSA's own words from an error body; subclasses read their PSA's format."""
        text = response.text.strip()
        return text[:500] if text else response.reason_phrase

    def is_refusal(self, response: httpx.Response) -> bool:
        """A 5xx that is the PSA refusing on its own rules, not a fault (Autotask's way)."""
        return False

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send one request and classify the outcome; returns only 2xx responses.

        A write that timed out or got a 5xx may have been applied (maybe_applied).
        A connection that could not be opened was not.
        """
        write = method.upper() not in ("GET", "HEAD")
        try:
            response = self.http.request(method, url, timeout=self.config.timeout, **kwargs)
        except httpx.ConnectError as exc:
            raise RetryableError(f"cannot connect to {self.label}: {exc}") from exc
        except httpx.TimeoutException as exc:
            raise RetryableError(
                f"{self.label} did not answer in time ({type(exc).__name__})", maybe_applied=write
            ) from exc
        except httpx.TransportError as exc:  # connection dropped mid-request
            raise RetryableError(
                f"{self.label} connection failed: {type(exc).__name__}: {exc}",
                maybe_applied=write,
            ) from exc
        status = response.status_code
        if status < 300:
            return response
        message = f"{self.label} {status}: {self.error_message(response)}"
        if status >= 500 and self.is_refusal(response):
            raise PermanentError(message, status=status)
        if status == 429:
            raise RetryableError(message, status=status, retry_after=retry_after_seconds(response))
        if status >= 500 or status == 408:
            raise RetryableError(
                message,
                status=status,
                retry_after=retry_after_seconds(response),
                maybe_applied=write,
            )
        raise PermanentError(message, status=status)
