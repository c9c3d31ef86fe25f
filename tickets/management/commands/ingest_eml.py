"""Run mail files through exactly the intake the webhooks use; one JSON line per mail."""

import json
import os
import sys

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from desklib.mailfiles import iter_file, mail_files
from tickets.intake.pipeline import process_inbound
from tickets.intake.store import store_raw_mail

PROGRESS_FROM = 5


class Command(BaseCommand):
    help = (
        "Ingest .eml files, folders or mbox files through the intake pipeline. Prints one JSON "
        'object per mail: {"source", "outcome", "ticket", "client", "reason"}.'
    )

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH")
        parser.add_argument(
            "--to",
            default="",
            metavar="ADDRESS",
            help="The envelope recipient, as a provider reports it.",
        )

    def handle(self, *args, paths, to, **options):
        missing = [p for p in paths if not os.path.exists(p)]
        if missing:
            raise CommandError(f"No such file or folder: {', '.join(missing)}")
        files = mail_files(paths)
        failed = 0
        bar = tqdm(files, file=sys.stderr, unit="file", disable=len(files) <= PROGRESS_FROM)
        for file in bar:  # one file in memory at a time
            for source, raw in iter_file(file):
                inbound = store_raw_mail(raw, provider="cli", envelope_recipient=to)
                result = process_inbound(inbound)
                failed += result.outcome == "failed"
                line = {"source": source, **result.as_dict()}
                self.stdout.write(json.dumps(line, ensure_ascii=False))
        if failed:
            raise CommandError(
                f"{failed} mail(s) failed; they are kept for reprocessing in the admin."
            )
