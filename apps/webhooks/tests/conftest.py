"""Every APIClient response checked against the OpenAPI schema, as in the events app; and a real
HTTP receiver that verifies what it is sent with `standardwebhooks`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import SettingsWrapper

from apps.events.tests.conftest import (  # noqa: F401  (fixtures)
    api_responses_match_the_schema,
    openapi_schema,
    response_validator,
)
from apps.webhooks.tests.receiver import Receiver


@pytest.fixture
def receiver(settings: SettingsWrapper) -> Iterator[Receiver]:
    """A receiver on 127.0.0.1: allowed for these tests only."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with Receiver() as server:
        yield server
