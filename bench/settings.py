"""Settings of the benchmark processes: production settings plus a bench-only URLconf."""

from core.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
