"""The OpenAPI schema, and schemathesis fuzzing the API against it through WSGI."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error
from schemathesis.core import NotSet
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support.auth import token_for

logger = logging.getLogger(__name__)

Status = Event.EventStatus
new_event = cast(Callable[..., Event], EventFactory)
new_user = cast(Callable[..., Any], UserFactory)

pytestmark = pytest.mark.django_db

# Examples per operation and generation mode: 31 operations x 2 modes x 100 take a minute or two
# on an idle machine (several on a loaded one: its own timeout, below).
MAX_EXAMPLES = 100
OPERATIONS = 31
LOGOUT = "POST /api/auth/logout/"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fetch_schema() -> dict[str, Any]:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


def test_schema_is_openapi_3_with_every_endpoint_of_the_contract() -> None:
    schema = fetch_schema()
    assert schema["openapi"].startswith("3.")
    operations = {
        (method.upper(), path) for path, item in schema["paths"].items() for method in item
    }
    assert operations == {
        ("POST", "/api/auth/register/"),
        ("POST", "/api/auth/token/"),
        ("POST", "/api/auth/logout/"),
        ("GET", "/api/auth/me/"),
        ("PATCH", "/api/auth/me/"),
        ("GET", "/api/events/"),
        ("POST", "/api/events/"),
        ("GET", "/api/events/mine/"),
        ("GET", "/api/events/{id}/"),
        ("PATCH", "/api/events/{id}/"),
        ("DELETE", "/api/events/{id}/"),
        ("POST", "/api/events/{id}/confirm/"),
        ("POST", "/api/events/{id}/cancel/"),
        ("POST", "/api/events/{id}/complete/"),
        ("POST", "/api/events/{id}/join/"),
        ("POST", "/api/events/{id}/leave/"),
        ("GET", "/api/events/{id}/history/"),
        ("GET", "/api/events/{id}/calendar.ics"),
        ("POST", "/api/auth/me/calendar/reset/"),
        ("GET", "/api/webhooks/"),
        ("POST", "/api/webhooks/"),
        ("GET", "/api/webhooks/{id}/"),
        ("PATCH", "/api/webhooks/{id}/"),
        ("DELETE", "/api/webhooks/{id}/"),
        ("GET", "/api/webhooks/{id}/deliveries/"),
        ("POST", "/api/webhooks/{id}/deliveries/{delivery_id}/retry/"),
        ("GET", "/api/events/{id}/messages/"),
        ("POST", "/api/events/{id}/messages/"),
        ("PATCH", "/api/events/{id}/messages/{rule_id}/"),
        ("DELETE", "/api/events/{id}/messages/{rule_id}/"),
        ("GET", "/api/events/{id}/deliveries/"),
    }


def test_schema_describes_status_enum_responses_and_errors() -> None:
    schema = fetch_schema()
    components = schema["components"]["schemas"]
    assert components["EventStatusEnum"]["enum"] == Status.values
    event = components["Event"]
    assert {"participant_count", "organizer", "status"} <= set(event["required"])
    assert components["EventWriteRequest"]["additionalProperties"] is False
    assert "status" not in components["EventWriteRequest"]["properties"]
    confirm = schema["paths"]["/api/events/{id}/confirm/"]["post"]["responses"]
    assert confirm["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Event"
    }
    assert confirm["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    listing = schema["paths"]["/api/events/"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PaginatedEventList"
    }
    assert {p["name"] for p in listing["parameters"]} == {
        "cursor",
        "page_size",
        "q",
        "starts_after",
        "starts_before",
        "status",
    }
    mine = schema["paths"]["/api/events/mine/"]["get"]["parameters"]
    assert {p["name"] for p in mine} == {
        "cursor",
        "page_size",
        "include_completed",
        "status",
        "role",
    }
    history = schema["paths"]["/api/events/{id}/history/"]["get"]["parameters"]
    assert [p["name"] for p in history] == ["id"]
    path_id = schema["paths"]["/api/events/{id}/"]["get"]["parameters"][0]
    assert (path_id["name"], path_id["schema"]["type"]) == ("id", "integer")


def test_docs_page_is_served() -> None:
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


# Which event a generated case with an `{id}` acts on: the generated id, or a fresh event of a
# given kind, so that edits, transitions and joins reach real rows and not only 404s.
TARGETS = ["generated", "own_draft", "own_confirmed", "own_ongoing", "own_completed", "others"]


def fresh_event(kind: str, user: Any, stranger: Any) -> Event:
    now = datetime.now(UTC)
    if kind == "own_draft":
        return new_event(organizer=user, status=Status.DRAFT, start_date=now + timedelta(days=2))
    if kind == "own_confirmed":
        return new_event(organizer=user, status=Status.CONFIRMED, capacity=2)
    if kind == "own_ongoing":
        start = now - timedelta(hours=1)
        return new_event(organizer=user, status=Status.ONGOING, start_date=start)
    if kind == "own_completed":
        start = now - timedelta(days=3)
        return new_event(organizer=user, status=Status.COMPLETED, start_date=start)
    return new_event(organizer=stranger)


@pytest.fixture
def connection_kept_across_requests() -> Iterator[None]:
    """Like Django's test client: a real WSGI request would close the test's transaction."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@dataclass
