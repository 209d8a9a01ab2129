"""deploy/: the systemd units, tmpfiles entry, Dockerfile and compose file, parsed, verified by
the tools where they are installed, and their command lines run as real processes."""

from __future__ import annotations

import asyncio
import http.client
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import websockets
import yaml
from websockets.typing import Origin

from tests.support import processes

DEPLOY = processes.REPO / "deploy"
SYSTEMD = DEPLOY / "systemd"
UNITS = (
    "django.service",
    "django-ws.service",
    "celery-worker.service",
    "celery-worker@.service",
    "celery-deliveries.service",
    "celery-beat.service",
)
INSTALL_DIR = "/opt/eventide"


def parse_unit(path: Path) -> dict[str, list[tuple[str, str]]]:
    """Sections of a unit file as (key, value) lists; backslash continuations joined."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), [])
        else:
            key, _, value = line.partition("=")
            current.append((key, value))
    return sections


def values(unit: dict[str, list[tuple[str, str]]], section: str, key: str) -> list[str]:
    return [v for k, v in unit[section] if k == key]


def unit_env(unit: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
    return dict(v.replace("%%", "%").split("=", 1) for v in values(unit, "Service", "Environment"))


def command_line(
    unit: dict[str, list[tuple[str, str]]], key: str, env: dict[str, str], instance: str = ""
) -> list[str]:
    """An Exec*= line as systemd would run it here: variables expanded, the checkout at REPO."""
    (line,) = values(unit, "Service", key)
    line = line.replace("%i", instance).replace("%%", "%").replace(INSTALL_DIR, str(processes.REPO))
    line = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line)
    return shlex.split(line)


@pytest.mark.parametrize("name", UNITS)
def test_each_unit_reads_the_environment_file_and_checks_readiness(name: str) -> None:
    unit = parse_unit(SYSTEMD / name)
    assert values(unit, "Service", "EnvironmentFile") == ["-/etc/eventide/eventide.env"]
    assert values(unit, "Service", "WorkingDirectory") == [INSTALL_DIR]
    assert values(unit, "Service", "User") == ["www-data"]
    assert values(unit, "Service", "Restart") == ["on-failure"]
    assert "DJANGO_SETTINGS_MODULE=core.settings" in values(unit, "Service", "Environment")
    (pre,) = values(unit, "Service", "ExecStartPre")
    assert pre.startswith(f"{INSTALL_DIR}/.venv/bin/python manage.py healthcheck")
    assert "--wait" in pre
    assert values(unit, "Install", "WantedBy") == ["multi-user.target"]


def test_units_run_the_seed_commands_with_logs_in_var_log_celery() -> None:
    django = parse_unit(SYSTEMD / "django.service")
    (web,) = values(django, "Service", "ExecStart")
    assert web.startswith(f"{INSTALL_DIR}/.venv/bin/gunicorn --worker-class gthread ")
    assert web.endswith("core.wsgi:application")
    assert values(django, "Service", "Type") == ["simple"]
    assert values(django, "Service", "KillMode") == ["mixed"]
    # Each thread holds at most one connection: the pool per process is the thread count.
    assert unit_env(django)["DATABASE_POOL_MAX"] == unit_env(django)["WEB_THREADS"]

    sockets = parse_unit(SYSTEMD / "django-ws.service")
    (ws,) = values(sockets, "Service", "ExecStart")
    assert ws.startswith(f"{INSTALL_DIR}/.venv/bin/daphne ")
    assert ws.endswith("core.asgi:application")

    worker = parse_unit(SYSTEMD / "celery-worker.service")
    (run,) = values(worker, "Service", "ExecStart")
    assert run.startswith(f"{INSTALL_DIR}/.venv/bin/celery -A core worker ")
    assert "--logfile=${CELERY_LOG_DIR}/worker.log" in run
    assert "--pidfile=${CELERY_RUN_DIR}/worker.pid" in run
    assert unit_env(worker)["CELERY_LOG_DIR"] == "/var/log/celery"
    assert unit_env(worker)["CELERY_RUN_DIR"] == "/run/celery"
    assert values(worker, "Service", "KillMode") == ["mixed"]
    assert "--queues=${CELERY_WORKER_QUEUES}" in run
    assert unit_env(worker)["CELERY_WORKER_QUEUES"] == "celery"

    deliveries = parse_unit(SYSTEMD / "celery-deliveries.service")
    (run,) = values(deliveries, "Service", "ExecStart")
    assert run.startswith(f"{INSTALL_DIR}/.venv/bin/celery -A core worker ")
    assert run.endswith("--queues=deliveries")
    assert "--logfile=${CELERY_LOG_DIR}/deliveries.log" in run
    assert "--pidfile=${CELERY_RUN_DIR}/deliveries.pid" in run
    assert values(deliveries, "Service", "KillMode") == ["mixed"]

    beat = parse_unit(SYSTEMD / "celery-beat.service")
    (run,) = values(beat, "Service", "ExecStart")
    assert run.startswith(f"{INSTALL_DIR}/.venv/bin/celery -A core beat ")
    assert "--scheduler django_celery_beat.schedulers:DatabaseScheduler" in run
    assert "--logfile=${CELERY_LOG_DIR}/beat.log" in run
    assert "--pidfile=${CELERY_RUN_DIR}/beat.pid" in run


def test_tmpfiles_entry_creates_the_pid_and_log_directories(tmp_path: Path) -> None:
    conf = (SYSTEMD / "celery.tmpfiles.conf").read_text()
    assert "d /run/celery 0755 www-data www-data -" in conf
    assert "d /var/log/celery 0755 www-data www-data -" in conf
    tool = shutil.which("systemd-tmpfiles")
    if tool is None or os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles --create needs the tool and root (it chowns)")
    (tmp_path / "etc").mkdir()
    for name in ("passwd", "group"):
        shutil.copy(f"/etc/{name}", tmp_path / "etc" / name)
    subprocess.run(
        [tool, "--create", f"--root={tmp_path}", str(SYSTEMD / "celery.tmpfiles.conf")], check=True
    )
    for directory in ("run/celery", "var/log/celery"):
        assert (tmp_path / directory).is_dir()
        assert (tmp_path / directory).owner() == "www-data"


def test_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze is not installed")
    # verify checks that the executables exist: an install at tmp_path/app whose venv is ours.
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / ".venv").symlink_to(processes.VENV_BIN.parent)
    units = tmp_path / "units"
    units.mkdir()
    for name in UNITS:
        target = name.replace("@.", "@worker2.")
        text = (SYSTEMD / name).read_text().replace(INSTALL_DIR, str(tmp_path / "app"))
        (units / target).write_text(text)
    result = subprocess.run(
        [tool, "verify", *sorted(map(str, units.iterdir()))], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (result.stdout + result.stderr).strip(), result.stdout + result.stderr
    # The same check reports a unit whose command does not exist (so it can fail).
    broken = units / "broken.service"
    broken.write_text((units / "django.service").read_text().replace("bin/gunicorn", "bin/nope"))
    result = subprocess.run([tool, "verify", str(broken)], capture_output=True, text=True)
    assert "bin/nope" in result.stdout + result.stderr


@pytest.fixture
def unit_processes(
    transactional_db: None, purged_broker: None, tmp_path: Path
) -> Iterator[list[processes.ManagedProcess]]:
    started: list[processes.ManagedProcess] = []
    yield started
    for proc in started:
        proc.stop()


def ready_in(log: Path) -> bool:
    return log.exists() and " ready." in log.read_text()


def assert_websocket_opens(port: int) -> None:
    """The events socket of the server on `port` accepts a client (the handshake completes)."""

    async def handshake() -> None:
        base = f"http://127.0.0.1:{port}"
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/ws/events/", origin=Origin(base), open_timeout=30
        ) as sock:
            await sock.ping()

    asyncio.run(handshake())


@pytest.mark.e2e
def test_the_units_command_lines_start_and_log_json_to_their_files(
    unit_processes: list[processes.ManagedProcess], tmp_path: Path
) -> None:
    """ExecStartPre/ExecStart/ExecStartPost of the three units, as systemd would run them here."""
    overrides = {
        "CELERY_LOG_DIR": str(tmp_path),
        "CELERY_RUN_DIR": str(tmp_path),
        "DJANGO_PORT": str(processes.free_port()),
        "DJANGO_WS_PORT": str(processes.free_port()),
        "LOG_FORMAT": "json",
    }
    for name in (
        "celery-worker.service",
        "celery-deliveries.service",
        "celery-beat.service",
        "django.service",
        "django-ws.service",
    ):
        unit = parse_unit(SYSTEMD / name)
        env = processes.child_env(**{**unit_env(unit), **overrides})
        if name == "celery-worker.service":
            env["CELERY_WORKER_NAME"] = f"unit-{os.getpid()}@%h"
        if name == "celery-deliveries.service":
            env["CELERY_DELIVERIES_WORKER_NAME"] = f"unit-deliveries-{os.getpid()}@%h"
        pre = subprocess.run(
            command_line(unit, "ExecStartPre", env),
            cwd=processes.REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert pre.returncode == 0, pre.stdout + pre.stderr
        proc = processes.ManagedProcess(name, command_line(unit, "ExecStart", env), env).start()
        unit_processes.append(proc)
        if name in {"django.service", "django-ws.service"}:
            post = subprocess.run(
                command_line(unit, "ExecStartPost", env),
                cwd=processes.REPO,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert post.returncode == 0, post.stdout + post.stderr + proc.output()
            assert '"status": "ok"' in post.stdout

    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    deliveries_log = tmp_path / "deliveries.log"
    for log in (worker_log, deliveries_log):
        processes.wait_for(partial(ready_in, log), timeout=60)
    processes.wait_for(
        lambda: beat_log.exists() and "beat: Starting" in beat_log.read_text(), timeout=60
    )
    assert (tmp_path / "worker.pid").read_text().strip().isdigit()
    assert (tmp_path / "deliveries.pid").read_text().strip().isdigit()
    assert (tmp_path / "beat.pid").read_text().strip().isdigit()
    for log in (worker_log, deliveries_log, beat_log):
        first = log.read_text().splitlines()[0]
        assert first.startswith("{"), first
        assert '"levelname"' in first, first
    # HTTP on gunicorn's workers, sockets on Daphne beside them: the two the proxy routes to.
    for port in (overrides["DJANGO_PORT"], overrides["DJANGO_WS_PORT"]):
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert response.json()["status"] == "ok", response.text
    assert_keeps_an_idle_connection(int(overrides["DJANGO_PORT"]))
    assert_websocket_opens(int(overrides["DJANGO_WS_PORT"]))


def assert_keeps_an_idle_connection(port: int, idle: float = 3.0) -> None:
    """A request on a keep-alive connection idle for longer than gunicorn's default keep-alive
    (2 s) is answered: the server must not close a connection the proxy still holds (nginx keeps
    its upstream connections 60 s and does not retry a POST sent on one that was just closed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for pause in (idle, 0):
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            time.sleep(pause)
    finally:
        connection.close()


def gunicorn_keep_alive(argv: list[str]) -> int:
    return int(argv[argv.index("--keep-alive") + 1])


def test_gunicorn_keeps_idle_connections_longer_than_the_proxy() -> None:
    conf = (DEPLOY / "nginx" / "eventide.conf").read_text()
    upstream = re.search(r"upstream eventide_http \{(.*?)\}", conf, re.S)
    assert upstream is not None
    proxy_idle = re.search(r"keepalive_timeout (\d+)s;", upstream.group(1))
    assert proxy_idle is not None, "the proxy's idle timeout must be explicit"
    (unit_line,) = values(parse_unit(SYSTEMD / "django.service"), "Service", "ExecStart")
    compose_line = yaml.safe_load(COMPOSE.read_text())["services"]["django"]["command"]
    for argv in (shlex.split(unit_line), compose_line):
        assert gunicorn_keep_alive(argv) > int(proxy_idle.group(1)), argv


COMPOSE = DEPLOY / "docker-compose.yaml"
APP_SERVICES = (
    "migrate",
    "django",
    "django-ws",
    "celery-worker",
    "celery-deliveries",
    "celery-webhooks",
    "celery-beat",
    "flower",
)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_has_the_services_each_with_a_health_check(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", "proxy", *APP_SERVICES}
    for name, service in services.items():
        if name != "migrate":
            assert service["healthcheck"]["test"], name
            assert service["restart"] == "unless-stopped", name


def test_compose_starts_app_services_only_when_dependencies_are_healthy(compose: dict) -> None:
    services = compose["services"]
    for name in APP_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"] == {"condition": "service_healthy"}, name
        assert deps["redis"] == {"condition": "service_healthy"}, name
        if name != "migrate":
            assert deps["migrate"] == {"condition": "service_completed_successfully"}, name
    assert services["celery-beat"]["depends_on"]["celery-worker"] == {
        "condition": "service_healthy"
    }
    assert services["flower"]["depends_on"]["celery-worker"] == {"condition": "service_healthy"}
    assert services["proxy"]["depends_on"] == {
        "django": {"condition": "service_healthy"},
        "django-ws": {"condition": "service_healthy"},
    }


def test_the_proxy_routes_sockets_to_daphne_and_the_rest_to_gunicorn(compose: dict) -> None:
    conf = (DEPLOY / "nginx" / "eventide.conf").read_text()
    assert re.search(r"upstream eventide_http \{\s*server 127\.0\.0\.1:8000;", conf)
    assert re.search(r"upstream eventide_ws \{\s*server 127\.0\.0\.1:8001;", conf)
    ws = conf[conf.index("location /ws/") :]
    assert ws.index("proxy_pass http://eventide_ws;") < ws.index("location / {")
    assert "proxy_set_header Upgrade $http_upgrade;" in ws
    assert "proxy_pass http://eventide_http;" in conf[conf.index("location / {") :]
    proxy = compose["services"]["proxy"]
    assert "./nginx/eventide.conf:/etc/eventide/nginx.conf:ro" in proxy["volumes"]
    command = " ".join(proxy["command"])
    assert "s/127.0.0.1:8000/django:8000/" in command
    assert "s/127.0.0.1:8001/django-ws:8001/" in command
    assert compose["services"]["django-ws"]["command"][-3:] == [
        "-p",
        "8001",
        "core.asgi:application",
    ]


def test_compose_commands_and_settings(compose: dict) -> None:
    services = compose["services"]
    migrate = " ".join(services["migrate"]["command"])
    assert "manage.py migrate --noinput" in migrate
    assert "manage.py setup_event_lifecycle_tasks" in migrate
    assert services["django"]["command"][:3] == ["gunicorn", "--worker-class", "gthread"]
    assert services["django"]["command"][-1] == "core.wsgi:application"
    assert services["django"]["environment"]["DATABASE_POOL_MAX"] == "${WEB_THREADS:-8}"
    assert services["django-ws"]["command"][0] == "daphne"
    assert services["celery-worker"]["command"][:4] == ["celery", "-A", "core", "worker"]
    webhooks = services["celery-webhooks"]["command"]
    assert webhooks[:4] == ["celery", "-A", "core", "worker"]
    assert webhooks[webhooks.index("-Q") + 1] == "webhooks"
    assert services["celery-worker"]["command"][-2:] == ["--queues", "celery"]
    assert services["celery-deliveries"]["command"][:4] == ["celery", "-A", "core", "worker"]
    assert services["celery-deliveries"]["command"][-2:] == ["--queues", "deliveries"]
    beat = services["celery-beat"]["command"]
    assert beat[:4] == ["celery", "-A", "core", "beat"]
    assert "django_celery_beat.schedulers:DatabaseScheduler" in beat
    assert services["flower"]["command"] == ["celery", "-A", "core", "flower", "--port=5555"]
    assert "FLOWER_BASIC_AUTH" in services["flower"]["environment"]
    for name in APP_SERVICES:
        env = services[name]["environment"]
        assert env["DJANGO_DEBUG"] == "false"
        assert env["LOG_FORMAT"] == "json"
        assert env["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD")
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
    assert "--requirepass" in services["redis"]["command"]


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = (
        subprocess.run([docker or "docker", "compose", "version"], capture_output=True, text=True)
        if docker
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here (parsed by the tests above)")
    env = {
        **os.environ,
        "DJANGO_SECRET_KEY": "x" * 50,
        "POSTGRES_PASSWORD": "pw",
        "REDIS_PASSWORD": "pw",
        "FLOWER_BASIC_AUTH": "ops:pw",
    }
    result = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_dockerfile_is_slim_non_root_with_pinned_dependencies() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    instructions = [
        line.split(None, 1) for line in dockerfile.splitlines() if line and line[0].isupper()
    ]
    keywords = [keyword for keyword, *_ in instructions]
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.M)
    assert "RUN pip install -r requirements.txt" in dockerfile
    assert "manage.py collectstatic --noinput" in dockerfile
    # Dependencies before the code (layer cache); the user switch before the command.
    assert dockerfile.index("COPY requirements.txt") < dockerfile.index("COPY . .")
    assert keywords.index("USER") < keywords.index("CMD")
    user = dict(instructions)["USER"]
    assert user.strip() not in {"root", "0"}
    requirements = [
        line.split("#")[0].strip()
        for line in (processes.REPO / "requirements.txt").read_text().splitlines()
    ]
    packages = [line for line in requirements if line and not line.startswith("-")]
    assert packages
    assert all("==" in line for line in packages)


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's `${VAR}`, `${VAR:-default}`, `${VAR:?error}` and `$$` (a literal `$`)."""

    def value(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3)
        if op == ":-":
            return env.get(name) or arg
        assert name in env, f"{name} is required: {arg}"
        return env[name]

    parts = text.split("$$")
    return "$".join(re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", value, part) for part in parts)


def compose_argv(command: list[str], ports: dict[str, int], env: dict[str, str]) -> list[str]:
    """A compose command for this machine: our venv's binaries, free ports instead of 8000/5555."""
    argv = []
    for arg in (interpolate(arg, env) for arg in command):
        for fixed, free in ports.items():
            arg = arg.replace(fixed, str(free))
        argv.append(arg)
    if argv[0] in {"python", "celery", "daphne", "gunicorn"}:
        argv[0] = str(processes.VENV_BIN / argv[0])
    return argv


def health_argv(test: list[str], ports: dict[str, int], env: dict[str, str]) -> list[str]:
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", interpolate(test[1], env)]
    return compose_argv(test[1:], ports, env)


@pytest.mark.e2e
def test_compose_commands_run_here_and_pass_their_health_checks(
    compose: dict, unit_processes: list[processes.ManagedProcess]
) -> None:
    """No Docker engine here: run each service's command and health check as local processes."""
    import socket

    services = compose["services"]
    ports = {
        "8000": processes.free_port(),
        "8001": processes.free_port(),
        "5555": processes.free_port(),
    }
    env = processes.child_env(
        FLOWER_BASIC_AUTH="ops:pw",
        LOG_FORMAT="json",
        PATH=f"{processes.VENV_BIN}:{os.environ['PATH']}",
    )
    migrate = subprocess.run(
        compose_argv(services["migrate"]["command"], ports, env),
        cwd=processes.REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert migrate.returncode == 0, migrate.stdout + migrate.stderr
    env["HOSTNAME"] = socket.gethostname()  # a container's hostname, which the worker's %h is
    web = ("django", "django-ws", "celery-worker", "celery-deliveries", "celery-beat", "flower")
    for name in web:
        argv = compose_argv(services[name]["command"], ports, env)
        unit_processes.append(processes.ManagedProcess(name, argv, env).start())
    for name in web:
        check = health_argv(services[name]["healthcheck"]["test"], ports, env)

        last: list[subprocess.CompletedProcess[str]] = []

        def healthy(
            check: list[str] = check, last: list[subprocess.CompletedProcess[str]] = last
        ) -> bool:
            last[:] = [
                subprocess.run(check, cwd=processes.REPO, env=env, capture_output=True, text=True)
            ]
            return last[0].returncode == 0

        try:
            processes.wait_for(healthy, timeout=90, interval=1)
        except AssertionError:
            pytest.fail(f"{name} unhealthy: {check} -> {last[0].stdout}{last[0].stderr}")
    for port in (ports["8000"], ports["8001"]):
        response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert response.json()["status"] == "ok"
    assert_keeps_an_idle_connection(ports["8000"])
    assert_websocket_opens(ports["8001"])
