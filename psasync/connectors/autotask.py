"""Autotask PSA (Datto/Kaseya) REST API v1.0: time entries on service tickets.

How it talks to Autotask (docs/psa/autotask.md has the sources):
- The configured base URL is the zone-discovery root. `GET <root>/V1.0/zoneInformation?user=`
  names the zone that hosts the API user's database; every other call goes there. The zone
  URL is cached per user name for a day. The lookup sends no secret: it needs none.
- Every other request carries the `ApiIntegrationCode`, `UserName` and `Secret` headers.
- Queries are `GET <zone>/V1.0/<Entity>/query?search=<JSON filter>`, at most 500 rows a page,
  and the next page is wherever `pageDetails.nextPageUrl` says (followed as given, with GET).
- A time entry is `POST /V1.0/TimeEntries` (its ticket is `ticketID` in the body; there is
  no ticket child route), changed with `PATCH /V1.0/TimeEntries` (id in the body) and
  removed with `DELETE /V1.0/TimeEntries/{id}`.
- The customer-visible text goes in `summaryNotes`; our marker goes in `internalNotes`,
  which Autotask shows to the MSP's own staff only.
- Errors come as `{"errors": ["..."]}`. Autotask answers its refusals (a missing roleID, a
  role the resource does not hold, an unknown user or integration code) with HTTP 500 and
  that body; those are permanent. A 500 without it is a fault and may be retried.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from .base import (
    Check,
    Connector,
    PermanentError,
    PsaError,
    RemoteEntry,
    TicketNotFound,
    TimePayload,
    utc_iso,
)

API_VERSION = "V1.0"
ZONE_TTL = 24 * 3600.0  # seconds; a database moves zone rarely, and only with notice


class AutotaskConnector(Connector):
    """Autotask's REST API, as far as writing our time back onto the MSP's tickets needs it."""

    kind = "autotask"
    label = "Autotask"
    credential_fields = ("username", "secret", "integration_code")
    page_size: ClassVar[int] = 500  # Autotask's maximum MaxRecords; tests lower it

    # --- the operations -------------------------------------------------------

    def find_ticket(self, number: str) -> str:
        """The id of the ticket whose Autotask number (`T20261201.0042`) is `number`."""
        number = number.strip()
        items = self._query("Tickets", {"op": "eq", "field": "ticketNumber", "value": number})
        if not items:
            raise TicketNotFound(f"Autotask has no ticket {number}")
        return str(items[0]["id"])

    def add_time(self, ticket_id: str, payload: TimePayload) -> RemoteEntry:
        """Create the time entry on the ticket; Autotask answers with its `itemId`."""
        body = {"ticketID": _number(ticket_id, "ticket id"), **self._entry_fields(payload)}
        response = self.request("POST", self._url("TimeEntries"), json=body, **self._auth())
        return RemoteEntry(_item_id(response), sent=body)

    def find_by_marker(self, ticket_id: str, marker: str) -> RemoteEntry | None:
        """Our entry on the ticket whose internal notes carry `marker`, across every page."""
        ticket = {"op": "eq", "field": "ticketID", "value": _number(ticket_id, "ticket id")}
        for item in self._query("TimeEntries", ticket, fields=("id", "internalNotes")):
            if marker in (item.get("internalNotes") or ""):
                return RemoteEntry(str(item["id"]))
        return None

    def update_time(self, ticket_id: str, remote_id: str, payload: TimePayload) -> RemoteEntry:
        """Change the entry in place (PATCH with its id in the body; the ticket stays)."""
        body = {"id": _number(remote_id, "time entry id"), **self._entry_fields(payload)}
        response = self.request("PATCH", self._url("TimeEntries"), json=body, **self._auth())
        return RemoteEntry(_item_id(response, default=remote_id), sent=body)

    def delete_time(self, ticket_id: str, remote_id: str) -> None:
        """Delete the entry; one Autotask no longer has counts as deleted."""
        entry_id = _number(remote_id, "time entry id")
        try:
            self.request("DELETE", self._url(f"TimeEntries/{entry_id}"), **self._auth())
        except PermanentError:
            # Autotask's answer for an id it lacks is not documented: look before failing.
            if self._entry_exists(entry_id):
                raise

    def check_auth(self) -> Check:
        """Authenticate with Autotask's threshold endpoint, which also tells the hour's usage."""
        name = f"authenticate as {self.config.credentials['username']}"
        try:
            response = self.request("GET", self._url("ThresholdInformation"), **self._auth())
        except PsaError as exc:
            return Check(name, False, exc.message)
        usage = _body(response)
        detail = (
            f"{usage.get('currentTimeframeRequestCount', '?')} of "
            f"{usage.get('externalRequestThreshold', '?')} requests used in the current "
            f"{usage.get('requestThresholdTimeframe', '?')}-minute window"
        )
        return Check(name, True, detail)

    # --- HTTP ---------------------------------------------------------------

    def is_refusal(self, response: httpx.Response) -> bool:
        """Autotask answers a request it refuses on its own rules with 500 and the errors
        array: permanent, since retrying would fail the same way for hours, against a
        budget of 10,000 requests an hour that the MSP's other integrations share."""
        errors = _body(response).get("errors")
        return isinstance(errors, list) and bool(errors)

    def error_message(self, response: httpx.Response) -> str:
        """Autotask's words from `{"errors": [...]}` (or ASP.NET's `{"Message": ...}`)."""
        data = _body(response)
        errors = data.get("errors")
        if isinstance(errors, list) and errors:
            return "; ".join(_error_text(error) for error in errors)
        if isinstance(data.get("Message"), str):
            return data["Message"]
        return super().error_message(response)

    def _auth(self) -> dict[str, Any]:
        credentials = self.config.credentials
        headers = {
            "ApiIntegrationCode": credentials["integration_code"],
            "UserName": credentials["username"],
            "Secret": credentials["secret"],
            "Accept": "application/json",
        }
        return {"headers": headers}

    def _zone(self) -> str:
        """The API user's zone URL (`https://webservicesN.autotask.net/ATServicesRest`)."""
        username = self.config.credentials["username"]
        key = f"autotask:zone:{self.config.base_url}:{username}"
        zone = self.cache.get(key)
        if zone:
            return zone
        response = self.request(
            "GET",
            f"{self.config.base_url.rstrip('/')}/{API_VERSION}/zoneInformation",
            params={"user": username},
            headers={"Accept": "application/json"},
        )
        url = _body(response).get("url") or ""
        if urlsplit(url).scheme not in ("http", "https"):
            raise PermanentError(
                f"Autotask found no zone for the API user {username!r}: check the user name"
            )
        if not _trusted_zone(url, self.config.base_url):
            raise PermanentError(
                f"Autotask's zone lookup pointed at {urlsplit(url).netloc!r}, neither an"
                " autotask.net host nor the configured one: our credentials are not sent there"
            )
        zone = url.rstrip("/")
        self.cache.set(key, zone, ZONE_TTL)
        return zone

    def _url(self, path: str) -> str:
        return f"{self._zone()}/{API_VERSION}/{path}"

    def _query(
        self, entity: str, condition: dict[str, Any], *, fields: tuple[str, ...] = ()
    ) -> list[dict[str, Any]]:
        """Every row matching `condition`, page after page as Autotask links them."""
        search: dict[str, Any] = {"filter": [condition], "MaxRecords": self.page_size}
        if fields:
            search["IncludeFields"] = list(fields)
        url: str | None = self._url(f"{entity}/query")
        params: dict[str, str] | None = {"search": json.dumps(search, separators=(",", ":"))}
        rows: list[dict[str, Any]] = []
        while url:
            self._same_host(url)
            response = self.request("GET", url, params=params, **self._auth())
            data = _body(response)
            rows.extend(item for item in data.get("items") or [] if isinstance(item, dict))
            url = (data.get("pageDetails") or {}).get("nextPageUrl")
            params = None  # the next page's URL carries the search itself
        return rows

    def _same_host(self, url: str) -> None:
        # Our secret goes wherever a next-page link points; only ever to the zone's host.
        if urlsplit(url).netloc != urlsplit(self._zone()).netloc:
            raise PermanentError(f"Autotask linked a page on another host: {url}")

    def _entry_exists(self, entry_id: int) -> bool:
        try:
            response = self.request("GET", self._url(f"TimeEntries/{entry_id}"), **self._auth())
        except PermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return bool(_body(response).get("item"))

    def _entry_fields(self, payload: TimePayload) -> dict[str, Any]:
        """The time entry's fields from the payload, by Autotask's names.

        `billingCodeID` is what Autotask calls the Work Type (a billing code of use type
        1), so the configured work type fills it; a billing code stands in when no work
        type is configured. `dateWorked` is left for Autotask to take from the start.
        """
        fields: dict[str, Any] = {
            "resourceID": _number(payload.member, "resource id (the member)"),
            "startDateTime": utc_iso(payload.started_at),
            "endDateTime": utc_iso(payload.ended_at),
            "hoursWorked": float(payload.hours),
            "summaryNotes": payload.summary,
            "internalNotes": payload.marker,
            "isNonBillable": not payload.billable,
        }
        if payload.role:
            fields["roleID"] = _number(payload.role, "role id")
        work_type = payload.work_type or payload.billing_code
        if work_type:
            fields["billingCodeID"] = _number(work_type, "work type (billing code id)")
        return fields


