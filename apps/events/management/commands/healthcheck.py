"""`python manage.py healthcheck`: exit 0 when Eventide's dependencies answer, 1 when not.

Used as the readiness check of the compose services and the systemd units. `--url` asks a running
web process (its /healthz) instead of checking in this process; `--wait` retries until ready.
A stale scheduler (beat not ticking) only degrades the answer, exit 0, unless
`--fail-on-stale-scheduler` (beat's own unit or container check) makes it exit 1.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from core import health


def fetch(url: str, timeout: float) -> tuple[bool, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status == 200, json.load(response)
    except urllib.error.HTTPError as error:
        return False, {"status": "error", "http_status": error.code, "body": error.read().decode()}
    except (OSError, ValueError) as error:
        return False, {"status": "error", "error": f"{type(error).__name__}: {error}"}


class Command(BaseCommand):
    help = (
        "Check the database, broker, channel layer and scheduler (or a /healthz URL); "
        "exit 1 if one fails."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only",
            default=",".join(health.CHECKS),
            help=f"comma-separated checks among {', '.join(health.CHECKS)} (default: all)",
        )
        parser.add_argument("--url", help="GET this /healthz URL instead of checking in-process")
        parser.add_argument("--timeout", type=float, default=health.DEFAULT_TIMEOUT)
        parser.add_argument(
            "--wait", type=float, default=0, help="retry for up to this many seconds until ready"
        )
        parser.add_argument(
            "--fail-on-stale-scheduler",
            action="store_true",
            help="exit 1 when beat has not ticked within twice its shortest interval",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        names = [name.strip() for name in options["only"].split(",") if name.strip()]
        if unknown := set(names) - set(health.CHECKS):
            raise CommandError(f"unknown check(s): {', '.join(sorted(unknown))}")
        deadline = time.monotonic() + options["wait"]
        while True:
            if options["url"]:
                healthy, body = fetch(options["url"], options["timeout"])
            else:
                body = health.report(health.run_checks(names, options["timeout"]))
                healthy = body["status"] != health.ERROR
            if options["fail_on_stale_scheduler"]:
                scheduler = body.get("checks", {}).get("scheduler")
                healthy = healthy and scheduler not in health.DEGRADED_STATES
            if healthy or time.monotonic() >= deadline:
                break
            time.sleep(1)
        self.stdout.write(json.dumps(body))
        if not healthy:
            raise SystemExit(1)
