"""Re-encrypt every PSA credential with the first key of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from psasync.encryption import CredentialsUnreadable
from psasync.models import PsaConnection


class Command(BaseCommand):
    help = (
        "After putting a new key first in FIELD_ENCRYPTION_KEYS, re-encrypt every stored "
        "credential with it; then the old key can be removed."
    )

    def handle(self, *args, **options):
        unreadable = []
        count = 0
        with transaction.atomic():
            for connection in PsaConnection.objects.select_for_update().select_related("client"):
                try:
                    connection.credentials = connection.credentials.rotated()
                except CredentialsUnreadable:
                    unreadable.append(connection.client.slug)
                    continue
                connection.save(update_fields=["credentials"])
                count += 1
        self.stdout.write(f"re-encrypted {count} connection(s)")
        if unreadable:
            raise CommandError(
                "no key opens the credentials of: " + ", ".join(unreadable) + " (enter them again)"
            )
