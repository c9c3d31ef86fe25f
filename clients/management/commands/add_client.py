"""Create (or update) a client with its dedicated addresses from the command line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from clients.models import Client, DedicatedAddress, PsaKind, normalise_address, validate_timezone


class Command(BaseCommand):
    help = (
        "Add a client (MSP) and its dedicated addresses. Running it again for the same slug "
        "updates the name, adds addresses, and changes the time zone or PSA only when given."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--address", action="append", required=True, metavar="EMAIL", help="Repeatable."
        )
        parser.add_argument("--timezone", metavar="TZ", help="IANA name; default UTC.")
        parser.add_argument(
            "--psa",
            choices=PsaKind.values,
            metavar="KIND",
            help=f"One of {', '.join(PsaKind.values)}.",
        )

    def handle(self, *args, slug, name, address, timezone, psa, **options):
        try:
            if timezone:
                validate_timezone(timezone)
            addresses = [normalise_address(a) for a in address]
            for a in addresses:
                validate_email(a)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        with transaction.atomic():
            given = {"timezone": timezone, "psa_kind": psa}
            client, created = Client.objects.update_or_create(
                slug=slug,
                defaults={"name": name, **{k: v for k, v in given.items() if v}},
            )
            for a in addresses:
                owner = DedicatedAddress.objects.filter(address=a).exclude(client=client).first()
                if owner:
                    raise CommandError(f"{a} already belongs to client {owner.client.slug}.")
                DedicatedAddress.objects.get_or_create(client=client, address=a)
        verb = "Created" if created else "Updated"
        all_addresses = ", ".join(
            client.addresses.order_by("address").values_list("address", flat=True)
        )
        self.stdout.write(
            f"{verb} client {client.slug} ({client.name}, {client.timezone}, "
            f"PSA {client.psa_kind}): {all_addresses}"
        )
