"""HaloPSA REST API: time written back as an action on the MSP's ticket.

Facts and their sources: docs/psa/halopsa.md. In short: OAuth2 client credentials
at `<base>/auth/token` (`?tenant=` for a hosted tenant), a bearer token on every
call to `<base>/api`; time is an *action* (`POST /api/Actions`, a JSON array) whose
`timetaken` is in hours; the ticket number the MSP sees is the ticket's id.

Halo has no field on an action that is internal while the action itself is public:
what an end user may see is decided per action (`hiddenfromuser`). So our action is
hidden from the end user and its note carries the summary and, on a line of its own,
the marker; the MSP's agents see both, the MSP's customer neither. The docs file
explains the trade-off.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import httpx

from .base import (
    Check,
    Connector,
    PermanentError,
    PsaError,
    RemoteEntry,
    RetryableError,
    TicketNotFound,
    TimePayload,
    utc_iso,
)

# "1234", "#1234", "0001234", "Ticket 1234": Halo shows its ticket id, often zero-padded.
TICKET_NUMBER = re.compile(r"^\s*(?:ticket\s*)?#?\s*(\d{1,10})\s*$", re.I)


def ticket_id_from_number(number: str) -> int:
    """The Halo ticket id in the MSP's ticket number, however it was written."""
    match = TICKET_NUMBER.match(number or "")
    if not match or int(match.group(1)) == 0:
        raise TicketNotFound(f"{number!r} is not a HaloPSA ticket number (digits, e.g. 1234)")
    return int(match.group(1))


def note_text(payload: TimePayload) -> str:
    """The action's note: the summary, then the marker on a line of its own."""
    return f"{payload.summary}\n\n{payload.marker}"


