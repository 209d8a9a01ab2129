"""Settings of the benchmark processes: production settings plus a bench-only URLconf."""

import os

from core.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"

# The WebSocket figure's baseline runs a Daphne on channels_redis's own layer (bench/ws.py).
CHANNEL_LAYERS["default"]["BACKEND"] = os.environ.get(  # noqa: F405
    "BENCH_CHANNEL_LAYER",
    CHANNEL_LAYERS["default"]["BACKEND"],  # noqa: F405
)
