"""Is Eventide ready? The database, the Celery broker and the channel layer, each checked for real.

`/healthz` (CONTRACT §4, §8) and `manage.py healthcheck` share `run_checks`. The checks run in
their own threads under one deadline, so a dependency that hangs costs at most `timeout` seconds
and a failing one never hides another: the answer names every component that is down.

The scheduler check is not a dependency of serving: beat `stale` makes the answer `degraded`
(still 200, an operator must look), never 503 (core/heartbeat.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from core import heartbeat

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
OK = "ok"
DEGRADED = "degraded"
ERROR = "error"
UNKNOWN = "unknown"


def check_database(timeout: float) -> None:
    """`SELECT 1` on a connection of this thread (the connect is bounded by connect_timeout)."""
    connection = connections["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    finally:
        connection.close()


def check_broker(timeout: float) -> None:
    """Connect to the broker as a worker would (same URL, TLS and Sentinel options) and PING it."""
    from core.celery import app

    options = {
        **settings.CELERY_BROKER_TRANSPORT_OPTIONS,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
    }
    with app.connection_for_write(
        settings.CELERY_BROKER_URL, connect_timeout=timeout, transport_options=options
    ) as conn:
        # Opening the first channel PINGs Redis (kombu's redis Channel does it on creation).
        conn.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=math.ceil(timeout)
        )


def check_channel_layer(timeout: float) -> None:
    """Send a message to a fresh channel and receive it back through the layer's Redis.

    The layer is an instance of its own: the process-wide one is receiving on Daphne's loop for
    every open WebSocket, and channels_redis refuses a second loop receiving on it (a 503 whenever
    a browser was connected).
    """

    async def round_trip() -> None:
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        try:
            channel = await layer.new_channel("healthz.")
            await layer.send(channel, {"type": "health.check"})
            message = await layer.receive(channel)
        finally:
            await layer.close_pools()
        if message.get("type") != "health.check":
            raise RuntimeError(f"unexpected message {message!r}")

    async def bounded() -> None:
        await asyncio.wait_for(round_trip(), timeout)

    async_to_sync(bounded)()


def check_scheduler(timeout: float) -> str:
    """`ok` or `stale`: has beat ticked within twice its shortest interval? `unknown` when the
    database cannot say (the database check then names the failure)."""
    connection = connections["default"]
    try:
        return heartbeat.scheduler_status().state
    except DatabaseError:
        return UNKNOWN
    finally:
        connection.close()


CHECKS: dict[str, Callable[[float], str | None]] = {
    "database": check_database,
    "broker": check_broker,
    "channel_layer": check_channel_layer,
    "scheduler": check_scheduler,
}
# A check answering one of these is not down: it degrades the answer.
DEGRADED_STATES = frozenset({heartbeat.STALE, UNKNOWN})


def run_checks(
    names: Iterable[str] | None = None, timeout: float = DEFAULT_TIMEOUT
) -> dict[str, str]:
    """{name: "ok" | "stale" | "unknown" | "error" | "timeout"} for each check, in about
    `timeout` seconds."""
    selected = list(names) if names is not None else list(CHECKS)
    executor = ThreadPoolExecutor(max_workers=len(selected), thread_name_prefix="healthz")
    futures: dict[str, Future[str | None]] = {
        name: executor.submit(CHECKS[name], timeout) for name in selected
    }
    wait(futures.values(), timeout=timeout + 0.5)
    executor.shutdown(wait=False, cancel_futures=True)
    results: dict[str, str] = {}
    for name, future in futures.items():
        if not future.done():
            logger.warning("health check %s timed out after %.1fs", name, timeout)
            results[name] = "timeout"
        elif (error := future.exception()) is not None:
            logger.warning("health check %s failed: %s: %s", name, type(error).__name__, error)
            results[name] = "error"
        else:
            results[name] = future.result() or OK
    return results


def report(results: dict[str, str]) -> dict[str, Any]:
    """`ok`; `degraded` when a check is only degraded (beat stale); `error` with `down` else."""
    down = [name for name, state in results.items() if state not in {OK, *DEGRADED_STATES}]
    if down:
        return {"status": ERROR, "checks": results, "down": down}
    degraded = any(state in DEGRADED_STATES for state in results.values())
    return {"status": DEGRADED if degraded else OK, "checks": results}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 `ok` or `degraded` with `checks`; 503 with `down` naming what failed."""
    body = report(run_checks())
    return JsonResponse(body, status=503 if body["status"] == ERROR else 200)
