"""Queue write-backs left waiting (what `make cron` runs every minute)."""

from django.core.management.base import BaseCommand

from psasync.sweeper import requeue_stale_writebacks


class Command(BaseCommand):
    help = "Re-queue overdue pending write-backs and recover those abandoned mid-send."

    def add_arguments(self, parser):
        parser.add_argument("--grace", type=float, default=120.0, help="Seconds overdue.")

    def handle(self, *args, grace, **options):
        queued = requeue_stale_writebacks(grace_seconds=grace)
        self.stdout.write(f"queued {queued} write-back(s)")
