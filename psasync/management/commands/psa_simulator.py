"""Serve the local PSA simulator: one kind at the root, or several under /<kind>."""

import contextlib
import json
import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from psasync.simulator.core import KINDS, Faults, Limits, Simulator, serve_many


class Command(BaseCommand):
    help = (
        "Serve a simulated PSA that answers as ConnectWise, Autotask, HaloPSA or Syncro "
        "document (auth, fields, errors, pagination, 429s), with injectable faults."
    )
    requires_system_checks = []  # it touches no model: start at once, as tests start it often

    def add_arguments(self, parser):
        parser.add_argument(
            "--kind",
            action="append",
            required=True,
            help=f"{', '.join(KINDS)} or all; repeatable. Several kinds are served under /<kind>.",
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds per request.")
        parser.add_argument("--error-rate", type=float, default=0.0, help="Share answered 500.")
        parser.add_argument(
            "--timeout-rate", type=float, default=0.0, help="Share of writes applied, then late."
        )
        parser.add_argument(
            "--lost-rate", type=float, default=0.0, help="Share of writes applied, answer lost."
        )
        parser.add_argument("--hang", type=float, default=30.0, help="How late a late answer is.")
        parser.add_argument("--rate-limit", type=int, help="Requests per --per seconds per tenant.")
        parser.add_argument("--per", type=float, default=60.0)
        parser.add_argument("--max-concurrent", type=int, help="Requests in flight per tenant.")
        parser.add_argument("--seed", type=int)
        parser.add_argument(
            "--strict-tickets",
            action="store_true",
            help="Only tickets created through /_sim/tickets exist (default: any number does).",
        )

    def handle(self, *args, kind, host, port, **o):
        kinds = list(KINDS) if "all" in kind else list(dict.fromkeys(kind))
        unknown = [k for k in kinds if k not in KINDS]
        if unknown:
            raise CommandError(f"Unknown kind(s): {', '.join(unknown)}. Known: {', '.join(KINDS)}")
        for name in ("error_rate", "timeout_rate", "lost_rate"):
            if not 0 <= o[name] <= 1:
                raise CommandError(f"--{name.replace('_', '-')} is a share between 0 and 1.")
        faults = Faults(
            latency=o["latency"],
            error_rate=o["error_rate"],
            timeout_rate=o["timeout_rate"],
            lost_rate=o["lost_rate"],
            hang=o["hang"],
            seed=o["seed"],
        )
        limits = Limits(
            requests=o["rate_limit"], per_seconds=o["per"], max_concurrent=o["max_concurrent"]
        )
        sims = {
            k: Simulator(k, faults=faults, limits=limits, auto_tickets=not o["strict_tickets"])
            for k in kinds
        }
        try:
            if len(sims) == 1:
                running = next(iter(sims.values())).serve(host, port)
            else:
                running = serve_many(sims, host, port)
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{port}: {exc}") from exc
        except SystemExit as exc:  # werkzeug's make_server exits when it cannot bind
            raise CommandError(
                f"Cannot listen on {host}:{port}: the port is in use or not available here."
            ) from exc
        # Handle SIGTERM before saying we are ready: whoever waits for that line may stop us.
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        for k, sim in sims.items():
            creds = json.dumps(sim.credentials())
            self.stdout.write(f"{k}: base URL {sim.base_url}  credentials {creds}")
            self.stdout.write(f"  entries it holds: {sim.url}/_sim/entries")
        self.stdout.write("Ctrl-C stops.")
        self.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        running.stop()
