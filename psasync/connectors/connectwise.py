"""ConnectWise PSA (Manage) REST API 3.0: time entries on service tickets.

Facts and their sources: docs/psa/connectwise.md. In short: Basic auth
`company+publicKey:privateKey` plus a `clientId` header; a time entry is
`POST /time/entries` charged to a `ServiceTicket` by id (the ticket number the MSP
sees *is* that id); `notes` is the text the ticket's discussion shows, `internalNotes`
is for the MSP's members only, so our marker goes there; lists take `conditions`,
`page` and `pageSize` (at most 1,000) and announce the next page in a `Link` header.
"""

from __future__ import annotations

import base64
import re
from typing import Any, ClassVar
from urllib.parse import urlsplit

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

# "12345", "#12345", "Ticket #12345", "Service Ticket #12345"
TICKET_NUMBER = re.compile(r"^\s*(?:(?:service\s+)?ticket\s*)?#?\s*(\d{1,10})\s*$", re.I)


def ticket_id_from_number(number: str) -> int:
    """The ConnectWise ticket id in the MSP's ticket number, however it was written."""
    match = TICKET_NUMBER.match(number or "")
    if not match or int(match.group(1)) == 0:
        raise TicketNotFound(f"{number!r} is not a ConnectWise ticket number (digits, e.g. #12345)")
    return int(match.group(1))


