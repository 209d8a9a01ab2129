"""Worker and beat log like the web process: Django's LOGGING (text, or JSON with LOG_FORMAT=json).

Without this, Celery leaves Django's root handler in place and silently ignores `--logfile`, so
the systemd units' /var/log/celery/*.log would stay empty. Connected in `core.celery`.
"""

from __future__ import annotations

import copy
import logging.config
from typing import Any

from django.conf import settings


def configure_celery_logging(
    loglevel: int | str | None = None, logfile: str | None = None, **kwargs: Any
) -> None:
    """Celery's `setup_logging` signal: apply LOGGING, sending root to `--logfile` when given."""
    config: dict[str, Any] = copy.deepcopy(settings.LOGGING)
    if logfile:
        # WatchedFileHandler reopens the file after logrotate moves it.
        config["handlers"]["logfile"] = {
            "class": "logging.handlers.WatchedFileHandler",
            "filename": logfile,
            "formatter": settings.LOG_FORMAT,
            "filters": ["redact_credentials"],
        }
        config["root"]["handlers"] = ["logfile"]
    if loglevel:
        config["root"]["level"] = (
            logging.getLevelName(loglevel) if isinstance(loglevel, int) else loglevel.upper()
        )
    logging.config.dictConfig(config)
