"""Delivery rows, written in the transaction of the transitions they announce (CONTRACT §9).

The sweeps write theirs in their own statement (`sql.sweep_statement`, set-based); the manual
transitions and the portable sweep call `record`. Either way a crash after the commit loses
nothing: the rows are there for the relay, which the commit only wakes up.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from apps.events.transitions import Transition
from apps.webhooks.models import ALL_TYPES, Delivery, Endpoint, event_type

# Tables of the set-based INSERT in the sweep statement.
DELIVERY_TABLE = Delivery._meta.db_table
ENDPOINT_TABLE = Endpoint._meta.db_table


def record(changes: Sequence[Transition], organizer_of: Mapping[int, int]) -> int:
    """Write one pending delivery per change and active endpoint of its event's organizer that
    subscribes to its type; returns how many. `organizer_of` maps event id → organizer id.
    Call inside the transition's transaction: two queries at most, whatever the number."""
    owners = {organizer_of[change.event_id] for change in changes}
    if not owners:
        return 0
    endpoints: dict[int, list[Endpoint]] = defaultdict(list)
    for endpoint in Endpoint.objects.filter(owner_id__in=owners, is_active=True):
        endpoints[endpoint.owner_id].append(endpoint)
    deliveries = list(_deliveries(changes, organizer_of, endpoints))
    Delivery.objects.bulk_create(deliveries, batch_size=1000)
    return len(deliveries)


def _deliveries(
    changes: Iterable[Transition],
    organizer_of: Mapping[int, int],
    endpoints: Mapping[int, list[Endpoint]],
) -> Iterable[Delivery]:
    for change in changes:
        if change.change_id is None:
            raise ValueError(f"the change of event {change.event_id} has no row id yet")
        type_ = event_type(change.to_status)
        for endpoint in endpoints.get(organizer_of[change.event_id], []):
            if endpoint.wants(type_):
                yield Delivery(
                    endpoint=endpoint,
                    change_id=change.change_id,
                    type=type_,
                    next_attempt_at=change.at,
                    created_at=change.at,
                )


def subscription_filter(to_status: str) -> tuple[str, str]:
    """The two JSON arrays (parameters) an endpoint's `event_types` may contain to receive a
    transition to `to_status`: its type, or the wildcard."""
    return json.dumps([event_type(to_status)]), json.dumps([ALL_TYPES])