class HaloPsaConnector(Connector):
    kind = "halopsa"
    label = "HaloPSA"
    credential_fields = ("client_id", "client_secret")  # "tenant" is read when present

    page_size: ClassVar[int] = 100
    max_pages: ClassVar[int] = 100  # a bound, should a server keep reporting more records
    # Halo refuses an action without an outcome ("An Outcome must be entered for this
    # Action"); 7 is the built-in private note, used when no work type is configured.
    default_outcome_id: ClassVar[int | None] = 7
    token_margin: ClassVar[float] = 60.0  # renew this long before the token expires
    # Halo is not known to send Retry-After with its 429; its window rolls over 5 minutes.
    rate_limit_wait: ClassVar[float] = 60.0

    # --- authentication ---------------------------------------------------------------

    def _root(self) -> str:
        return self.config.base_url.rstrip("/")

    def _token_key(self) -> str:
        return f"halopsa:token:{self._root()}:{self.config.credentials['client_id']}"

    def _token(self) -> str:
        """A bearer token: the cached one, or a new one from /auth/token."""
        key = self._token_key()
        cached = self.cache.get(key)
        if cached:
            return cached
        creds = self.config.credentials
        form = {
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "scope": "all",
        }
        params = {"tenant": creds["tenant"]} if creds.get("tenant") else None
        try:
            response = self.request(
                "POST",
                f"{self._root()}/auth/token",
                data=form,
                params=params,
                headers={"Accept": "application/json"},
            )
        except RetryableError as exc:
            # A token request creates nothing on the ticket, whatever became of it.
            raise RetryableError(
                exc.message, status=exc.status, retry_after=exc.retry_after
            ) from exc
        try:
            grant = response.json()
            token = str(grant["access_token"])
            lifetime = grant.get("expires_in")
            expires_in = 3600.0 if lifetime is None else float(lifetime)
        except (ValueError, KeyError, TypeError) as exc:
            raise PermanentError(
                f"{self.label} gave no access_token: {response.text[:200]}"
            ) from exc
        self.cache.set(key, token, max(1.0, expires_in - self.token_margin))
        return token

    def _drop_token(self) -> None:
        self.cache.set(self._token_key(), "", 0)

    # --- HTTP -------------------------------------------------------------------------

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """As Connector.request, with a wait on a 429 that names none."""
        try:
            return super().request(method, url, **kwargs)
        except RetryableError as exc:
            if exc.status == 429 and exc.retry_after is None:
                raise RetryableError(
                    exc.message, status=429, retry_after=self.rate_limit_wait
                ) from exc
            raise

    def _api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One call to <base>/api; a 401 drops the cached token and tries once more."""
        url = f"{self._root()}/api{path}"
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
            try:
                return self.request(method, url, headers=headers, **kwargs)
            except PermanentError as exc:
                # A token revoked or expired early: Halo answered before doing anything.
                if exc.status != 401 or attempt == 2:
                    raise
                self._drop_token()
        raise AssertionError("unreachable")

    def error_message(self, response: httpx.Response) -> str:
        """Halo's words: a JSON string, an OAuth error, or a .NET exception's Message."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if isinstance(body, str) and body.strip():
            return body.strip()[:500]
        if isinstance(body, dict):
            oauth = [str(body[k]) for k in ("error", "error_description") if body.get(k)]
            if oauth:
                return ": ".join(oauth)[:500]
            for key in ("Message", "message", "errorMessage"):
                if body.get(key):
                    return str(body[key])[:500]
        return super().error_message(response)

    # --- the operations -------------------------------------------------------------

    def check_auth(self) -> Check:
        """A token, then GET /api/Tickets?count=1: needs valid credentials and ticket read."""
        try:
            self._api("GET", "/Tickets", params={"count": 1})
        except PsaError as exc:
            return Check("authenticate", False, exc.message)
        return Check("authenticate", True, "token granted, tickets readable")

    def find_ticket(self, number: str) -> str:
        """GET /api/Tickets/{id}: the MSP's number is the ticket id; 404 means none."""
        ticket_id = ticket_id_from_number(number)
        try:
            ticket = self._api("GET", f"/Tickets/{ticket_id}").json()
        except PermanentError as exc:
            if exc.status == 404:
                raise TicketNotFound(f"{self.label} has no ticket {ticket_id}") from exc
            raise
        if not isinstance(ticket, dict) or not ticket.get("id"):
            raise TicketNotFound(f"{self.label} has no ticket {ticket_id}")
        return str(ticket["id"])

    def _action(self, ticket_id: str, payload: TimePayload) -> dict[str, Any]:
        member = payload.member.strip()
        if not member.isdigit():
            raise PermanentError(f"{self.label} agent ids are numbers; got {payload.member!r}")
        action: dict[str, Any] = {
            "ticket_id": int(ticket_id),
            "who_agentid": int(member),
            "note": note_text(payload),
            # The whole action is kept from the end user: the marker must never reach
            # the MSP's customer, and Halo has no agents-only field on a public action.
            "hiddenfromuser": True,
            "sendemail": False,
            "timetaken": float(payload.hours),
            "actisbillable": payload.billable,
            "actionarrivaldate": utc_iso(payload.started_at),
            "actioncompletiondate": utc_iso(payload.ended_at),
            "actiondatecreated": utc_iso(payload.ended_at),
        }
        work_type = payload.work_type.strip()
        if work_type.isdigit():
            action["outcome_id"] = int(work_type)
        elif work_type:
            action["outcome"] = work_type
        elif self.default_outcome_id is not None:
            action["outcome_id"] = self.default_outcome_id
        if payload.billing_code.strip().isdigit():
            action["chargerate"] = int(payload.billing_code)
        return action

    def add_time(self, ticket_id: str, payload: TimePayload) -> RemoteEntry:
        """POST /api/Actions with an array of one action; Halo answers with the action."""
        body = [self._action(ticket_id, payload)]
        created = self._saved(self._api("POST", "/Actions", json=body))
        return RemoteEntry(id=str(created["id"]), sent=body)

    def _saved(self, response: httpx.Response) -> dict[str, Any]:
        """The action Halo saved: it answers with the action, or a list of them.

        A 2xx without a readable action means the write went through but its id is
        unknown: retryable, and maybe applied, so the next attempt looks for the marker.
        """
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if isinstance(answer, list):
            answer = answer[-1] if answer else None
        if not isinstance(answer, dict) or not answer.get("id"):
            raise RetryableError(
                f"{self.label} saved the action but did not name it: {response.text[:200]}",
                status=response.status_code,
                maybe_applied=True,
            )
        return answer

    def find_by_marker(self, ticket_id: str, marker: str) -> RemoteEntry | None:
        """GET /api/Actions for the ticket, page by page, for the action whose note holds it."""
        seen = 0
        for page_no in range(1, self.max_pages + 1):
            page = self._api(
                "GET",
                "/Actions",
                params={
                    "ticket_id": int(ticket_id),
                    "excludesys": "true",
                    "pageinate": "true",
                    "page_size": self.page_size,
                    "page_no": page_no,
                },
            ).json()
            if not isinstance(page, dict):
                raise PermanentError(f"{self.label} listed no actions: {str(page)[:200]}")
            actions = page.get("actions") or []
            for action in actions:
                if marker in (action.get("note") or ""):
                    return RemoteEntry(id=str(action["id"]))
            seen += len(actions)
            total = page.get("record_count")
            # A short page, a long one (paging ignored: all were listed) or record_count
            # reached: nothing more to read.
            if len(actions) != self.page_size or (total and seen >= total):
                return None
        raise PermanentError(f"{self.label}: more than {self.max_pages} pages of actions")

    def update_time(self, ticket_id: str, remote_id: str, payload: TimePayload) -> RemoteEntry:
        """POST /api/Actions with the action's id: Halo updates in place."""
        body = [{"id": int(remote_id), **self._action(ticket_id, payload)}]
        self._saved(self._api("POST", "/Actions", json=body))
        return RemoteEntry(id=str(remote_id), sent=body)

    def delete_time(self, ticket_id: str, remote_id: str) -> None:
        """DELETE /api/Actions/{id}?ticket_id=...; a 404 means it is already gone."""
        try:
            self._api("DELETE", f"/Actions/{int(remote_id)}", params={"ticket_id": int(ticket_id)})
        except PermanentError as exc:
            if exc.status != 404:
                raise
