"""Autotask PSA REST API v1.0, as far as time write-back uses it.

What it answers like Autotask (docs/psa/autotask.md has the sources):
- `api_root` is the zone-discovery root: `GET /atservicesrest/V1.0/zoneInformation?user=`
  needs no credentials and answers with the zone's `url`, which points back at this
  server under another prefix (`/ws5/ATServicesRest`), so a connector that ignored the
  zone would miss every route.
- `ApiIntegrationCode`, `UserName` and `Secret` headers on every zone request. As Autotask
  does: a wrong secret gets 401, an unknown user or integration code gets 500.
- Autotask's own refusals are HTTP 500 with `{"errors": ["..."]}`, with the messages
  Autotask uses for time entries (missing resourceID or roleID, no start/stop time on a
  service ticket, blank summaryNotes, hours out of range). Framework errors (no route,
  wrong method, an injected fault) come as ASP.NET's `{"Message": "..."}`.
- `GET <Entity>/query?search={"filter": [...], "MaxRecords": n, "IncludeFields": [...]}`
  with `eq`/`noteq`/`contains`/`and`/`or`, pages of at most 500 and a
  `pageDetails.nextPageUrl` (`.../query/next?paging=...&search=...`) while more follow.
- The hours of an entry with a start and an end follow that window, as in Autotask.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .core import KindSim, json_response

MARKER = re.compile(r"\[hd:[^\]]*\]")
ENTRY_FIELDS = (
    "ticketID",
    "resourceID",
    "roleID",
    "dateWorked",
    "startDateTime",
    "endDateTime",
    "hoursWorked",
    "summaryNotes",
    "internalNotes",
    "billingCodeID",
    "isNonBillable",
    "showOnInvoice",
)


class Refused(Exception):
    """Autotask declines the request; it answers with the errors array."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AutotaskSim(KindSim):
    kind = "autotask"
    api_root = "/atservicesrest"
    zone_root: ClassVar[str] = "/ws5/ATServicesRest"
    max_page: ClassVar[int] = 500
    username: ClassVar[str] = "helpdesk-api@msp.example"
    secret: ClassVar[str] = "sim-secret-7Qz"
    integration_code: ClassVar[str] = "SIMINTEGRATIONCODE0001"
    request_threshold: ClassVar[int] = 10_000  # per database and rolling hour

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self._counted = 0
        self._count_lock = threading.Lock()

    def rules(self) -> list[Rule]:
        root, zone = f"{self.api_root}/V1.0", f"{self.zone_root}/V1.0"
        return [
            Rule(f"{root}/zoneInformation", endpoint="zone_information", methods=["GET"]),
            Rule(f"{zone}/ThresholdInformation", endpoint="threshold_information", methods=["GET"]),
            Rule(f"{zone}/Tickets/query", endpoint="query_tickets", methods=["GET"]),
            Rule(f"{zone}/Tickets/query/next", endpoint="query_tickets", methods=["GET"]),
            Rule(f"{zone}/TimeEntries/query", endpoint="query_entries", methods=["GET"]),
            Rule(f"{zone}/TimeEntries/query/next", endpoint="query_entries", methods=["GET"]),
            Rule(f"{zone}/TimeEntries", endpoint="create_entry", methods=["POST"]),
            Rule(f"{zone}/TimeEntries", endpoint="update_entry", methods=["PATCH"]),
            Rule(f"{zone}/TimeEntries/<int:entry_id>", endpoint="get_entry", methods=["GET"]),
            Rule(f"{zone}/TimeEntries/<int:entry_id>", endpoint="delete_entry", methods=["DELETE"]),
        ]

    def credentials(self) -> dict[str, str]:
        return {
            "username": self.username,
            "secret": self.secret,
            "integration_code": self.integration_code,
        }

    def authenticate(self, request: Request) -> str | Response:
        if request.path.endswith("/zoneInformation"):
            return "zone-lookup"  # needs no credentials, and is not counted against the tenant
        user = request.headers.get("UserName", "")
        secret = request.headers.get("Secret", "")
        code = request.headers.get("ApiIntegrationCode", "")
        if not (user and secret and code):
            return self.refuse("Missing credentials: UserName, Secret and ApiIntegrationCode.", 401)
        if user.lower() != self.username.lower():
            return self.refuse(f"User {user} is not a valid API user.")
        if secret != self.secret:
            return self.refuse("Authentication failed: the secret does not match the user.", 401)
        if code != self.integration_code:
            return self.refuse("The API tracking identifier (integration code) is not valid.")
        with self._count_lock:
            self._counted += 1
        return "sim-database"

    def error(self, status: int, message: str) -> Response:
        return json_response({"Message": message}, status)

    def refuse(self, message: str, status: int = 500) -> Response:
        return json_response({"errors": [message]}, status)

    def too_many_requests(self, retry_after: int) -> Response:
        response = self.refuse(
            "API request threshold exceeded for this database; retry later.", 429
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    def entry_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        found = MARKER.search(entry.get("internalNotes") or "")
        return {
            **entry,
            "ticket_id": int(entry.get("ticketID") or 0),
            "marker": found.group(0) if found else "",
            "summary": entry.get("summaryNotes") or "",
            "member": str(entry.get("resourceID", "")),
            "hours": float(entry.get("hoursWorked") or 0),
        }

    # --- endpoints ---------------------------------------------------------------

    def zone_information(self, request: Request) -> Response:
        user = request.args.get("user", "")
        if user.lower() != self.username.lower():
            return json_response({"zoneName": None, "url": None, "webUrl": None, "ci": 0})
        return json_response(
            {
                "zoneName": "Simulated zone 5",
                # root_url: under `psa_simulator --kind all` this one is mounted at /autotask
                "url": f"{request.root_url}{self.zone_root.lstrip('/')}/",
                "webUrl": request.root_url,
                "ci": 5,
            }
        )

    def threshold_information(self, request: Request) -> Response:
        return json_response(
            {
                "externalRequestThreshold": self.request_threshold,
                "requestThresholdTimeframe": 60,
                "currentTimeframeRequestCount": self._counted,
            }
        )

    def query_tickets(self, request: Request) -> Response:
        number = _wanted_number(request)
        if number:  # a lookup by number may create the ticket in demo mode (auto_tickets)
            self.state.ticket_by_number(number)
        with self.state.lock:
            rows = [_ticket_view(ticket) for ticket in self.state.tickets.values()]
        return self._query(request, "Tickets", rows)

    def query_entries(self, request: Request) -> Response:
        with self.state.lock:
            rows = [dict(entry) for entry in self.state.entries.values()]
        return self._query(request, "TimeEntries", rows)

    def create_entry(self, request: Request) -> Response:
        try:
            body = _object(request)
            fields = {name: body[name] for name in ENTRY_FIELDS if body.get(name) is not None}
            with self.state.lock:
                self._validate(fields)
                entry = self.state.add_entry(
                    **fields, timeEntryType=2, createDateTime=_now(), creatorUserID=1
                )
        except Refused as refused:
            return self.refuse(refused.message, refused.status)
        return json_response({"itemId": entry["id"]})

    def update_entry(self, request: Request) -> Response:
        try:
            body = _object(request)
            entry_id = body.get("id")
            with self.state.lock:
                entry = self.state.entries.get(entry_id) if isinstance(entry_id, int) else None
                if entry is None:
                    raise Refused(f"TimeEntries id {entry_id} does not reference a valid entity.")
                merged = {**entry, **{n: body[n] for n in ENTRY_FIELDS if n in body}}
                self._validate(merged)
                entry.clear()
                entry.update(merged)
        except Refused as refused:
            return self.refuse(refused.message, refused.status)
        return json_response({"itemId": entry_id})

    def get_entry(self, request: Request, entry_id: int) -> Response:
        with self.state.lock:
            entry = self.state.entries.get(entry_id)
            return json_response({"item": dict(entry) if entry else None})

    def delete_entry(self, request: Request, entry_id: int) -> Response:
        with self.state.lock:
            if self.state.entries.pop(entry_id, None) is None:
                return self.refuse(f"TimeEntries id {entry_id} was not found.", 404)
        return json_response({"itemId": entry_id})

    # --- rules and queries ---------------------------------------------------------

    def _validate(self, fields: dict[str, Any]) -> None:
        """Autotask's create/update rules for a ticket time entry, with its messages."""
        if fields.get("resourceID") is None:
            raise Refused("Value does not exist for the required field resourceID")
        ticket_id = fields.get("ticketID")
        if ticket_id is not None:
            if self.state.ticket(ticket_id) is None:
                raise Refused(f"This ticketID ({ticket_id}) does not reference a valid Ticket")
            if fields.get("roleID") is None:
                raise Refused("TimeEntries for Tickets must have a roleID")
        start, end = _when(fields, "startDateTime"), _when(fields, "endDateTime")
        if fields.get("hoursWorked") is None and not (start and end):
            raise Refused("Must have at least one of hoursWorked or startDateTime/endDateTime")
        if ticket_id is not None and not (start and end):
            raise Refused("TimeEntries for Service tickets require a start and stop time.")
        if not start and not fields.get("dateWorked"):
            raise Refused("dateWorked is required when no value is supplied for startDateTime")
        if ticket_id is not None and not str(fields.get("summaryNotes") or "").strip():
            raise Refused("TimeEntry.summaryNotes can not be blank.")
        if start and end:
            # Autotask keeps the hours of a timed entry equal to its window.
            fields["hoursWorked"] = round((end - start).total_seconds() / 3600, 4)
            fields["dateWorked"] = start.strftime("%Y-%m-%dT00:00:00Z")
        try:
            hours = float(fields["hoursWorked"])
        except (TypeError, ValueError):
            raise Refused("hoursWorked is not a number") from None
        if not 0 < hours <= 24:
            raise Refused("hoursWorked greater than 24 hours or less than zero hours")

    def _query(self, request: Request, entity: str, rows: list[dict[str, Any]]) -> Response:
        try:
            search = json.loads(request.args.get("search") or "")
            if not isinstance(search, dict):
                raise ValueError
        except ValueError:
            return self.refuse("The search parameter is not a valid JSON query.")
        options = {key.lower(): value for key, value in search.items()}
        page_size = options.get("maxrecords", self.max_page)
        if not isinstance(page_size, int) or not 1 <= page_size <= self.max_page:
            return self.refuse(f"maxCountOfRecordsToReturn must be between 1 and {self.max_page}")
        try:
            matching = [
                row for row in rows if all(_matches(row, c, entity) for c in options["filter"])
            ]
        except (KeyError, TypeError):
            return self.refuse("A query needs a filter: a list of conditions.")
        except Refused as refused:
            return self.refuse(refused.message, refused.status)
        matching.sort(key=lambda row: row["id"])
        try:
            after = int(json.loads(request.args.get("paging") or "{}").get("lastId", 0))
        except (ValueError, AttributeError):
            return self.refuse("The paging parameter is not valid.")
        remaining = [row for row in matching if row["id"] > after]
        page = remaining[:page_size]
        next_url = None
        if len(remaining) > page_size:
            paging = json.dumps({"pageSize": page_size, "lastId": page[-1]["id"]})
            query = urlencode({"paging": paging, "search": request.args["search"]})
            next_url = f"{request.root_url}{self.zone_root.lstrip('/')}/V1.0/{entity}/query/next"
            next_url = f"{next_url}?{query}"
        fields = options.get("includefields") or []
        items = [_only(row, fields) for row in page]
        details = {
            "count": len(items),
            "requestCount": page_size,
            "prevPageUrl": None,
            "nextPageUrl": next_url,
        }
        return json_response({"items": items, "pageDetails": details})


def _ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ticket["id"],
        "ticketNumber": ticket["number"],
        "title": ticket.get("title", ""),
        "status": ticket.get("status", 1),
    }