def _number(value: str, what: str) -> int:
    """Autotask's ids are integers; anything else is a mapping mistake the SDM must fix."""
    try:
        return int(str(value).strip())
    except ValueError:
        raise PermanentError(f"Autotask needs a numeric {what}, not {value!r}") from None


def _body(response: httpx.Response) -> dict[str, Any]:
    """The body as a JSON object; {} when it is empty, not JSON or not an object."""
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _item_id(response: httpx.Response, default: str = "") -> str:
    item_id = _body(response).get("itemId")
    if item_id is None and not default:
        raise PermanentError("Autotask accepted the time entry but returned no itemId")
    return str(item_id if item_id is not None else default)


def _error_text(error: Any) -> str:
    if isinstance(error, dict):  # some integrations describe {"message": ...}; be lenient
        return str(error.get("message") or error)
    return str(error)


def _trusted_zone(url: str, base_url: str) -> bool:
    """Our secret goes to the zone: an Autotask host (https), or the configured host
    itself (a simulator, a proxy the MSP set up)."""
    zone, base = urlsplit(url), urlsplit(base_url)
    if zone.netloc == base.netloc:
        return True
    host = (zone.hostname or "").lower()
    return zone.scheme == "https" and (host == "autotask.net" or host.endswith(".autotask.net"))
