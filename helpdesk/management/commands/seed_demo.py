"""Demo data for a newcomer: clients, addresses, rules, an SDM, agents, a portal user.

Idempotent: running it again changes nothing that is already there (passwords
included), and prints the logins each time.
"""

import re
from datetime import time

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.db import transaction

from clients.models import (
    BusinessCalendar,
    Client,
    DedicatedAddress,
    IntakeRule,
    Level,
    PortalMembership,
    PsaKind,
    SlaPolicy,
    SlaTarget,
)
from tickets.models import Agent, Presence, Skill, Team
from tickets.roles import AGENT_GROUP, SDM_GROUP

# (username, password, groups, is_staff)
DEMO_USERS = [
    ("sdm", "demo-sdm-2026", [SDM_GROUP], True),
    ("agent.alex", "demo-agent-2026", [AGENT_GROUP], False),
    ("agent.sam", "demo-agent-2026", [AGENT_GROUP], False),
    ("acme.portal", "demo-portal-2026", [], False),
]
DEMO_CLIENTS = [
    {
        "slug": "acme",
        "name": "Acme IT Services",
        "timezone": "Europe/London",
        "psa_kind": PsaKind.CONNECTWISE,
        "addresses": ["acme@in.ourdesk.example"],
    },
    {
        "slug": "northwind",
        "name": "Northwind MSP",
        "timezone": "America/New_York",
        "psa_kind": PsaKind.AUTOTASK,
        "addresses": ["northwind@in.ourdesk.example"],
    },
    {
        "slug": "globex",
        "name": "Globex Managed Services",
        "timezone": "Australia/Sydney",
        "psa_kind": PsaKind.HALOPSA,
        "addresses": ["globex@in.ourdesk.example", "globex-alerts@in.ourdesk.example"],
    },
]
DEMO_RULES = {
    "acme": [
        {
            "name": "Failed backups are urgent",
            "subject_pattern": r"backup.*(fail|error)",
            "set_impact": Level.HIGH,
            "set_urgency": Level.HIGH,
            "set_category": "Backup",
        },
        {
            "name": "Vendor newsletters are not work",
            "sender_pattern": r"newsletter@|marketing@",
            "suppress": True,
        },
    ],
    "northwind": [
        {
            "name": "Night-time server alerts are high impact",
            "subject_pattern": r"^(Problem|Resolved)",
            "window_start": time(20, 0),
            "window_end": time(7, 0),
            "set_impact": Level.HIGH,
            "set_category": "Monitoring",
        },
    ],
    "globex": [
        {
            "name": "Veeam job reports fold per job",
            "sender_pattern": r"veeam@",
            "treat_as_alert": True,
            "fingerprint_pattern": r"\[(?:Failed|Warning|Success)\]\s+(.+?)\s*\(",
        },
    ],
}
SDM_MODELS = [
    ("clients", ["client", "dedicatedaddress", "intakerule", "portalmembership",
                 "businesscalendar", "businesshours", "calendarexception", "slapolicy",
                 "slatarget"]),
    ("tickets", ["ticket", "message", "attachment", "ticketevent", "inboundmail",
                 "prioritymatrixcell", "agent", "team", "skill", "timeentry", "internalnote"]),
    ("psasync", ["psaconnection", "membermapping", "writeback", "attempt"]),
]  # fmt: skip
# Each demo agent as the simulated PSAs know them (CW member identifier; numeric ids).
DEMO_MEMBERS = {
    "connectwise": {"agent.alex": "alex", "agent.sam": "sam"},
    "autotask": {"agent.alex": "29682885", "agent.sam": "29682886"},
    "halopsa": {"agent.alex": "3", "agent.sam": "4"},
    "syncro": {"agent.alex": "1201", "agent.sam": "1202"},
}
DEMO_ROLES = {"autotask": "29683102"}  # Autotask needs a role on every ticket time entry
# Per client: (holiday country, subdivision, weekly windows or None for 24x7 SLA time,
# {priority: (first response minutes, resolution minutes)})
OFFICE = [(d, time(9), time(17, 30)) for d in range(5)]
TARGETS = {"P1": (15, 240), "P2": (30, 480), "P3": (120, 1440), "P4": (480, 2880)}
DEMO_SLAS = {
    "acme": ("GB", "ENG", OFFICE, TARGETS),
    "northwind": ("US", "NY", None, {**TARGETS, "P1": (15, 120)}),
    "globex": ("AU", "NSW", [(d, time(8), time(18)) for d in range(5)], TARGETS),
}


