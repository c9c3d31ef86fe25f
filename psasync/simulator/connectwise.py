"""ConnectWise PSA (Manage) REST API 3.0, as far as time write-back uses it.

What it answers like ConnectWise (docs/psa/connectwise.md has the sources):
- Basic auth `company+publicKey:privateKey` and a `clientId` header on every request;
  bad keys get 401 with `{"code": "Unauthorized", "message": ...}`.
- Errors as `{"code", "message", "errors": [{"code", "message", "resource", "field"}]}`.
- `conditions` (`field=value`, `field="text"`, `field like "%text%"`, joined by `and`),
  `fields`, `page` and `pageSize` (25 by default, at most 1,000), and a `Link` header
  with rel="next" while more pages follow.
- A service ticket's number is its record id.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .core import KindSim, json_response

MARKER = re.compile(r"\[hd:[^\]]*\]")
CHARGE_TO_TYPES = {"ServiceTicket", "ProjectTicket", "ChargeCode", "Activity"}
BILLABLE_OPTIONS = {"Billable", "DoNotBill", "NoCharge", "NoDefault"}
ERROR_CODES = {
    400: "InvalidObject",
    401: "Unauthorized",
    403: "Security",
    404: "NotFound",
    405: "MethodNotAllowed",
    429: "TooManyRequests",
    500: "UnexpectedError",
}
CLAUSE = re.compile(
    r"""^\s*(?P<path>[A-Za-z_][\w/]*)\s*(?P<op>!=|=|\s+like\s+)\s*
        (?:"(?P<text>[^"]*)"|'(?P<text2>[^']*)'|(?P<bare>[\w.\-]+))\s*$""",
    re.IGNORECASE | re.VERBOSE,
)


class InvalidConditions(ValueError):
    pass


def parse_conditions(conditions: str) -> list[tuple[str, str, Any]]:
    """`a/b=1 and c like "%x%"` as [(path, op, value)]; only what ConnectWise's `and` covers."""
    clauses = []
    for part in re.split(r"\s+and\s+", conditions.strip(), flags=re.IGNORECASE):
        match = CLAUSE.match(part)
        if not match:
            raise InvalidConditions(f"Cannot parse conditions near: {part.strip()!r}")
        op = match["op"].strip().lower()
        if match["bare"] is not None:
            bare = match["bare"]
            value: Any = {"true": True, "false": False}.get(bare.lower(), bare)
        else:
            value = match["text"] if match["text"] is not None else match["text2"]
        clauses.append((match["path"], op, value))
    return clauses


