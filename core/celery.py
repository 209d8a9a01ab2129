"""The Celery app `core`: configured from Django settings (CELERY_* names, the seed's reference)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("core")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker and beat use Django's LOGGING (LOG_FORMAT=json) and honour --logfile.
from celery.signals import setup_logging  # noqa: E402

from core.logs import configure_celery_logging  # noqa: E402

setup_logging.connect(configure_celery_logging, weak=False)
