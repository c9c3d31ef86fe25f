"""HaloPSA's REST API, as far as time write-back uses it.

What it answers like Halo (docs/psa/halopsa.md has the sources):
- `POST /auth/token` (form: grant_type=client_credentials, client_id, client_secret,
  scope; `?tenant=` for a hosted tenant) grants a bearer token with `expires_in`;
  bad client credentials get 401 `{"error": "invalid_client"}`.
- Every `/api/...` call needs `Authorization: Bearer <token>`; a token unknown or
  expired gets a bare 401 with `WWW-Authenticate: Bearer`.
- Tickets by id (`GET /api/Tickets/{id}`; the number the MSP sees is the id).
- Actions: `POST /api/Actions` takes an array (or one object); an item with an `id`
  updates that action. An action needs an outcome ("An Outcome must be entered for
  this Action"). `GET /api/Actions?ticket_id=` lists them as
  `{"record_count", "actions"}`, a page at a time with `pageinate`, `page_size` and
  `page_no`. `DELETE /api/Actions/{id}?ticket_id=` removes one.
- Errors as a JSON string holding the message; the rate limit (300 requests per
  rolling 5 minutes on hosted Halo) as 429 with `{"error": "Rate Limit Reached ..."}`.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any, ClassVar

from werkzeug.routing import Rule
from werkzeug.wrappers import Request, Response

from .core import KindSim, json_response

MARKER = re.compile(r"\[hd:[^\]]*\]")
RATE_LIMIT_MESSAGE = "Rate Limit Reached - 300 Requests per rolling 5 minute window"
OUTCOMES = {7: "Private Note"}  # Halo's built-in private note; others are named "Outcome <id>"
# What an action stores of a request: Halo's own field names.
ACTION_FIELDS = (
    "ticket_id",
    "outcome",
    "outcome_id",
    "who_agentid",
    "note",
    "hiddenfromuser",
    "timetaken",
    "actisbillable",
    "actionarrivaldate",
    "actioncompletiondate",
    "actiondatecreated",
    "chargerate",
)


class Invalid(ValueError):
    """A request Halo refuses; the message is Halo's."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def whole_number(value: Any) -> int | None:
    """An int from an int or a string of digits (Halo takes both), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


class HaloPsaSim(KindSim):
    kind = "halopsa"
    api_root = ""  # the connector's base URL is the Halo instance; the API is under /api
    token_lifetime: ClassVar[int] = 3600
    default_page_size: ClassVar[int] = 50

    client_id = "3f6a9c1e-52b7-4d0e-8a41-sim-halo-app"
    client_secret = "sim-halo-secret-7d2c41e8b9a04f63"
    tenant = "simmsp"

    def __init__(self, state: Any) -> None:
        super().__init__(state)
        self.tokens: dict[str, tuple[str, float]] = {}
        self.send_retry_after = True  # Halo's own 429 is not known to carry one

    def rules(self) -> list[Rule]:
        return [
            Rule("/auth/token", endpoint="token", methods=["POST"]),
            Rule("/api/Tickets", endpoint="list_tickets", methods=["GET"]),
            Rule("/api/Tickets/<int:ticket_id>", endpoint="get_ticket", methods=["GET"]),
            Rule("/api/Actions", endpoint="list_actions", methods=["GET"]),
            Rule("/api/Actions", endpoint="save_actions", methods=["POST"]),
            Rule("/api/Actions/<int:action_id>", endpoint="get_action", methods=["GET"]),
            Rule("/api/Actions/<int:action_id>", endpoint="delete_action", methods=["DELETE"]),
        ]

    def credentials(self) -> dict[str, str]:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "tenant": self.tenant,
        }

    def authenticate(self, request: Request) -> str | Response:
        if request.path == "/auth/token":
            return self._client(request)
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        tenant, expires = self.tokens.get(token.strip(), ("", 0.0))
        if scheme.lower() != "bearer" or not tenant or expires <= time.monotonic():
            return Response(
                status=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return tenant

    def _client(self, request: Request) -> str | Response:
        """The tenant a token request is for, or the OAuth error Halo's auth server gives."""
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return json_response({"error": "unsupported_grant_type"}, 400)
        tenant = request.args.get("tenant")
        if (
            form.get("client_id") != self.client_id
            or form.get("client_secret") != self.client_secret
            or (tenant is not None and tenant != self.tenant)
        ):
            return json_response({"error": "invalid_client"}, 401)
        return self.tenant

    def revoke_tokens(self) -> None:
        """Forget every token granted, as a restart or a revoked application would."""
        self.tokens.clear()

    def error(self, status: int, message: str) -> Response:
        return json_response(message, status)

    def too_many_requests(self, retry_after: int) -> Response:
        response = json_response({"error": RATE_LIMIT_MESSAGE}, 429)
        if self.send_retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def entry_view(self, entry: dict[str, Any]) -> dict[str, Any]:
        """An action as tests read it: the marker counts only where the end user cannot see
        it (a hidden action); `summary` is the note without the marker."""
        note = entry.get("note") or ""
        found = MARKER.search(note)
        hidden = bool(entry.get("hiddenfromuser"))
        summary = MARKER.sub("", note).strip() if found else note
        return {
            **entry,
            "ticket_id": int(entry.get("ticket_id") or 0),
            "marker": found.group(0) if found and hidden else "",
            "summary": summary,
            "visible_to_customer": not hidden,
            "member": str(entry.get("who_agentid") or ""),
            "hours": float(entry.get("timetaken") or 0.0),
        }

    # --- auth ---------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        access = secrets.token_urlsafe(24)
        self.tokens[access] = (self.tenant, time.monotonic() + self.token_lifetime)
        return json_response(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": self.token_lifetime,
                "scope": request.form.get("scope", "all"),
            }
        )

    # --- tickets ------------------------------------------------------------------------

    @staticmethod
    def _ticket_view(ticket: dict[str, Any]) -> dict[str, Any]:
        return {"id": int(ticket["number"]), "summary": ticket.get("summary", "")}

    def _ticket(self, ticket_id: int) -> dict[str, Any] | None:
        with self.state.lock:
            for ticket in self.state.tickets.values():
                number = str(ticket["number"])
                if number.isdigit() and int(number) == ticket_id:
                    return self._ticket_view(ticket)
            created = self.state.ticket_by_number(str(ticket_id))  # demo mode (auto_tickets)
            return self._ticket_view(created) if created else None

    def list_tickets(self, request: Request) -> Response:
        with self.state.lock:
            tickets = [
                self._ticket_view(t)
                for t in self.state.tickets.values()
                if str(t["number"]).isdigit()
            ]
        count = whole_number(request.args.get("count"))
        return json_response(
            {"record_count": len(tickets), "tickets": tickets[:count] if count else tickets}
        )

    def get_ticket(self, request: Request, ticket_id: int) -> Response:
        ticket = self._ticket(ticket_id)
        if ticket is None:
            return self.error(404, f"Ticket {ticket_id} not found.")
        return json_response(ticket)

    # --- actions ------------------------------------------------------------------------

    def _actions_of(self, ticket_id: int) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                dict(a)
                for a in sorted(self.state.entries.values(), key=lambda a: a["id"])
                if a.get("ticket_id") == ticket_id
            ]

    def list_actions(self, request: Request) -> Response:
        ticket_id = whole_number(request.args.get("ticket_id"))
        if ticket_id is None:
            return self.error(400, "A ticket_id is required to list actions.")
        actions = self._actions_of(ticket_id)
        body: dict[str, Any] = {"record_count": len(actions)}
        if request.args.get("pageinate", "").lower() == "true":
            size = whole_number(request.args.get("page_size")) or self.default_page_size
            page = whole_number(request.args.get("page_no")) or 1
            body.update(page_no=page, page_size=size)
            actions = actions[(page - 1) * size : page * size]
        elif count := whole_number(request.args.get("count")):
            actions = actions[:count]
        body["actions"] = actions
        return json_response(body)

    def get_action(self, request: Request, action_id: int) -> Response:
        action = self.state.entries.get(action_id)
        wanted = whole_number(request.args.get("ticket_id"))
        if action is None or (wanted is not None and action.get("ticket_id") != wanted):
            return self.error(404, f"Action {action_id} not found.")
        return json_response(action)

    def save_actions(self, request: Request) -> Response:
        body = request.get_json(silent=True)
        items = [body] if isinstance(body, dict) else body
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            return self.error(400, "The request body must be an array of actions.")
        try:
            with self.state.lock:
                checked = [self._checked(item) for item in items]  # all or nothing
                saved = [self._save(action_id, fields) for action_id, fields in checked]
        except Invalid as exc:
            return self.error(exc.status, str(exc))
        return json_response(saved[-1], 201)

    def _checked(self, item: dict[str, Any]) -> tuple[int | None, dict[str, Any]]:
        """(the id to update or None, the fields to store), or Invalid as Halo words it."""
        ticket_id = whole_number(item.get("ticket_id"))
        if ticket_id is None or self._ticket(ticket_id) is None:
            raise Invalid(f"Ticket {item.get('ticket_id')!r} could not be found.")
        action_id = whole_number(item.get("id")) or None
        current = self.state.entries.get(action_id) if action_id else None
        if action_id and (current is None or current.get("ticket_id") != ticket_id):
            raise Invalid(f"Action {action_id} not found.", status=404)
        outcome_id = whole_number(item.get("outcome_id"))
        outcome = str(item.get("outcome") or "").strip()
        if not outcome_id and not outcome and not (current and current.get("outcome")):
            raise Invalid("An Outcome must be entered for this Action")
        timetaken = item.get("timetaken", 0)
        if isinstance(timetaken, bool) or not isinstance(timetaken, int | float) or timetaken < 0:
            raise Invalid("timetaken must be a number of hours.")
        fields = {k: item[k] for k in ACTION_FIELDS if k in item}
        fields["ticket_id"] = ticket_id
        if outcome_id:
            fields["outcome_id"] = outcome_id
            fields["outcome"] = outcome or OUTCOMES.get(outcome_id, f"Outcome {outcome_id}")
        if action_id is None:
            fields.setdefault("hiddenfromuser", False)  # Halo's default: the user sees it
        return action_id, fields

    def _save(self, action_id: int | None, fields: dict[str, Any]) -> dict[str, Any]:
        if action_id is None:
            return dict(self.state.add_entry(**fields))
        self.state.entries[action_id].update(fields)
        return dict(self.state.entries[action_id])

    def delete_action(self, request: Request, action_id: int) -> Response:
        wanted = whole_number(request.args.get("ticket_id"))
        with self.state.lock:
            action = self.state.entries.get(action_id)
            if action is None or (wanted is not None and action.get("ticket_id") != wanted):
                return self.error(404, f"Action {action_id} not found.")
            del self.state.entries[action_id]
        return Response(status=200)
