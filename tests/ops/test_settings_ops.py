"""Production settings from the environment: security, Redis TLS/password/Sentinel, Sentry, logs.

Each case imports the settings in a fresh interpreter with its own environment, as a deployed
process would.
"""

from __future__ import annotations

import json
import secrets
import ssl
import subprocess
import sys

import pytest

from tests.support import processes

PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
    "DJANGO_ALLOWED_HOSTS": "eventide.example.com,localhost,127.0.0.1",
    "DATABASE_URL": "postgres://eventide:pw@db.example.com:5432/eventide",
    "REDIS_URL": "redis://:pw@redis.example.com:6379",
}
# Variables of the test environment that would leak into "production" if inherited.
UNSET = ("DJANGO_DEBUG", "DJANGO_SECURE", "CELERY_BROKER_URL", "CHANNEL_LAYER_URL", "SENTRY_DSN")


def run_python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in processes.child_env().items() if k not in UNSET}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=processes.REPO,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def settings_of(*names: str, **env: str) -> dict:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        f"values = {{n: getattr(settings, n, None) for n in {list(names)!r}}}; "
        "print(json.dumps(values, default=str))"
    )
    result = run_python(code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def check_deploy(**env: str) -> subprocess.CompletedProcess[str]:
    return run_python(
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **env,
    )


def test_check_deploy_is_clean_with_production_settings() -> None:
    result = check_deploy(**PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_fails_without_a_real_secret_or_with_https_switched_off() -> None:
    weak_key = check_deploy(**{**PRODUCTION, "DJANGO_SECRET_KEY": "short"})
    assert weak_key.returncode != 0
    assert "security.W009" in weak_key.stderr
    plain_http = check_deploy(**PRODUCTION, DJANGO_SECURE="false")
    assert plain_http.returncode != 0
    for warning in ("W004", "W008", "W012", "W016"):
        assert f"security.{warning}" in plain_http.stderr


SECURITY = (
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_PROXY_SSL_HEADER",
)


def test_https_only_is_the_default_when_debug_is_off() -> None:
    values = settings_of(*SECURITY, **PRODUCTION)
    assert values == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 365 * 24 * 3600,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }


@pytest.mark.parametrize("switch", [{"DJANGO_DEBUG": "true"}, {"DJANGO_SECURE": "false"}])
def test_development_and_tests_speak_plain_http(switch: dict[str, str]) -> None:
    values = settings_of(*SECURITY, **{**PRODUCTION, **switch})
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None


def test_each_security_setting_has_its_own_switch() -> None:
    values = settings_of(
        *SECURITY,
        **PRODUCTION,
        DJANGO_SECURE_HSTS_SECONDS="3600",
        DJANGO_SECURE_SSL_REDIRECT="false",
    )
    assert values["SECURE_HSTS_SECONDS"] == 3600
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is True


def test_redis_password_and_query_survive_the_db_split() -> None:
    values = settings_of(
        "CELERY_BROKER_URL",
        "CHANNEL_LAYER_URL",
        **{
            **PRODUCTION,
            "REDIS_URL": "redis://eventide:p%40ss@redis.example.com:6380?health_check_interval=10",
        },
    )
    assert values == {
        "CELERY_BROKER_URL": "redis://eventide:p%40ss@redis.example.com:6380/1?health_check_interval=10",
        "CHANNEL_LAYER_URL": "redis://eventide:p%40ss@redis.example.com:6380/0?health_check_interval=10",
    }


def test_rediss_urls_verify_the_server_certificate_unless_told_otherwise() -> None:
    code = (
        "import json, django; django.setup(); from django.conf import settings; "
        "from core.celery import app; "
        "conn = app.connection_for_write(); "
        "import redis.asyncio as r; "
        "pool = r.ConnectionPool.from_url(settings.CHANNEL_LAYER_URL); "
        "print(json.dumps({'broker': [conn.transport_cls, int(conn.ssl['ssl_cert_reqs']), "
        "conn.ssl.get('ssl_ca_certs'), conn.password, conn.virtual_host], "
        "'layer': [pool.connection_class.__name__, pool.connection_kwargs['ssl_cert_reqs'], "
        "pool.connection_kwargs['password'], pool.connection_kwargs['db']]}))"
    )
    result = run_python(
        code,
        **{
            **PRODUCTION,
            "REDIS_URL": "rediss://:s3cret@redis.example.com:6380?ssl_ca_certs=/etc/ca.pem",
        },
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "broker": ["rediss", int(ssl.CERT_REQUIRED), "/etc/ca.pem", "s3cret", "1"],
        "layer": ["SSLConnection", "required", "s3cret", 0],
    }
    opted_out = settings_of(
        "CELERY_BROKER_URL", **{**PRODUCTION, "REDIS_URL": "rediss://h:6380?ssl_cert_reqs=none"}
    )
    assert opted_out["CELERY_BROKER_URL"] == "rediss://h:6380/1?ssl_cert_reqs=none"


def test_sentinel_broker_urls_name_the_master_from_the_environment() -> None:
    code = (
        "import json, django; django.setup(); from core.celery import app; "
        "conn = app.connection_for_write(); "
        "print(json.dumps([conn.transport_cls, conn.alt, "
        "conn.transport_options['master_name'], conn.transport_options['sentinel_kwargs']]))"
    )
    urls = "sentinel://:pw@10.0.0.1:26379/1;sentinel://:pw@10.0.0.2:26379/1"
    result = run_python(
        code,
        **PRODUCTION,
        CELERY_BROKER_URL=urls,
        CELERY_BROKER_SENTINEL_MASTER="eventide-master",
        CELERY_BROKER_SENTINEL_PASSWORD="sentinel-pw",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        "sentinel",
        urls.split(";"),
        "eventide-master",
        {"password": "sentinel-pw"},
    ]


def test_sentry_starts_with_django_and_celery_integrations_only_when_a_dsn_is_set() -> None:
    code = (
        "import json, django; django.setup(); import sentry_sdk; "
        "client = sentry_sdk.get_client(); "
        "print(json.dumps([client.is_active(), sorted(getattr(client, 'integrations', {}))]))"
    )
    with_dsn = run_python(code, **PRODUCTION, SENTRY_DSN="https://public@127.0.0.1:9/1")
    assert with_dsn.returncode == 0, with_dsn.stderr
    active, integrations = json.loads(with_dsn.stdout)
    assert active is True
    assert {"django", "celery"} <= set(integrations)
    without = run_python(code, **PRODUCTION)
    assert json.loads(without.stdout)[0] is False


def test_json_logs_carry_the_fields_as_keys() -> None:
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('apps.events.tasks').info('hello', extra={'count': 3})"
    )
    result = run_python(code, **PRODUCTION, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["count"] == 3
    assert line["levelname"] == "INFO"
    assert line["name"] == "apps.events.tasks"


def test_a_database_pool_only_when_sized_and_only_for_postgresql() -> None:
    pooled = settings_of(
        "DATABASES",
        **PRODUCTION,
        DATABASE_POOL_MAX="12",
        DATABASE_POOL_TIMEOUT="0.5",
        DATABASE_CONN_MAX_AGE="60",
    )["DATABASES"]["default"]
    assert pooled["OPTIONS"]["pool"] == {"min_size": 2, "max_size": 12, "timeout": 0.5}
    assert pooled["CONN_MAX_AGE"] == 0  # Django refuses persistent connections with a pool
    unpooled = settings_of("DATABASES", **PRODUCTION)["DATABASES"]["default"]
    assert "pool" not in unpooled["OPTIONS"]
    sqlite = settings_of(
        "DATABASES", **{**PRODUCTION, "DATABASE_URL": "sqlite:///tmp/x.db"}, DATABASE_POOL_MAX="12"
    )["DATABASES"]["default"]
    assert "pool" not in sqlite.get("OPTIONS", {})
