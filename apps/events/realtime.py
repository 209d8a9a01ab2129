"""Push status changes to WebSocket clients through the channel layer (Redis DB 0)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from apps.events.lifecycle import Transition


def publish_transitions(changes: Sequence[Transition]) -> None:
    """Send `changes` to the sockets that watch them (built in the real-time issue)."""
