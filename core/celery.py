"""The Celery app `core`: configured from Django settings (CELERY_* names, the seed's reference)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "core.settings")

app = Celery("core")
app.config_from_object("django.conf:settings", namespace="CELERY")
# CELERY_RESULT_BACKEND stays the seed's 'django-db'; that name is served by our subclass
# (django-celery-results' own entry point would win over a loader alias).
if app.conf.result_backend == "django-db":
    app.backend_cls = "core.results:DatabaseBackend"  # type: ignore[attr-defined]
app.autodiscover_tasks()

# Worker and beat use Django's LOGGING (LOG_FORMAT=json) and honour --logfile.
from celery.signals import setup_logging  # noqa: E402

from core.logs import configure_celery_logging  # noqa: E402

setup_logging.connect(configure_celery_logging, weak=False)

# `inspect conf` with the passwords in every URL masked (replaces Celery's command by name).
import core.control  # noqa: E402, F401
