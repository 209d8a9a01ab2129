"""Worker remote-control commands, replacing Celery's own by name: registered by `core.celery`.

`celery -A core inspect conf` printed REDIS_URL, CHANNEL_LAYER_URL and CHANNEL_LAYERS with their
passwords: Celery's filter hides settings by name (KEY, PASS, ...) and the broker URL, not a
password inside any other value. This is the same command with every value masked too.
"""

from __future__ import annotations

from typing import Any

from celery.utils.serialization import jsonify, strtobool
from celery.worker.control import inspect_command
from kombu.utils.encoding import safe_repr

from core.redact import mask


@inspect_command(
    alias="dump_conf",
    signature="[include_defaults=False]",
    args=[("with_defaults", strtobool)],
)
def conf(state: Any, with_defaults: bool = False, **kwargs: Any) -> Any:
    """List configuration, with the passwords in any value masked."""
    return jsonify(
        mask(state.app.conf.table(with_defaults=with_defaults)),
        keyfilter=lambda key: isinstance(key, str) and not key.startswith("__"),
        unknown_type_filter=safe_repr,
    )