def _field(row: dict[str, Any], name: str, entity: str) -> Any:
    for key, value in row.items():
        if key.lower() == str(name).lower():
            return value
    raise Refused(f"Unable to find {name} in the {entity} Entity.")


def _matches(row: dict[str, Any], condition: dict[str, Any], entity: str) -> bool:
    op = str(condition.get("op", "")).lower()
    if op in ("and", "or"):
        results = [_matches(row, item, entity) for item in condition.get("items") or []]
        return all(results) if op == "and" else any(results)
    actual = _field(row, condition.get("field", ""), entity)
    wanted = condition.get("value")
    if op in ("eq", "noteq"):
        return _same(actual, wanted) == (op == "eq")
    if op == "contains":
        return str(wanted).lower() in str(actual or "").lower()
    raise Refused(f"The filter operator {op!r} is not supported by this simulator.")


def _same(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, bool) or isinstance(wanted, bool):
        return actual == wanted
    if isinstance(actual, int | float) and isinstance(wanted, int | float | str):
        try:
            return float(actual) == float(wanted)
        except ValueError:
            return False
    return str(actual).lower() == str(wanted).lower()  # Autotask compares text caselessly


def _only(row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    if not fields:
        return dict(row)
    wanted = {str(name).lower() for name in fields} | {"id"}
    return {key: value for key, value in row.items() if key.lower() in wanted}


def _object(request: Request) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Refused("The request body is not a JSON object.")
    return body


def _when(fields: dict[str, Any], name: str) -> datetime | None:
    value = fields.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"{name} is not a valid date and time: {value}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _wanted_number(request: Request) -> str:
    """The ticket number a query asks for (an `eq` on ticketNumber), or ""."""
    try:
        search = json.loads(request.args.get("search") or "")
        conditions = {k.lower(): v for k, v in search.items()}.get("filter") or []
        for condition in conditions:
            fields = {k.lower(): v for k, v in condition.items()}
            if fields.get("op") == "eq" and str(fields.get("field", "")).lower() == "ticketnumber":
                return str(fields.get("value") or "")
    except (ValueError, AttributeError, TypeError):
        pass  # _query answers a malformed search
    return ""
