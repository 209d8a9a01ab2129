"""The services `make test` needs: PostgreSQL at TEST_DATABASE_URL and Redis at REDIS_URL.

A local service that is installed but not running is started here: PostgreSQL through Debian's
`pg_ctlcluster` when a cluster is configured on that port, else a throwaway cluster (initdb,
trust auth, nothing kept) on that port; Redis as a `redis-server` that keeps nothing on disk.
When a binary is missing, one line says what to install and the exit status is 1, so the suite
never starts against a service that is not there.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
NO_AOF = ["--appendonly", "no"]


def fail(message: str) -> None:
    print(f"make test: {message}", file=sys.stderr)
    sys.exit(1)


def wait(predicate: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(url, dbname="postgres", connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


def postgres_binary(name: str) -> str | None:
    """`name` from PG_BINDIR, PATH or Debian's versioned folders, newest version first."""
    if "PG_BINDIR" in os.environ:
        folders = [os.environ["PG_BINDIR"]]
    else:
        folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in folders:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None if "PG_BINDIR" in os.environ else shutil.which(name)


def debian_cluster_on(port: int) -> list[str] | None:
    """The `pg_ctlcluster` command line that starts the configured cluster on `port`, if any."""
    if "PG_BINDIR" in os.environ or not shutil.which("pg_lsclusters"):
        return None
    listing = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True).stdout
    for line in listing.splitlines():
        version, name, cluster_port, *_ = line.split()
        if int(cluster_port) == port:
            return ["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"]
    return None


def as_postgres_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` account then."""
    if os.geteuid() != 0:
        return argv
    if not shutil.which("runuser"):
        fail("running as root without `runuser`: start PostgreSQL yourself")
    return ["runuser", "-u", "postgres", "--", *argv]


def throwaway_cluster(port: int) -> None:
    initdb, pg_ctl = postgres_binary("initdb"), postgres_binary("pg_ctl")
    if not initdb or not pg_ctl:
        fail(
            "PostgreSQL is not running and not installed: apt-get install postgresql "
            "(or set TEST_DATABASE_URL to a running server)"
        )
        return
    data = Path(tempfile.mkdtemp(prefix=f"eventide-test-pg-{port}-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres", "postgres")
    subprocess.run(
        as_postgres_user([initdb, "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off"
    subprocess.run(
        as_postgres_user([pg_ctl, "-D", str(data), "-o", options, "-l", f"{data}/log", "start"]),
        check=True,
        capture_output=True,
    )
    print(f"Started a throwaway PostgreSQL on port {port} (data in {data}).")


def ensure_postgres(url: str) -> None:
    if postgres_answers(url):
        return
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        fail(f"PostgreSQL at {parts.hostname}:{parts.port or 5432} does not answer")
    port = parts.port or 5432
    command = debian_cluster_on(port)
    if command:
        subprocess.run(command, check=True)
        print(f"Started PostgreSQL cluster {command[2]}/{command[3]} on port {port}.")
    else:
        throwaway_cluster(port)
    if not wait(lambda: postgres_answers(url), 30):
        fail(f"PostgreSQL on port {port} was started but does not answer")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_redis(url: str) -> None:
    if redis_answers(url):
        return
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        fail(f"Redis at {parts.hostname}:{parts.port or 6379} does not answer")
    server = shutil.which("redis-server")
    if not server:
        fail("Redis is not running and not installed: apt-get install redis-server")
        return
    port = str(parts.port or 6379)
    subprocess.run(
        [
            server,
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            port,
            "--save",
            "",
            *NO_AOF,
        ],
        check=True,
        capture_output=True,
    )
    if not wait(lambda: redis_answers(url), 10):
        fail(f"redis-server on port {port} was started but does not answer")
    print(f"Started a redis-server on port {port} (keeps nothing on disk).")


if __name__ == "__main__":
    ensure_postgres(
        os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/eventide")
    )
    ensure_redis(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    # One more Redis per parallel test process beyond the first (core/settings/test.py).
    for extra in os.environ.get("TEST_REDIS_URLS", "").split()[1:]:
        ensure_redis(extra)
