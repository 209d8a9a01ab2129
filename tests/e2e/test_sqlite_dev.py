"""`make dev` runs on an SQLite file: the sweeps, wake-ups and reminders must work there too."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support import processes

pytestmark = pytest.mark.e2e

SNIPPET = """
from datetime import timedelta
from django.core import mail
from apps.events import clock, lifecycle, reminders
from apps.events.messages import configuring
from apps.events.models import Event, Participation, Delivery
from django.contrib.auth.models import User
demo = User.objects.get(username="demo")
start = clock.now() + timedelta(hours=1)
soon = Event.objects.create(title="Soon", organizer=demo, start_date=start,
                            end_date=start + timedelta(hours=1), status="CONFIRMED")
configuring.add_default_rule(soon)
Participation.objects.create(event=soon, user=demo)
print("swept", len(lifecycle.start_started()), len(lifecycle.archive_completed()))
first, second = reminders.send_due(), reminders.send_due()
sent = Delivery.objects.filter(rule__event=soon, sent_at__isnull=False).count()
print("reminded", first >= 1, second, sent, len(mail.outbox) == first)
"""


def manage(db: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = processes.child_env(
        DATABASE_URL=f"sqlite:///{db}",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
    )
    done = subprocess.run(
        [str(processes.VENV_BIN / "python"), "manage.py", *argv],
        env=env,
        cwd=processes.REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_dev_setup_sweeps_and_reminders_run_on_sqlite(tmp_path: Path) -> None:
    db = tmp_path / "dev.sqlite3"
    manage(db, "migrate", "--noinput")
    manage(db, "setup_event_lifecycle_tasks")
    manage(db, "load_demo_events")
    out = manage(db, "shell", "-c", SNIPPET).stdout
    swept = next(line for line in out.splitlines() if line.startswith("swept"))
    assert int(swept.split()[1]) >= 1  # the demo's "ended while nobody was looking" event
    assert "reminded True 0 1 True" in out
