"""Syncro (SyncroMSP) REST API v1, as far as time write-back uses it.

What it answers like Syncro (docs/psa/syncro.md has the sources):
- `Authorization: Bearer <api key>` on every request, under `https://<subdomain>
  .syncromsp.com/api/v1`; a missing or wrong key gets 401.
- Tickets have an `id` (the API's) and a `number` (what the MSP sees); `GET /tickets`
  filters by `number` and pages 25 at a time with `meta.total_pages`.
- A time entry is a "ticket timer": created with `POST /tickets/{id}/timer_entry`
  (start_at required; the answer is the bare timer), changed with
  `PUT /tickets/{id}/update_timer_entry`, deleted with `POST /tickets/{id}/delete_timer_entry`,
  listed with `GET /ticket_timers` (25 a page), made (non-)billable only with
  `PATCH /ticket_timers/{id}?billable=...`. `billable` in the create body is ignored.
- Errors come in several documented shapes: `{"error": ...}`, `{"errors": ...}`,
  `{"message": ...}`; each endpoint below uses the one Syncro documents for it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .core import KindSim, json_response

MARKER = re.compile(r"\[hd:[^\]]*\]")
# Syncro's own answer to a timer without start_at (a Ruby error, documented as the 422 example).
NO_START = "no implicit conversion of nil into String"


def syncro_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def whole_number(value: Any) -> int | None:
    """An id as Syncro's Rails params take it: an int, or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class SyncroSim(KindSim):
    kind = "syncro"
    api_root = "/api/v1"
    page_size: ClassVar[int] = 25
    subdomain = "simmsp"
    api_key = "T8c2f5e1a9b7d4c3e-sim"
    api_user_id = 1
    default_labor_product_id: ClassVar[int] = 1  # Syncro fills in the account's default labor
    billable_by_default: ClassVar[bool] = True  # "Time is Non-Billable by Default" unchecked
    # A field test found update_timer_entry changed notes but kept the old end time;
    # set this to play that Syncro.
    update_keeps_end_time: ClassVar[bool] = False

    def rules(self) -> list[Rule]:
        root = self.api_root
        tickets = f"{root}/tickets/<int:ticket_id>"
        return [
            Rule(f"{root}/me", endpoint="me", methods=["GET"]),
            Rule(f"{root}/tickets", endpoint="list_tickets", methods=["GET"]),
            Rule(f"{tickets}/timer_entry", endpoint="create_timer", methods=["POST"]),
            Rule(f"{tickets}/update_timer_entry", endpoint="update_timer", methods=["PUT"]),
            Rule(f"{tickets}/delete_timer_entry", endpoint="delete_timer", methods=["POST"]),
            Rule(f"{root}/ticket_timers", endpoint="list_timers", methods=["GET"]),
            Rule(
                f"{root}/ticket_timers/<int:timer_id>", endpoint="set_billable", methods=["PATCH"]
            ),
        ]

    def credentials(self) -> dict[str, str]:
        return {"api_key": self.api_key}

    def authenticate(self, request: Request) -> str | Response:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or token.strip() != self.api_key:
            return self.error(401, "Unauthorized: the API token is missing or not valid")
        return self.subdomain

    def error(self, status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def entry_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        notes = entry.get("notes") or ""
        found = MARKER.search(notes)
        summary = MARKER.sub("", notes).strip() if found else notes
        return {
            **entry,
            "ticket_id": int(entry["ticket_id"]),
            "marker": found.group(0) if found else "",
            "summary": summary,
            "member": entry.get("user_id"),
            "hours": round((entry.get("active_duration") or 0) / 3600, 4),
        }

    # --- helpers -----------------------------------------------------------------

    @staticmethod
    def not_found() -> Response:
        return json_response({"message": "Not found"}, 404)

    def page(self, request: Request, key: str, records: list[dict[str, Any]]) -> Response:
        page = max(1, whole_number(request.args.get("page")) or 1)
        total_pages = max(1, -(-len(records) // self.page_size))
        start = (page - 1) * self.page_size
        body = {key: records[start : start + self.page_size]}
        body["meta"] = {"total_pages": total_pages, "page": page}
        return json_response(body)

    @staticmethod
    def ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
        number = str(ticket["number"])
        return {
            "id": ticket["id"],
            "number": int(number) if number.isdigit() else number,
            "subject": ticket.get("subject", f"Ticket {number}"),
            "status": ticket.get("status", "New"),
            "customer_id": ticket.get("customer_id", 1),
        }

    def timer_of(self, ticket_id: int, data: dict[str, Any]) -> dict[str, Any] | None:
        timer_id = whole_number(data.get("timer_entry_id"))
        entry = self.state.entries.get(timer_id) if timer_id is not None else None
        return entry if entry and entry["ticket_id"] == ticket_id else None

    @staticmethod
    def set_times(entry: dict[str, Any], start: datetime, end: datetime) -> None:
        entry["start_time"] = syncro_time(start)
        entry["end_time"] = syncro_time(end)
        entry["active_duration"] = max(0, int((end - start).total_seconds()))
        entry["billable_time"] = entry["active_duration"]

    # --- endpoints ------------------------------------------------------------------

    def me(self, request: Request) -> Response:
        return json_response(
            {"user_id": self.api_user_id, "user_name": "API User", "subdomain": self.subdomain}
        )

    def list_tickets(self, request: Request) -> Response:
        number = request.args.get("number")
        with self.state.lock:
            if number is not None:
                ticket = self.state.ticket_by_number(number)
                tickets = [ticket] if ticket else []
            else:
                tickets = sorted(self.state.tickets.values(), key=lambda t: t["id"])
            return self.page(request, "tickets", [self.ticket_view(t) for t in tickets])

    def create_timer(self, request: Request, ticket_id: int) -> Response:
        data = request.get_json(silent=True) or {}
        if self.state.ticket(ticket_id) is None:
            return self.not_found()
        if "start_at" not in data or data["start_at"] is None:
            return json_response({"error": NO_START}, 422)
        start = parse_time(data["start_at"])
        if start is None:
            return json_response({"error": f"invalid start_at: {data['start_at']!r}"}, 422)
        end = start
        if data.get("end_at") is not None:
            end = parse_time(data["end_at"])
            if end is None or end < start:
                return json_response({"error": f"invalid end_at: {data['end_at']!r}"}, 422)
        elif data.get("duration_minutes") is not None:
            minutes = whole_number(data["duration_minutes"])
            if minutes is None:
                return json_response({"error": "duration_minutes must be a number"}, 422)
            end = start + timedelta(minutes=minutes)
        user_id = whole_number(data.get("user_id", self.api_user_id))
        product_id = data.get("product_id", self.default_labor_product_id)
        if user_id is None or whole_number(product_id) is None:
            return json_response({"error": "user_id and product_id must be ids"}, 422)
        now = syncro_time(datetime.now(UTC))
        with self.state.lock:
            entry = self.state.add_entry(
                ticket_id=ticket_id,
                user_id=user_id,
                recorded=False,
                created_at=now,
                updated_at=now,
                billable=self.billable_by_default,  # the body's billable, if any, is ignored
                notes=data.get("notes"),
                toggl_id=None,
                product_id=whole_number(product_id),
                comment_id=None,
                ticket_line_item_id=None,
                billable_override=None,
            )
            self.set_times(entry, start, end)
            return json_response(dict(entry))

    def update_timer(self, request: Request, ticket_id: int) -> Response:
        data = request.get_json(silent=True) or {}
        with self.state.lock:
            entry = self.timer_of(ticket_id, data)
            if entry is None:
                return self.not_found()
            start = parse_time(entry["start_time"])
            end = parse_time(entry["end_time"])
            if "start_at" in data:
                start = parse_time(data["start_at"])
                if start is None:
                    return json_response({"error": f"invalid start_at: {data['start_at']!r}"}, 422)
            minutes = whole_number(data.get("duration_minutes"))
            if not self.update_keeps_end_time:
                end = start + timedelta(minutes=minutes) if minutes is not None else end
            for field in ("user_id", "product_id"):
                if field in data:
                    entry[field] = whole_number(data[field])
            if "notes" in data:
                entry["notes"] = data["notes"]
            self.set_times(entry, start, max(start, end))
            entry["updated_at"] = syncro_time(datetime.now(UTC))
            return json_response(dict(entry))

    def delete_timer(self, request: Request, ticket_id: int) -> Response:
        data = request.get_json(silent=True) or {}
        with self.state.lock:
            entry = self.timer_of(ticket_id, data)
            if entry is None:
                return self.not_found()
            del self.state.entries[entry["id"]]
        return json_response({"success": True})

    def list_timers(self, request: Request) -> Response:
        ticket_id = whole_number(request.args.get("ticket_id"))
        with self.state.lock:
            timers = [
                dict(e)
                for e in sorted(self.state.entries.values(), key=lambda e: e["id"])
                if ticket_id is None or e["ticket_id"] == ticket_id
            ]
        return self.page(request, "ticket_timers", timers)

    def set_billable(self, request: Request, timer_id: int) -> Response:
        value = {"true": True, "false": False}.get(request.args.get("billable", "").lower())
        with self.state.lock:
            entry = self.state.entries.get(timer_id)
            if entry is None:
                return self.not_found()
            if value is None:
                return json_response({"errors": ["billable must be true or false"]}, 422)
            entry["billable"] = value
            entry["updated_at"] = syncro_time(datetime.now(UTC))
            return json_response({"ticket_timer": dict(entry)})
