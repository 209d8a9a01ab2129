"""The OpenAPI schema is valid OpenAPI 3.0 and strict validators accept the real responses.

Every APIClient response of the API tests is validated by openapi-core (conftest.py); these
tests check the schema itself and that the validation can fail.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_core.validation.response.exceptions import DataValidationError
from openapi_spec_validator import validate
from rest_framework.test import APIClient

from apps.events import lifecycle
from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from tests.support.openapi import ResponseValidator

pytestmark = pytest.mark.django_db


def test_the_served_schema_passes_openapi_spec_validator() -> None:
    response = APIClient().get("/api/schema/?format=json")
    assert response.status_code == 200
    validate(response.json())


def untyped_nullables(node: Any, where: str = "") -> list[str]:
    """Schema objects with `nullable` but no `type`: meaningless under OpenAPI 3.0.3."""
    found = []
    if isinstance(node, dict):
        if node.get("nullable") is True and "type" not in node:
            found.append(where)
        for key, value in node.items():
            found += untyped_nullables(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += untyped_nullables(value, f"{where}/{i}")
    return found


def test_nullable_is_always_beside_a_type(openapi_schema: dict[str, Any]) -> None:
    assert untyped_nullables(openapi_schema) == []


def test_a_history_with_a_null_actor_validates(response_validator: ResponseValidator) -> None:
    organizer = UserFactory.create()
    event = EventFactory.create(organizer=organizer, status=Event.EventStatus.DRAFT)
    lifecycle.confirm(event.pk, actor=organizer)
    before = response_validator.checked
    for client in (APIClient(), APIClient()):
        response = client.get(f"/api/events/{event.pk}/history/")
        assert response.status_code == 200
    assert response.json()[0]["actor"] is None
    assert response_validator.checked == before + 2


def test_the_validator_refuses_a_response_outside_the_schema(
    response_validator: ResponseValidator,
) -> None:
    event = EventFactory.create()
    response = APIClient().get(f"/api/events/{event.pk}/")
    body = response.json()
    body["participant_count"] = "many"
    response.content = json.dumps(body).encode()
    with pytest.raises(DataValidationError):
        response_validator.check(response)