def like_pattern(pattern: str) -> re.Pattern[str]:
    """A SQL Server LIKE pattern as a regex: % any run, _ one character, [...] a character
    class (why a marker's brackets must not be searched for literally)."""
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if char == "%":
            out.append(".*")
        elif char == "_":
            out.append(".")
        elif char == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + re.escape(pattern[i + 1 : end]) + "]")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def field_value(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for key in path.split("/"):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def matches(record: dict[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for path, op, wanted in clauses:
        value = field_value(record, path)
        if op == "like":
            if value is None or not like_pattern(str(wanted)).fullmatch(str(value)):
                return False
            continue
        same = str(value).lower() == str(wanted).lower() if value is not None else False
        if (op == "=") != same:
            return False
    return True


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class ConnectWiseSim(KindSim):
    kind = "connectwise"
    api_root = "/v4_6_release/apis/3.0"
    default_page_size: ClassVar[int] = 25
    max_page_size: ClassVar[int] = 1000

    company = "simmsp"
    public_key = "SimPublicKey01"
    private_key = "SimPrivateKey01"
    client_id = "5f0b2d6e-8c1a-4b7e-9d3f-2a6c4e8b1d70"

    def rules(self) -> list[Rule]:
        root = self.api_root
        return [
            Rule(f"{root}/system/info", endpoint="system_info", methods=["GET"]),
            Rule(f"{root}/service/tickets", endpoint="list_tickets", methods=["GET"]),
            Rule(f"{root}/service/tickets/<int:ticket_id>", endpoint="get_ticket", methods=["GET"]),
            Rule(f"{root}/time/entries", endpoint="list_entries", methods=["GET"]),
            Rule(f"{root}/time/entries", endpoint="create_entry", methods=["POST"]),
            Rule(f"{root}/time/entries/<int:entry_id>", endpoint="get_entry", methods=["GET"]),
            Rule(f"{root}/time/entries/<int:entry_id>", endpoint="patch_entry", methods=["PATCH"]),
            Rule(f"{root}/time/entries/<int:entry_id>", endpoint="put_entry", methods=["PUT"]),
            Rule(
                f"{root}/time/entries/<int:entry_id>", endpoint="delete_entry", methods=["DELETE"]
            ),
        ]

    def credentials(self) -> dict[str, str]:
        return {
            "company": self.company,
            "public_key": self.public_key,
            "private_key": self.private_key,
            "client_id": self.client_id,
        }

    def authenticate(self, request: Request) -> str | Response:
        if not request.headers.get("clientId"):
            return self.error(401, "A clientId header is required on every request.")
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        user, _, secret = decoded.partition(":")
        company, _, public = user.partition("+")
        if (
            scheme.lower() != "basic"
            or company.lower() != self.company.lower()
            or public != self.public_key
            or secret != self.private_key
        ):
            return self.error(401, "Incorrect public/private key")
        return company.lower()

    def error(
        self, status: int, message: str, errors: list[dict[str, str]] | None = None
    ) -> Response:
        body: dict[str, Any] = {"code": ERROR_CODES.get(status, "Error"), "message": message}
        if errors:
            body["errors"] = errors
        return json_response(body, status)

    def entry_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        marker = MARKER.search(entry.get("internalNotes") or "")
        return {
            **entry,
            "ticket_id": int(entry.get("chargeToId") or 0),
            "marker": marker.group(0) if marker else "",
            "summary": entry.get("notes") or "",
            "member": (entry.get("member") or {}).get("identifier", ""),
            "hours": float(entry.get("actualHours") or 0.0),
        }

    # --- lists ------------------------------------------------------------------

    def _page(self, request: Request, records: list[dict[str, Any]]) -> Response:
        try:
            conditions = request.args.get("conditions", "")
            clauses = parse_conditions(conditions) if conditions.strip() else []
            page = max(1, int(request.args.get("page", 1)))
            size = int(request.args.get("pageSize", self.default_page_size))
        except InvalidConditions as exc:
            return self.error(400, str(exc))
        except ValueError:
            return self.error(400, "page and pageSize must be whole numbers.")
        size = min(max(1, size), self.max_page_size)
        found = [r for r in records if matches(r, clauses)]
        chunk = found[(page - 1) * size : page * size]
        fields = [f for f in request.args.get("fields", "").split(",") if f]
        if fields:
            chunk = [{k: v for k, v in r.items() if k in fields} for r in chunk]
        headers = {}
        if page * size < len(found):
            headers["Link"] = self._links(request, page, size, len(found))
        return json_response(chunk, headers=headers)

    @staticmethod
    def _links(request: Request, page: int, size: int, total: int) -> str:
        last = (total + size - 1) // size

        def url(number: int) -> str:
            args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
            args.append(("page", str(number)))
            return f"{request.base_url}?{urlencode(args, quote_via=quote)}"

        links = [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links += [f'<{url(page - 1)}>; rel="prev"', f'<{url(1)}>; rel="first"']
        return ", ".join(links)

    # --- system and tickets -----------------------------------------------------------

    def system_info(self, request: Request) -> Response:
        return json_response({"version": "v2025.1.99999", "isCloud": True, "cloudRegion": "NA"})

    def _ticket_view(self, ticket: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(ticket["number"]), "summary": ticket.get("summary", "")}

    def _tickets(self) -> list[dict[str, Any]]:
        with self.state.lock:
            numbers = [t for t in self.state.tickets.values() if str(t["number"]).isdigit()]
            return [self._ticket_view(t) for t in numbers]

    def list_tickets(self, request: Request) -> Response:
        wanted = re.fullmatch(r"\s*id\s*=\s*(\d+)\s*", request.args.get("conditions", ""))
        if wanted:  # a lookup by number may create the ticket in demo mode (auto_tickets)
            self.state.ticket_by_number(str(int(wanted.group(1))))
        return self._page(request, self._tickets())

    def get_ticket(self, request: Request, ticket_id: int) -> Response:
        for ticket in self._tickets():
            if ticket["id"] == ticket_id:
                return json_response(ticket)
        return self.error(404, f"Ticket with id {ticket_id} not found.")

    # --- time entries ------------------------------------------------------------------

    def list_entries(self, request: Request) -> Response:
        with self.state.lock:
            records = [dict(e) for e in sorted(self.state.entries.values(), key=lambda e: e["id"])]
        return self._page(request, records)

    def get_entry(self, request: Request, entry_id: int) -> Response:
        entry = self.state.entries.get(entry_id)
        if entry is None:
            return self.error(404, f"TimeEntry with id {entry_id} not found.")
        return json_response(entry)

    def create_entry(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, "The request body is not a valid timeEntry object.")
        entry, problem = self._validated(body, updating=False)
        if problem is not None:
            return problem
        with self.state.lock:
            stored = self.state.add_entry(**entry)
        return json_response(stored, 201)

    def put_entry(self, request: Request, entry_id: int) -> Response:
        if entry_id not in self.state.entries:
            return self.error(404, f"TimeEntry with id {entry_id} not found.")
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return self.error(400, "The request body is not a valid timeEntry object.")
        return self._replace(entry_id, body)

    def patch_entry(self, request: Request, entry_id: int) -> Response:
        with self.state.lock:
            current = self.state.entries.get(entry_id)
            current = json.loads(json.dumps(current)) if current else None
        if current is None:
            return self.error(404, f"TimeEntry with id {entry_id} not found.")
        operations = request.get_json(silent=True)
        if not isinstance(operations, list):
            return self.error(400, "A PATCH body is a list of operations (op, path, value).")
        for operation in operations:
            path = str((operation or {}).get("path", "")).strip("/")
            if operation.get("op") not in ("replace", "add") or not path:
                return self.error(400, f"Unsupported patch operation: {operation!r}")
            target = current
            *parents, leaf = path.split("/")
            for key in parents:
                target = target.setdefault(key, {})
            target[leaf] = operation.get("value")
        return self._replace(entry_id, current)

    def _replace(self, entry_id: int, body: dict[str, Any]) -> Response:
        entry, problem = self._validated(body, updating=True)
        if problem is not None:
            return problem
        with self.state.lock:
            if entry_id not in self.state.entries:
                return self.error(404, f"TimeEntry with id {entry_id} not found.")
            self.state.entries[entry_id] = {"id": entry_id, **entry}
            return json_response(self.state.entries[entry_id])

    def delete_entry(self, request: Request, entry_id: int) -> Response:
        with self.state.lock:
            if self.state.entries.pop(entry_id, None) is None:
                return self.error(404, f"TimeEntry with id {entry_id} not found.")
        return Response(status=204)

    def _validated(
        self, body: dict[str, Any], *, updating: bool
    ) -> tuple[dict[str, Any], Response | None]:
        """The entry as ConnectWise would store it, or its 400 answer."""
        errors: list[dict[str, str]] = []

        def reject(code: str, field: str, message: str) -> None:
            errors.append(
                {"code": code, "message": message, "resource": "timeEntry", "field": field}
            )

        start, end = parse_time(body.get("timeStart")), parse_time(body.get("timeEnd"))
        if start is None:
            reject("NullValue", "timeStart", "The timeStart field is required.")
        if body.get("timeEnd") is not None and end is None:
            reject("InvalidValue", "timeEnd", "timeEnd is not a valid date and time.")
        if start and end and end <= start:
            reject("InvalidValue", "timeEnd", "timeEnd must be later than timeStart.")
        charge_type = body.get("chargeToType")
        if charge_type not in CHARGE_TO_TYPES:
            reject("InvalidValue", "chargeToType", f"chargeToType {charge_type!r} is not valid.")
        ticket_id = body.get("chargeToId")
        if charge_type == "ServiceTicket" and not self._ticket_exists(ticket_id):
            reject("NotFound", "chargeToId", f"Service ticket {ticket_id} was not found.")
        if not (body.get("member") or {}).get("identifier"):
            reject("NullValue", "member", "The member field is required.")
        option = body.get("billableOption")
        if (updating or option is not None) and option not in BILLABLE_OPTIONS:
            reject("InvalidValue", "billableOption", f"billableOption {option!r} is not valid.")
        if errors:
            return {}, self.error(400, "timeEntry object is invalid", errors)
        entry = dict(body)
        entry.pop("id", None)
        deduct = float(body.get("hoursDeduct") or 0.0)
        if end is not None:
            entry["actualHours"] = round((end - start).total_seconds() / 3600 - deduct, 2)
        entry.setdefault("billableOption", "Billable")
        entry["ticket"] = {"id": ticket_id} if charge_type == "ServiceTicket" else None
        return entry, None

    def _ticket_exists(self, ticket_id: Any) -> bool:
        return any(t["id"] == ticket_id for t in self._tickets()) if ticket_id else False
