from django.core.management.base import BaseCommand

from tickets.intake.sweeper import GRACE, requeue_stale_inbound


class Command(BaseCommand):
    help = "Schedule processing again for stored mails that were never processed."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace", type=float, default=GRACE.total_seconds(), help="Seconds a mail may wait."
        )

    def handle(self, *args, grace, **options):
        count = requeue_stale_inbound(grace)
        self.stdout.write(f"Re-scheduled {count} mail(s).")
