"""Syncro (SyncroMSP) REST API v1: time entries are "ticket timers".

Facts, sources and trade-offs: docs/psa/syncro.md. In short:
- base_url is `https://<subdomain>.syncromsp.com/api/v1`; the API key goes in
  `Authorization: Bearer <key>`. Syncro allows 180 requests a minute per IP address.
- The MSP's ticket number is `number`; the API addresses tickets by `id`.
- A timer has no field the customer never sees. Its only free text is `notes`, so the
  notes are the summary with our marker on a last line of its own (the least visible
  real option; Syncro shows notes in the staff Labor Log and time reports).
- `billable` is not part of the create body (Syncro ignores it there); it is set with
  `PATCH /ticket_timers/{id}?billable=...` only when Syncro's default differs.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

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


def syncro_id(value: str, what: str) -> int:
    """Syncro ids are whole numbers; anything else is a configuration mistake."""
    text = str(value).strip()
    if not text.isdigit():
        raise PermanentError(f"Syncro {what} must be a number, not {value!r}")
    return int(text)


def timer_notes(payload: TimePayload) -> str:
    """The summary as the customer-visible text, the marker alone on the last line."""
    return f"{payload.summary}\n\n{payload.marker}" if payload.summary else payload.marker


def error_words(value: Any) -> str:
    """Syncro's error values are strings, lists of strings, or {field: [messages]}."""
    if isinstance(value, dict):
        return "; ".join(f"{key}: {error_words(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(error_words(item) for item in value)
    return str(value)


class SyncroConnector(Connector):
    kind = "syncro"
    label = "Syncro"
    credential_fields = ("api_key",)

    # --- HTTP -----------------------------------------------------------------------

    def api_url(self, path: str) -> str:
        """The absolute URL of an API path such as "/tickets"."""
        return self.config.base_url.rstrip("/") + path

    def auth_headers(self) -> dict[str, str]:
        """What every Syncro request carries: the API key as a bearer token."""
        return {
            "Authorization": f"Bearer {self.config.credentials['api_key']}",
            "Accept": "application/json",
        }

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One API request through `request()`; returns the JSON body (None if empty)."""
        response = self.request(method, self.api_url(path), headers=self.auth_headers(), **kwargs)
        return response.json() if response.content.strip() else None

    def error_message(self, response: httpx.Response) -> str:
        """Syncro answers errors as {"error": ...}, {"errors": ...} or {"message": ...}."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if isinstance(body, dict):
            words = [
                error_words(body[key]) for key in ("error", "errors", "message") if body.get(key)
            ]
            if words:
                return "; ".join(words)[:500]
        return super().error_message(response)

    def pages(self, path: str, key: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every record of a paged list, page by page, as far as meta.total_pages says."""
        page = 1
        while True:
            body = self.call("GET", path, params={**params, "page": page}) or {}
            records = body.get(key) or []
            yield from records
            total = (body.get("meta") or {}).get("total_pages") or 1
            if not records or page >= int(total):
                return
            page += 1

    # --- the operations -----------------------------------------------------------------

    def check_auth(self) -> Check:
        """GET /me: the cheapest request that proves the key works."""
        try:
            me = self.call("GET", "/me") or {}
        except PsaError as exc:
            return Check("authenticate", False, exc.message)
        return Check("authenticate", True, str(me.get("user_name") or ""))

    def find_ticket(self, number: str) -> str:
        """The ticket's id from its number (MSPs often write it "#1234")."""
        wanted = number.strip().lstrip("#").strip()
        if wanted:
            for ticket in self.pages("/tickets", "tickets", {"number": wanted}):
                if str(ticket.get("number")) == wanted:
                    return str(ticket["id"])
        raise TicketNotFound(f"Syncro has no ticket number {number!r}")

    def add_time(self, ticket_id: str, payload: TimePayload) -> RemoteEntry:
        """POST /tickets/{id}/timer_entry, then the billable flag if Syncro's default differs."""
        body: dict[str, Any] = {
            "start_at": utc_iso(payload.started_at),
            "end_at": utc_iso(payload.ended_at),
            "notes": timer_notes(payload),
        }
        body.update(self.optional_ids(payload))
        path = f"/tickets/{syncro_id(ticket_id, 'ticket id')}/timer_entry"
        timer = self.call("POST", path, json=body)
        if not isinstance(timer, dict) or not timer.get("id"):
            raise RetryableError("Syncro answered without a timer id", maybe_applied=True)
        entry = RemoteEntry(str(timer["id"]), sent=body)
        try:
            self.match_billable(timer, payload.billable)
        except PsaError as exc:
            # The timer exists: the next attempt must find it by marker, not create another.
            raise RetryableError(
                f"Syncro created timer {entry.id} but billable was not set: {exc.message}",
                status=exc.status,
                maybe_applied=True,
            ) from exc
        return entry

    def find_by_marker(self, ticket_id: str, marker: str) -> RemoteEntry | None:
        """Our timer on that ticket: the one whose notes carry the marker."""
        wanted = syncro_id(ticket_id, "ticket id")
        for timer in self.pages("/ticket_timers", "ticket_timers", {"ticket_id": wanted}):
            # Checked here too: an older Syncro ignores the ticket_id filter.
            if timer.get("ticket_id") == wanted and marker in (timer.get("notes") or ""):
                return RemoteEntry(str(timer["id"]))
        return None

    def update_time(self, ticket_id: str, remote_id: str, payload: TimePayload) -> RemoteEntry:
        """PUT /tickets/{id}/update_timer_entry; Syncro takes a start and a duration here."""
        minutes = round((payload.ended_at - payload.started_at).total_seconds() / 60)
        body: dict[str, Any] = {
            "timer_entry_id": syncro_id(remote_id, "timer id"),
            "start_at": utc_iso(payload.started_at),
            "duration_minutes": minutes,
            "notes": timer_notes(payload),
        }
        body.update(self.optional_ids(payload))
        path = f"/tickets/{syncro_id(ticket_id, 'ticket id')}/update_timer_entry"
        timer = self.call("PUT", path, json=body) or {}
        self.check_end_time(timer, payload.started_at + timedelta(minutes=minutes))
        try:
            self.match_billable(timer, payload.billable)
        except PsaError as exc:
            raise RetryableError(
                f"Syncro updated timer {remote_id} but billable was not set: {exc.message}",
                status=exc.status,
            ) from exc
        return RemoteEntry(remote_id, sent=body)

    def delete_time(self, ticket_id: str, remote_id: str) -> None:
        """POST /tickets/{id}/delete_timer_entry; a 404 means it is already gone."""
        body = {"timer_entry_id": syncro_id(remote_id, "timer id")}
        path = f"/tickets/{syncro_id(ticket_id, 'ticket id')}/delete_timer_entry"
        try:
            self.call("POST", path, json=body)
        except PermanentError as exc:
            if exc.status != 404:
                raise

    # --- details ----------------------------------------------------------------------

    @staticmethod
    def optional_ids(payload: TimePayload) -> dict[str, int]:
        """user_id and the labor product (work_type), only when configured: Syncro
        otherwise uses the API key's own user and the account's default labor."""
        ids = {}
        if payload.member.strip():
            ids["user_id"] = syncro_id(payload.member, "user id (member)")
        if payload.work_type.strip():
            ids["product_id"] = syncro_id(payload.work_type, "labor product id (work type)")
        return ids

    def match_billable(self, timer: dict[str, Any], billable: bool) -> None:
        """Set the timer's billable flag when Syncro's default gave the other value."""
        if timer.get("billable") is None or bool(timer["billable"]) == billable:
            return
        flag = "true" if billable else "false"
        self.call("PATCH", f"/ticket_timers/{timer['id']}", params={"billable": flag})

    @staticmethod
    def check_end_time(timer: dict[str, Any], expected: datetime) -> None:
        """Syncro has been seen to keep the old end time on update; say so, not succeed."""
        raw = timer.get("end_time")
        if not isinstance(raw, str):
            return
        try:
            end = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return
        if abs((end - expected).total_seconds()) >= 60:
            raise PermanentError(
                f"Syncro kept end time {raw} on timer {timer.get('id')} (expected "
                f"{utc_iso(expected)}); correct its duration in Syncro's Labor Log"
            )
