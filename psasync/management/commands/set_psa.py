"""Connect a client to its PSA from the command line (what the admin's form does)."""

import json
import sys
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from clients.models import Client
from psasync.connectors import CONNECTORS, connector_class
from psasync.models import MemberMapping, PsaConnection
from tickets.models import Agent


class Command(BaseCommand):
    help = (
        "Set a client's PSA connection: kind, URL and credentials (a JSON file holding that "
        "PSA's credential fields; - reads standard input). Agents map with --member."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--kind", required=True, choices=list(CONNECTORS))
        parser.add_argument("--url", required=True, help="The PSA's API base URL.")
        parser.add_argument("--credentials", required=True, metavar="FILE.json")
        parser.add_argument(
            "--member",
            action="append",
            default=[],
            metavar="USERNAME=MEMBER",
            help="Our agent's username = their member/resource id in the PSA. Repeatable.",
        )
        parser.add_argument("--work-type", default=None)
        parser.add_argument("--role", default=None)
        parser.add_argument("--billing-code", default=None)
        parser.add_argument("--disabled", action="store_true", help="Write-backs wait.")

    def handle(self, *args, slug, kind, url, credentials, member, **o):
        client = Client.objects.filter(slug=slug).first()
        if client is None:
            raise CommandError(f"No client {slug!r} (see add_client).")
        creds = self._read(credentials)
        missing = [f for f in connector_class(kind).credential_fields if not creds.get(f)]
        if missing:
            raise CommandError(
                f"{credentials} lacks {kind} credential field(s): {', '.join(missing)}"
            )
        members = []
        for pair in member:
            username, sep, remote = pair.partition("=")
            agent = Agent.objects.filter(user__username=username.strip()).first()
            if not sep or not remote.strip() or agent is None:
                raise CommandError(
                    f"--member {pair!r}: write USERNAME=MEMBER for an existing agent."
                )
            members.append((agent, remote.strip()))
        with transaction.atomic():
            connection = PsaConnection.objects.filter(client=client).first() or PsaConnection(
                client=client
            )
            connection.kind = kind
            connection.base_url = url
            connection.credentials = creds
            connection.enabled = not o["disabled"]
            for field in ("work_type", "role", "billing_code"):
                if o[field] is not None:
                    setattr(connection, field, o[field])
            if client.psa_kind != kind:
                client.psa_kind = kind
                client.save(update_fields=["psa_kind"])
            try:
                connection.full_clean(exclude=["client"])
            except ValidationError as exc:
                raise CommandError(" ".join(exc.messages)) from exc
            connection.save()
            for agent, remote in members:
                MemberMapping.objects.update_or_create(
                    connection=connection, agent=agent, defaults={"member": remote}
                )
        mapped = ", ".join(
            f"{m.agent.user.username}={m.member}"
            for m in connection.members.select_related("agent__user")
        )
        self.stdout.write(
            f"{client.slug}: {kind} at {url}, credentials {', '.join(sorted(creds))} (encrypted),"
            f" {'enabled' if connection.enabled else 'disabled'}; members: {mapped or 'none'}"
        )

    @staticmethod
    def _read(path: str) -> dict:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
            data = json.loads(text)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise CommandError(
                f'{path} must hold an object of text fields, e.g. {{"api_key": "..."}}'
            )
        return data
