"""A development checkout after `make dev`'s set-up: the seed's server commands serve plain
http with styles (no https redirect, no missing static files), and `.env` is never overwritten."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import processes
from tests.support.faults import RedisServer

pytestmark = pytest.mark.e2e

PAGES = ["/", "/static/events/site.css", "/static/admin/css/base.css", "/favicon.ico"]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The working tree as a newcomer has it (tracked and new files, no .env, no db, no static)."""
    root = tmp_path_factory.mktemp("checkout")
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=processes.REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (processes.REPO / name).is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(processes.REPO / name, root / name)
    (root / ".venv").symlink_to(processes.VENV_BIN.parent)
    subprocess.run(["make", "-s", ".env"], cwd=root, check=True, capture_output=True)
    return root


def newcomer_env() -> dict[str, str]:
    """A shell with nothing set but REDIS_URL: the checkout's .env decides everything else."""
    keep = {"PATH", "HOME", "LANG", "REDIS_URL"}
    return {k: v for k, v in os.environ.items() if k in keep}


def in_checkout(root: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(root / ".venv" / "bin" / argv[0]), *argv[1:]],
        cwd=root,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )


@pytest.fixture(scope="module")
def migrated(checkout: Path) -> Path:
    in_checkout(checkout, "python", "manage.py", "migrate", "--noinput")
    return checkout


@pytest.fixture(params=["runserver", "daphne"])
def server(request: pytest.FixtureRequest, migrated: Path) -> Iterator[str]:
    port = processes.free_port()
    argv = {
        "runserver": ["python", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "daphne": ["daphne", "-b", "0.0.0.0", "-p", str(port), "core.asgi:application"],
    }[request.param]
    proc = subprocess.Popen(
        [str(migrated / ".venv" / "bin" / argv[0]), *argv[1:]],
        cwd=migrated,
        env=newcomer_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code < 600
        except httpx.HTTPError:
            return False

    try:
        processes.wait_for(up, timeout=60, interval=0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def test_make_env_writes_development_settings(checkout: Path) -> None:
    written = (checkout / ".env").read_text()
    assert "DJANGO_DEBUG=true" in written
    assert "DJANGO_SECRET_KEY=dev-" in written


def test_make_env_never_overwrites_the_users_file(checkout: Path) -> None:
    env_file = checkout / ".env"
    original = env_file.read_text()
    env_file.write_text(original + "MY_OWN=1\n")
    try:
        subprocess.run(["make", "-s", ".env"], cwd=checkout, check=True, capture_output=True)
        assert env_file.read_text().endswith("MY_OWN=1\n")
    finally:
        env_file.write_text(original)


@pytest.mark.parametrize("path", PAGES)
def test_seed_server_commands_serve_plain_http_with_styles(server: str, path: str) -> None:
    response = httpx.get(server + path, timeout=10, follow_redirects=True)
    assert response.status_code == 200, (path, response.status_code, response.headers)
    assert response.url.scheme == "http"
    assert [r.url.path for r in response.history] in ([], ["/favicon.ico"])


def test_make_dev_serves_on_the_port_it_prints_and_stops_cleanly_on_ctrl_c(
    migrated: Path,
) -> None:
    redis_server = RedisServer().start()
    port, flower_port = processes.free_port(), processes.free_port()
    log = migrated / "make-dev.log"
    env = {**newcomer_env(), "REDIS_URL": redis_server.url}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["make", "dev", f"PORT={port}", f"FLOWER_PORT={flower_port}"],
            cwd=migrated,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        processes.wait_for(lambda: "Ctrl-C stops" in log.read_text(), timeout=120, interval=0.2)
        printed = log.read_text()
        for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{port}/admin/"):
            assert url in printed
        assert f"http://127.0.0.1:{flower_port}/" in printed

        def page() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        processes.wait_for(page, timeout=60, interval=0.2)
        docs = httpx.get(f"http://127.0.0.1:{port}/api/docs/", timeout=5)
        assert docs.status_code == 200
        processes.wait_for(lambda: "beat: Starting" in log.read_text(), timeout=60)
        # The demo's first reminder goes out at once (the console backend prints it): its
        # one-click link leads to this server, not to another port's.
        processes.wait_for(lambda: "List-Unsubscribe-Post" in log.read_text(), timeout=60)
        link = re.search(r"List-Unsubscribe:\s+(?:[^<\n]*\|\s*)?<([^>]+)>", log.read_text())
        assert link is not None, log.read_text()[-3000:]
        assert link.group(1).startswith(f"http://127.0.0.1:{port}/messages/unsubscribe/")
        assert httpx.get(link.group(1), timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        returncode = proc.wait(60)
        redis_server.stop()
    output = log.read_text()
    # make re-raises the SIGINT it got (a shell shows a new prompt), but reports no error.
    assert returncode in (0, -signal.SIGINT), output[-3000:]
    assert "make: ***" not in output, output[-3000:]
    assert output.rstrip().endswith("Stopped."), output[-3000:]
    assert f"broker -> {redis_server.url}/1" in output  # the caller's REDIS_URL, not .env's
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