def condition_text(value: str) -> str:
    """A string literal for `conditions`: double quotes, with any inner quote escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ConnectWiseConnector(Connector):
    kind = "connectwise"
    label = "ConnectWise PSA"
    credential_fields = ("company", "public_key", "private_key", "client_id")

    page_size: ClassVar[int] = 1000  # ConnectWise's ceiling for pageSize
    max_pages: ClassVar[int] = 50  # a bound, should a server keep announcing a next page

    # --- HTTP ---------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        creds = self.config.credentials
        user = f"{creds['company']}+{creds['public_key']}:{creds['private_key']}"
        return {
            "Authorization": "Basic " + base64.b64encode(user.encode()).decode("ascii"),
            "clientId": creds["client_id"],
            "Accept": "application/json",
        }

    def _url(self, path: str) -> str:
        return self.config.base_url.rstrip("/") + path

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.request(method, self._url(path), headers=self._headers(), **kwargs)

    def _json(self, response: httpx.Response) -> Any:
        """The body of a 2xx answer. Not JSON: after a write, the write may have landed
        (retry; the next attempt looks for the marker); after a read, a wrong base URL."""
        try:
            return response.json()
        except ValueError:
            if response.request.method != "GET":
                raise RetryableError(
                    f"{self.label} answered {response.request.method} {response.url.path}"
                    f" {response.status_code} with something other than JSON; it may have"
                    " been applied: the next attempt looks for it first",
                    status=response.status_code,
                    maybe_applied=True,
                ) from None
            raise PermanentError(
                f"{self.label} answered {response.url.path} with something other than JSON;"
                " is the base URL the API's (.../v4_6_release/apis/3.0)?",
                status=response.status_code,
            ) from None

    def error_message(self, response: httpx.Response) -> str:
        """`message`, then each of `errors` (message and field), as ConnectWise words them."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict) or not body.get("message"):
            return super().error_message(response)
        details = []
        for item in body.get("errors") or []:
            if isinstance(item, dict) and item.get("message"):
                field = f" ({item['field']})" if item.get("field") else ""
                details.append(f"{item['message']}{field}")
        message = str(body["message"])
        return f"{message}: {'; '.join(details)}" if details else message

    def _list(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a list, following `Link: <...>; rel="next"` page by page."""
        rows: list[dict[str, Any]] = []
        response = self._send("GET", path, params={**params, "pageSize": self.page_size})
        for _ in range(self.max_pages):
            page = self._json(response)
            rows.extend(page if isinstance(page, list) else [])
            following = response.links.get("next", {}).get("url")
            if not following or not page:
                return rows
            # Only the query of the link is taken: the credentials never go to a host
            # other than the configured one, whatever the header names.
            query = urlsplit(following).query
            response = self.request("GET", f"{self._url(path)}?{query}", headers=self._headers())
        raise PermanentError(f"{self.label}: more than {self.max_pages} pages of {path}")

    # --- the operations -------------------------------------------------------------

    def check_auth(self) -> Check:
        """GET /system/info: the cheapest call that needs valid keys and clientId."""
        try:
            info = self._json(self._send("GET", "/system/info"))
        except PsaError as exc:
            return Check("authenticate", False, exc.message)
        return Check("authenticate", True, f"ConnectWise {info.get('version', '')}".strip())

    def find_ticket(self, number: str) -> str:
        """The service ticket's id: the MSP's number itself, once ConnectWise confirms it."""
        ticket_id = ticket_id_from_number(number)
        params = {"conditions": f"id={ticket_id}", "fields": "id"}
        rows = self._json(self._send("GET", "/service/tickets", params=params))
        if not rows:
            raise TicketNotFound(f"{self.label} has no service ticket #{ticket_id}")
        return str(rows[0]["id"])

    def _body(self, ticket_id: str, payload: TimePayload) -> dict[str, Any]:
        body: dict[str, Any] = {
            "chargeToType": "ServiceTicket",
            "chargeToId": int(ticket_id),
            "member": {"identifier": payload.member},
            "timeStart": utc_iso(payload.started_at),
            "timeEnd": utc_iso(payload.ended_at),
            "billableOption": "Billable" if payload.billable else "DoNotBill",
            "notes": payload.summary,
            "internalNotes": payload.marker,
            # Where the notes show: the ticket's discussion, not its internal analysis
            # or resolution.
            "addToDetailDescriptionFlag": True,
            "addToInternalAnalysisFlag": False,
            "addToResolutionFlag": False,
            # Never mail the MSP's customer, CCs or resources about our entry.
            "emailResourceFlag": False,
            "emailContactFlag": False,
            "emailCcFlag": False,
        }
        # ConnectWise computes hours as timeEnd - timeStart - hoursDeduct; deduct the
        # difference when the hours logged are fewer than the span.
        span = (payload.ended_at - payload.started_at).total_seconds() / 3600
        deduct = round(span - float(payload.hours), 2)
        if deduct >= 0.01:
            body["hoursDeduct"] = deduct
        if payload.work_type:
            body["workType"] = {"name": payload.work_type}
        if payload.role:
            body["workRole"] = {"name": payload.role}
        return body

    def add_time(self, ticket_id: str, payload: TimePayload) -> RemoteEntry:
        """POST /time/entries charged to the service ticket."""
        body = self._body(ticket_id, payload)
        created = self._json(self._send("POST", "/time/entries", json=body))
        return RemoteEntry(id=str(created["id"]), sent=body)

    def find_by_marker(self, ticket_id: str, marker: str) -> RemoteEntry | None:
        """Our entry on the ticket, by the marker in its internalNotes.

        The `like` pattern leaves out the marker's brackets, which SQL Server's LIKE
        reads as a character class; the exact marker is then checked here.
        """
        on_ticket = f'chargeToType="ServiceTicket" and chargeToId={int(ticket_id)}'
        like = f"internalNotes like {condition_text('%' + marker.strip('[]') + '%')}"
        fields = "id,internalNotes"
        try:
            rows = self._list(
                "/time/entries", {"conditions": f"{on_ticket} and {like}", "fields": fields}
            )
        except PermanentError as exc:
            if exc.status != 400:
                raise
            # Should this ConnectWise refuse to filter on internalNotes, read the
            # ticket's entries and look for the marker here.
            rows = self._list("/time/entries", {"conditions": on_ticket, "fields": fields})
        for row in rows:
            if marker in (row.get("internalNotes") or ""):
                return RemoteEntry(id=str(row["id"]))
        return None

    def update_time(self, ticket_id: str, remote_id: str, payload: TimePayload) -> RemoteEntry:
        """PATCH /time/entries/{id}: replace each field we own, leave the MSP's alone."""
        body = self._body(ticket_id, payload)
        body.setdefault("hoursDeduct", 0.0)  # a deduction sent before must not linger
        for fixed in ("chargeToType", "chargeToId"):
            body.pop(fixed)
        operations = [{"op": "replace", "path": key, "value": value} for key, value in body.items()]
        self._send("PATCH", f"/time/entries/{int(remote_id)}", json=operations)
        return RemoteEntry(id=str(remote_id), sent=operations)

    def delete_time(self, ticket_id: str, remote_id: str) -> None:
        """DELETE /time/entries/{id}; a 404 means it is already gone."""
        try:
            self._send("DELETE", f"/time/entries/{int(remote_id)}")
        except PermanentError as exc:
            if exc.status != 404:
                raise