class Fuzzing:
    """Runs schemathesis cases as one user and tallies what came back."""

    user: Any
    stranger: Any
    token: str
    figures: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)

    def run(self, operation: Any, mode: schemathesis.GenerationMode) -> None:
        targets = TARGETS if "{id}" in operation.path else ["generated"]

        @given(
            case=operation.as_strategy(generation_mode=mode),
            target=st.sampled_from(targets),
            authenticated=st.booleans(),
        )
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any, target: str, authenticated: bool) -> None:
            # Negative cases keep their generated id: it may be the invalid part.
            if mode == schemathesis.GenerationMode.NEGATIVE and not_really_negative(
                case, authenticated
            ):
                return
            if target != "generated" and mode == schemathesis.GenerationMode.POSITIVE:
                case.path_parameters["id"] = fresh_event(target, self.user, self.stranger).pk
            self.call(case, operation.label, mode, authenticated)

        exercise()

    def call(
        self, case: Any, label: str, mode: schemathesis.GenerationMode, authenticated: bool
    ) -> None:
        # Logging out revokes the token it sends: each logout gets a token of its own.
        token = token_for(self.user) if label == LOGOUT else self.token
        headers = {"Authorization": f"Token {token}"} if authenticated else {}
        # A 500 may leave the test's transaction aborted: roll back to before the call, so the
        # failure is counted and the fuzzing goes on.
        savepoint = transaction.savepoint()
        response = case.call(headers=headers)
        if response.status_code >= 500:
            transaction.savepoint_rollback(savepoint)
        else:
            transaction.savepoint_commit(savepoint)
        self.figures["examples"] += 1
        self.figures[f"status {response.status_code // 100}xx"] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except FailureGroup as group:
            self.figures["failures"] += 1
            first = group.exceptions[0]
            kind = f"{label} [{mode.value}] -> {response.status_code}: "
            self.failures[kind + str(getattr(first, "title", first))] += 1
            self.examples.setdefault(kind, f"{case.as_curl_command(headers)}\n{first}")


def not_really_negative(case: Any, authenticated: bool) -> bool:
    """A "negative" case that reaches the API as valid input, so its acceptance is no failure:
    its only negation is leaving out an optional body (a PATCH of nothing), or is in the
    generated credentials that the fuzzer's own token replaces."""
    negated = {
        location.value
        for location, component in case.meta.components.items()
        if component.mode == schemathesis.GenerationMode.NEGATIVE
    }
    if negated == {"body"}:
        return isinstance(case.body, NotSet)
    return authenticated and negated <= {"header", "cookie"}


def modes_for(operation: Any) -> list[schemathesis.GenerationMode]:
    """Both modes; only positive for an operation without inputs (nothing to make invalid).

    The Authorization header of the security scheme does not count: it is not negated."""
    inputs = (operation.path_parameters, operation.query, operation.body)
    if any(len(parameters) for parameters in inputs):
        return [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]
    return [schemathesis.GenerationMode.POSITIVE]


@pytest.mark.timeout(900)
@pytest.mark.usefixtures("connection_kept_across_requests")
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_schema() -> None:
    from core.wsgi import application

    user = new_user(username="fuzzer")
    fuzzing = Fuzzing(user, new_user(username="stranger"), token_for(user))
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    started = time.monotonic()

    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    for operation in operations:
        for mode in modes_for(operation):
            fuzzing.run(operation, mode)

    figures = fuzzing.figures
    logger.info(
        f"schemathesis: {len(operations)} operations, {figures['examples']} examples, "
        f"{figures['failures']} failures in {time.monotonic() - started:.1f}s; responses: "
        + ", ".join(f"{k} {v}" for k, v in sorted(figures.items()) if k.startswith("status"))
    )
    assert len(operations) == OPERATIONS
    runs = sum(len(modes_for(operation)) for operation in operations)
    # GET me, POST logout, the calendar reset and GET webhooks take no input.
    assert runs >= 2 * OPERATIONS - 4
    assert figures["examples"] >= runs * MAX_EXAMPLES // 2
    assert figures["status 2xx"] > 0
    assert figures["status 4xx"] > 0
    summary = [f"{count} x {kind}" for kind, count in fuzzing.failures.most_common()]
    assert not fuzzing.failures, (
        "\n".join(summary) + "\n\n" + "\n\n".join(list(fuzzing.examples.values())[:5])
    )
