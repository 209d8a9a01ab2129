"""Make sure the Redis of REDIS_URL answers; start a local redis-server if one is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from urllib.parse import urlsplit

import redis

url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")


def reachable() -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


if reachable():
    sys.exit(0)
parts = urlsplit(url)
local = parts.hostname in ("127.0.0.1", "localhost", "::1")
server = shutil.which("redis-server")
if local and server:
    port = str(parts.port or 6379)
    subprocess.run(
        [server, "--daemonize", "yes", "--port", port, "--save", "", "--appendonly", "no"],
        check=True,
    )
    for _ in range(50):
        if reachable():
            print(f"Started a local redis-server on port {port}.")
            sys.exit(0)
        time.sleep(0.1)
sys.exit(
    f"Redis is not reachable at {url}: install and start Redis (e.g. apt install redis-server), "
    "or set REDIS_URL."
)
