"""Passwords in URL settings never appear in `celery inspect conf` or in a log line (issue 14)."""

from __future__ import annotations

import copy
import io
import json
import logging
import logging.config
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings

from core.redact import MASK, mask, mask_text
from tests.support import processes

PASSWORD = "s3cr3t-Pw-9f2c"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (f"redis://:{PASSWORD}@10.0.0.5:6379/0", f"redis://:{MASK}@10.0.0.5:6379/0"),
        (
            f"rediss://app:{PASSWORD}@redis.example.com:6380/1?ssl_cert_reqs=required",
            f"rediss://app:{MASK}@redis.example.com:6380/1?ssl_cert_reqs=required",
        ),
        (
            f"sentinel://:{PASSWORD}@10.0.0.1:26379/1;sentinel://:{PASSWORD}@10.0.0.2:26379/1",
            f"sentinel://:{MASK}@10.0.0.1:26379/1;sentinel://:{MASK}@10.0.0.2:26379/1",
        ),
        (
            f"postgres://eventide:{PASSWORD}@db:5432/eventide",
            f"postgres://eventide:{MASK}@db:5432/eventide",
        ),
        (f"smtp+tls://mailer:{PASSWORD}@smtp:587", f"smtp+tls://mailer:{MASK}@smtp:587"),
        (f"redis://cache:6379/2?password={PASSWORD}", f"redis://cache:6379/2?password={MASK}"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (
            "postgres://postgres@127.0.0.1:5432/eventide",
            "postgres://postgres@127.0.0.1:5432/eventide",
        ),
    ],
)
def test_the_password_of_a_url_is_masked_whatever_its_scheme(url: str, masked: str) -> None:
    assert mask_text(f"connecting to {url} now") == f"connecting to {masked} now"


def test_settings_are_masked_by_value_through_nested_structures() -> None:
    caches = {"default": {"LOCATION": [f"redis://:{PASSWORD}@cache:6379/3"], "TIMEOUT": 300}}
    assert mask({"CACHES": caches}) == {
        "CACHES": {"default": {"LOCATION": [f"redis://:{MASK}@cache:6379/3"], "TIMEOUT": 300}}
    }


LOGGING: dict[str, Any] = settings.LOGGING


def test_every_configured_handler_masks_credentials() -> None:
    for name, handler in LOGGING["handlers"].items():
        assert "redact_credentials" in handler.get("filters", []), name


@pytest.fixture(params=["text", "json"])
def log_output(request: pytest.FixtureRequest) -> tuple[logging.Logger, io.StringIO]:
    """A logger writing through the console handler of LOGGING (its filters, the formatter)."""
    stream = io.StringIO()
    handler = {**LOGGING["handlers"]["console"], "formatter": request.param}
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "filters": copy.deepcopy(LOGGING["filters"]),
            "formatters": copy.deepcopy(LOGGING["formatters"]),
            "handlers": {"captured": {**handler, "stream": stream}},
            "loggers": {
                "eventide.redact": {"handlers": ["captured"], "level": "INFO", "propagate": False}
            },
        }
    )
    return logging.getLogger("eventide.redact"), stream


def test_a_log_line_with_a_url_password_is_masked(
    log_output: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = log_output
    url = f"redis://:{PASSWORD}@10.0.0.5:6379/1"
    logger.info("broker at %s", url)
    logger.info(f"plain message with {url}")
    logger.warning("extra field", extra={"broker": url})
    try:
        raise ConnectionError(f"Error connecting to {url}")
    except ConnectionError:
        logger.exception("publish failed")

    output = stream.getvalue()
    assert PASSWORD not in output
    assert output.count(MASK) >= 3
    assert "publish failed" in output
    assert "ConnectionError" in output


def test_a_json_log_line_stays_json(log_output: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = log_output
    logger.info("to %s", f"postgres://u:{PASSWORD}@db/x")
    line = stream.getvalue().strip()
    if line.startswith("{"):
        assert json.loads(line)["message"] == f"to postgres://u:{MASK}@db/x"


# --- `celery -A core inspect conf` against a real worker on a password-protected Redis --------


@pytest.fixture
def redis_with_password() -> Iterator[str]:
    port = processes.free_port()
    server = processes.ManagedProcess(
        "redis",
        [
            "redis-server",
            "--port",
            str(port),
            "--requirepass",
            PASSWORD,
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        {},
    ).start()
    processes.wait_for(lambda: processes.port_open(port), timeout=20)
    yield f"redis://:{PASSWORD}@127.0.0.1:{port}"
    server.stop()


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_inspect_conf_never_prints_a_password(redis_with_password: str) -> None:
    env = processes.child_env(
        REDIS_URL=redis_with_password,
        CELERY_BROKER_URL=f"{redis_with_password}/1",
        CHANNEL_LAYER_URL=f"{redis_with_password}/0",
    )
    worker = processes.worker(env, name="conf").start()
    try:
        worker.wait_for_output("ready.", timeout=60)
        inspected: Any = subprocess.run(
            processes.celery("inspect", "conf", "--timeout", "10"),
            cwd=processes.REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        worker.stop()

    output = inspected.stdout + inspected.stderr
    assert inspected.returncode == 0, output
    assert "REDIS_URL" in output, output
    assert "CHANNEL_LAYERS" in output, output
    assert f"redis://:{MASK}@127.0.0.1" in output, output
    assert PASSWORD not in output
    assert PASSWORD not in worker.output()
