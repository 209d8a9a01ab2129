"""A pytest plugin (loaded with `-p` before Django's settings): one Redis server per process.

`make test` runs the suite in parallel processes (pytest-xdist). Each gets a Redis server of its
own from TEST_REDIS_URLS, so one process's broker purge, cache flush or channel groups never
reach another's tests; the databases are apart already (pytest-django adds _gw0, _gw1). The
worker, beat and Daphne processes a test starts inherit REDIS_URL and land on the same server.

It must run before the settings are read, which pytest-django does while loading the first
conftest, hence a plugin module whose import does the work.
"""

from __future__ import annotations

import os

_urls = os.environ.get("TEST_REDIS_URLS", "").split()
_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if _urls and _worker.startswith("gw") and os.environ.get("REDIS_URL", _urls[0]) in _urls:
    os.environ["REDIS_URL"] = _urls[int(_worker[2:]) % len(_urls)]
