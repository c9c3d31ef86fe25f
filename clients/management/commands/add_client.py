"""Create (or update) a client with its dedicated addresses from the command line."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email
from django.db import transaction

from clients.models import Client, DedicatedAddress, PsaKind, normalise_address, validate_timezone


class Command(BaseCommand):
    help = "Add a client (MSP) and its dedicated addresses; running it again updates them."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--address", action="append", required=True, metavar="EMAIL")
        parser.add_argument("--timezone", default="UTC", metavar="TZ")
        parser.add_argument("--psa", default=PsaKind.NONE, choices=PsaKind.values, metavar="KIND")

    def handle(self, *args, slug, name, address, timezone, psa, **options):
        try:
            validate_timezone(timezone)
            addresses = [normalise_address(a) for a in address]
            for a in addresses:
                validate_email(a)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        with transaction.atomic():
            client, created = Client.objects.update_or_create(
                slug=slug, defaults={"name": name, "timezone": timezone, "psa_kind": psa}
            )
            for a in addresses:
                owner = DedicatedAddress.objects.filter(address=a).exclude(client=client).first()
                if owner:
                    raise CommandError(f"{a} already belongs to client {owner.client.slug}.")
                DedicatedAddress.objects.get_or_create(client=client, address=a)
        verb = "Created" if created else "Updated"
        self.stdout.write(f"{verb} client {client.slug} ({client.name}): {', '.join(addresses)}")
