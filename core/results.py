"""The `django-db` result backend, made to wait out a database outage instead of losing tasks.

With `task_track_started`, the worker writes STARTED/RETRY states before and after the task
body. Upstream retries such a write only on InterfaceError; when the database refuses
connections (OperationalError) the write fails "outside the body", the task is failed without
retrying, and its message is gone. Treating both as retryable makes the worker wait (with
backoff, `result_backend_max_retries` times) and then carry on with the task.
"""

from __future__ import annotations

import django
from django.apps import apps

# The worker and beat set Django up before they load a backend; `celery -A core result/call/...`
# load it first, and upstream's module defines models (AppRegistryNotReady).
if not apps.ready:
    django.setup()

from django.db import InterfaceError, OperationalError, connection
from django_celery_results.backends.database import (
    DatabaseBackend as UpstreamDatabaseBackend,
)


class DatabaseBackend(UpstreamDatabaseBackend):
    def exception_safe_to_retry(self, exc: BaseException) -> bool:
        if isinstance(exc, InterfaceError | OperationalError):
            connection.close()
            return True
        return False