class Command(BaseCommand):
    help = "Create demo clients, addresses, rules and users (idempotent); print the logins."

    def add_arguments(self, parser):
        parser.add_argument(
            "--psa-url",
            default="http://127.0.0.1:8765",
            help="Where `psa_simulator --kind all` listens (make run starts it there).",
        )

    @transaction.atomic
    def handle(self, *args, psa_url, **options):
        self._groups()
        users = self._users()
        for spec in DEMO_CLIENTS:
            client = self._client(spec)
            self._rules(client, DEMO_RULES.get(client.slug, []))
            self._sla(client, *DEMO_SLAS[client.slug])
        PortalMembership.objects.get_or_create(
            client=Client.objects.get(slug="acme"), user=users["acme.portal"]
        )
        self._team(users)
        for spec in DEMO_CLIENTS:
            self._psa(Client.objects.get(slug=spec["slug"]), psa_url.rstrip("/"))
        self.stdout.write(self.style.SUCCESS("Demo data is in place."))
        self.stdout.write(
            "Logins: the SDM at /admin/, agents at /desk/ (the MSP portal comes later):"
        )
        for username, password, groups, _ in DEMO_USERS:
            role = groups[0] if groups else "MSP portal (Acme)"
            self.stdout.write(f"  {username:<12} {password:<18} {role}")

    def _groups(self) -> Group:
        sdm, _ = Group.objects.get_or_create(name=SDM_GROUP)
        Group.objects.get_or_create(name=AGENT_GROUP)
        perms = Permission.objects.filter(
            content_type__app_label__in=[app for app, _ in SDM_MODELS],
            content_type__model__in=[m for _, models in SDM_MODELS for m in models],
        )
        sdm.permissions.add(*perms)
        return sdm

    def _users(self) -> dict:
        User = get_user_model()
        users = {}
        for username, password, groups, is_staff in DEMO_USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"is_staff": is_staff, "email": f"{username}@ourdesk.example"},
            )
            if created:
                user.set_password(password)
                user.save()
            user.groups.add(*Group.objects.filter(name__in=groups))
            users[username] = user
        return users

    def _client(self, spec: dict) -> Client:
        client, _ = Client.objects.get_or_create(
            slug=spec["slug"],
            defaults={k: spec[k] for k in ("name", "timezone", "psa_kind")},
        )
        for address in spec["addresses"]:
            DedicatedAddress.objects.get_or_create(address=address, defaults={"client": client})
        return client

    def _psa(self, client: Client, psa_url: str) -> None:
        """Each demo client writes time back to the local PSA simulator (make run)."""
        from psasync.models import MemberMapping, PsaConnection
        from psasync.simulator import Simulator

        kind = client.psa_kind
        if kind not in DEMO_MEMBERS:
            return
        sim = Simulator(kind)
        base_url = f"{psa_url}/{kind}{sim.sim.api_root}"
        existing = PsaConnection.objects.filter(client=client).first()
        if existing is not None:
            # Follow the simulator to another port (make run PSA_SIM_PORT=...), but an
            # SDM's own settings (anything but a local simulator) win over the demo's.
            local_sim = rf"http://(127\.0\.0\.1|localhost):\d+/{kind}{re.escape(sim.sim.api_root)}"
            if existing.base_url != base_url and re.fullmatch(local_sim, existing.base_url):
                existing.base_url = base_url
                existing.save(update_fields=["base_url"])
            return
        connection = PsaConnection.objects.create(
            client=client,
            kind=kind,
            base_url=base_url,
            credentials=sim.credentials(),
            role=DEMO_ROLES.get(kind, ""),
            timeout_seconds=5,
        )
        for agent in Agent.objects.filter(user__username__in=DEMO_MEMBERS[kind]):
            MemberMapping.objects.create(
                connection=connection,
                agent=agent,
                member=DEMO_MEMBERS[kind][agent.user.username],
            )

    def _team(self, users: dict) -> None:
        """One night-shift team serving every demo client; the two agents in it."""
        team, _ = Team.objects.get_or_create(name="Night shift")
        team.clients.add(*Client.objects.filter(slug__in=[c["slug"] for c in DEMO_CLIENTS]))
        Skill.objects.get_or_create(name="Backup")
        for username in ("agent.alex", "agent.sam"):
            agent, _ = Agent.objects.get_or_create(
                user=users[username], defaults={"presence": Presence.AVAILABLE}
            )
            agent.teams.add(team)

    def _sla(self, client: Client, country, subdiv, hours, targets) -> None:
        calendar, created = BusinessCalendar.objects.get_or_create(
            client=client, defaults={"holiday_country": country, "holiday_subdivision": subdiv}
        )
        if created:
            for weekday, opens, closes in hours or []:
                calendar.hours.create(weekday=weekday, opens=opens, closes=closes)
        policy, _ = SlaPolicy.objects.get_or_create(
            client=client, defaults={"business_hours_only": hours is not None}
        )
        for priority, (respond, resolve) in targets.items():
            SlaTarget.objects.get_or_create(
                policy=policy,
                priority=priority,
                defaults={"first_response_minutes": respond, "resolution_minutes": resolve},
            )

    def _rules(self, client: Client, rules: list[dict]) -> None:
        for position, rule in enumerate(rules, start=1):
            IntakeRule.objects.get_or_create(
                client=client, name=rule["name"], defaults={"position": position * 10, **rule}
            )
