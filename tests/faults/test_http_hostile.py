"""10,000 hostile HTTP requests, each one the API must refuse: no 5xx and no data changed."""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from apps.events.models import Event
from apps.events.tests.factories import EventFactory, UserFactory
from tests.faults.ledger import report
from tests.support.auth import token_for

pytestmark = [pytest.mark.faults, pytest.mark.django_db]
Status = Event.EventStatus
REQUESTS = 10_000
TABLES = (
    "events_event",
    "events_participation",
    "events_eventstatuschange",
    "auth_user",
    "knox_authtoken",
)

HUGE = "x" * 100_000
NASTY_STRINGS = [
    HUGE,
    "\x00",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "😀" * 500,
    "\ud800"[:0],
    "../../etc/passwd",
    "%00",
    "null",
    "-1",
    "1e309",
    "NaN",
    " ",
    "\u202e",
]
NASTY_QUERY_VALUES: list[Any] = []  # filled below, once the lists exist
QUERY_PARAMS = ["q", "status", "starts_after", "starts_before", "page_size", "cursor", "x"]
NASTY_IDS = ["0", "-1", "99999999999999999999999", "abc", "1.5", "%20", "1%00", "９"]
NASTY_VALUES: list[Any] = [
    None,
    True,
    -1,
    0,
    2**70,
    1.5,
    float("1e308"),
    "",
    [],
    {},
    [1, 2],
    {"a": {"b": {"c": []}}},
    *NASTY_STRINGS,
]
NASTY_DATES = [
    "yesterday",
    "2026-13-45T99:99",
    "0000-00-00",
    "9999-12-31T23:59:59+25:00",
    "2026-03-29T01:30",
    "1900-01-01T00:00Z",
    "2026-06-01T10:00+23:37",
    17,
    None,
]
NASTY_QUERY_VALUES += NASTY_STRINGS[1:] + NASTY_DATES[:7] + NASTY_IDS


def snapshot() -> str:
    digest = hashlib.sha256()
    with connection.cursor() as cursor:
        for table in TABLES:  # the constant list above: no value reaches the SQL text
            cursor.execute(f"SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t")  # noqa: S608
            digest.update(str(cursor.fetchone()).encode())
    return digest.hexdigest()


def invalid_event_body(rng: random.Random, start: str) -> bytes | Any:
    """A create/edit body that is invalid in at least one definite way."""
    good: dict[str, Any] = {"title": "t", "start_date": start}
    flaw = rng.randrange(9)
    if flaw == 0:
        return rng.choice([b"{", b"\xff\xfe", b"[]", b"null", b"title=x", HUGE.encode()])
    if flaw == 1:
        good["status"] = rng.choice(list(Status.values))
    elif flaw == 2:
        good["end_date"] = "2020-01-01T00:00:00Z"
    elif flaw == 3:
        good["title"] = HUGE
    elif flaw == 4:
        # Every one unparseable, except two valid instants given an end before the start.
        good["start_date"] = rng.choice([d for d in NASTY_DATES if d != "2026-06-01T10:00+23:37"])
        if good["start_date"] in ("2026-03-29T01:30", "1900-01-01T00:00Z"):
            good["end_date"] = "1800-01-01T00:00Z"
    elif flaw == 5:
        good["capacity"] = rng.choice([-5, 0, "abc", [], 2**70, 1.5])
    elif flaw == 6:
        good[rng.choice(["evil", "organizer", "id", "participant_count", "__proto__"])] = 1
    elif flaw == 7:
        del good["title"]
        good.pop("start_date") if rng.random() < 0.5 else None
    else:
        good["title"] = rng.choice([None, [], {}, 5, True])
    return good


def requests(
    rng: random.Random, ids: dict[str, list[int]], start: str
) -> Iterator[tuple[str, str, str, Any, Callable[[int], bool]]]:
    """(who, method, path, body, acceptable status) forever; every mutation must be refused."""
    any_id = ids["all"] + [int(i) for i in NASTY_IDS if i.lstrip("-").isdigit()]
    refused: Callable[[int], bool] = lambda s: 400 <= s < 500  # noqa: E731
    readable: Callable[[int], bool] = lambda s: s < 500  # noqa: E731
    while True:
        kind = rng.randrange(12)
        who = rng.choice(["anon", "other", "badtoken"])
        raw_id = rng.choice([str(rng.choice(any_id)), rng.choice(NASTY_IDS)])
        if kind == 0:
            params = "&".join(
                f"{rng.choice(QUERY_PARAMS)}={rng.choice(NASTY_QUERY_VALUES)}"
                for _ in range(rng.randrange(1, 4))
            )
            yield who, "get", f"/api/events/?{params}", None, readable
        elif kind == 1:
            yield who, "get", f"/api/events/{raw_id}/", None, readable
        elif kind == 2:
            params = f"status={rng.choice(NASTY_STRINGS[1:])}&role={rng.choice(NASTY_IDS)}"
            yield who, "get", f"/api/events/mine/?{params}", None, readable
        elif kind == 3:
            yield who, "get", f"/api/events/{raw_id}/history/", None, readable
        elif kind == 4:
            yield who, "post", "/api/events/", invalid_event_body(rng, start), refused
        elif kind == 5:
            target = rng.choice(ids["organizer"])
            body = rng.choice([invalid_event_body(rng, start), {"title": "hijack"}])
            yield who, "patch", f"/api/events/{target}/", body, refused
        elif kind == 6:
            yield who, "delete", f"/api/events/{rng.choice(ids['organizer'])}/", None, refused
        elif kind == 7:
            action = rng.choice(["confirm", "cancel", "complete"])
            yield (
                who,
                "post",
                f"/api/events/{rng.choice(ids['organizer'])}/{action}/",
                None,
                refused,
            )
        elif kind == 8:
            action = rng.choice(["join", "leave"])
            yield who, "post", f"/api/events/{rng.choice(ids['closed'])}/{action}/", None, refused
        elif kind == 9:
            account: dict[str, Any] = {
                "username": rng.choice(NASTY_VALUES),
                "email": rng.choice(NASTY_VALUES),
            }
            if rng.random() < 0.5:
                account["password"] = rng.choice([None, [], {}, 5, ""])
            yield "anon", "post", "/api/auth/register/", account, refused
        elif kind == 10:
            body = {"username": rng.choice(["organizer", *NASTY_STRINGS[1:5]]), "password": "wrong"}
            yield "anon", "post", "/api/auth/token/", body, refused
        else:
            yield who, "put", f"/api/events/{raw_id}/", {"title": "x"}, refused


def test_ten_thousand_hostile_requests_get_4xx_and_change_nothing(settings: Any) -> None:
    organizer, other = (
        UserFactory.create(username="organizer"),
        UserFactory.create(username="other"),
    )
    now = timezone.now()
    events = {
        status: EventFactory.create(
            organizer=organizer, status=status, start_date=now + timedelta(days=1)
        )
        for status in (Status.DRAFT, Status.CONFIRMED, Status.ONGOING)
    }
    for status in (Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED):
        events[status] = EventFactory.create(
            organizer=organizer,
            status=status,
            start_date=now - timedelta(days=2),
            end_date=now - timedelta(days=1),
        )
    ids = {
        "all": [e.pk for e in events.values()],
        "organizer": [e.pk for e in events.values()],
        "closed": [
            events[s].pk
            for s in (Status.DRAFT, Status.COMPLETED, Status.CANCELLED, Status.ARCHIVED)
        ],
    }
    clients = {"anon": APIClient(), "other": APIClient(), "badtoken": APIClient()}
    clients["other"].credentials(HTTP_AUTHORIZATION=f"Token {token_for(other)}")
    clients["badtoken"].credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    before = snapshot()

    rng = random.Random(20261125)
    statuses: Counter[int] = Counter()
    unexpected: list[tuple[str, str, str, int, str]] = []
    generator = requests(rng, ids, (now + timedelta(days=3)).isoformat())
    for _ in range(REQUESTS):
        who, method, path, body, acceptable = next(generator)
        client = clients[who]
        if isinstance(body, bytes):
            response = getattr(client, method)(path, body, content_type="application/json")
        elif body is None:
            response = getattr(client, method)(path)
        else:
            response = getattr(client, method)(
                path, json.dumps(body), content_type="application/json"
            )
        statuses[response.status_code] += 1
        if not acceptable(response.status_code) or response.status_code >= 500:
            unexpected.append(
                (who, method.upper(), path[:80], response.status_code, str(body)[:80])
            )
        if response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), (method, path[:80])
    after = snapshot()

    report(
        "HTTP hostile inputs",
        requests=REQUESTS,
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        unexpected=len(unexpected),
        statuses=dict(sorted(statuses.items())),
        data_changed=before != after,
    )
    assert unexpected == [], "\n".join(map(str, unexpected))
    assert before == after


# --- the classes found by probing from outside (issue 14) ----------------------------------------

DEEP_BODIES = [b"[" * 100_000, b'{"a":' * 50_000, b"[" * 3_000 + b"]" * 3_000]
# Each one invalid (capacity 0) whatever charset it is read in, so nothing may change.
INVALID = '{"title": "x", "capacity": 0}'
BAD_ENCODINGS = [
    b'{"title": "\xff\xfe\xfd", "capacity": 0}',
    INVALID.encode("utf-16"),
    INVALID.encode("utf-32"),
    b"\xef\xbb\xbf" + INVALID.encode(),
    b'{"title": "\xed\xa0\x80", "capacity": 0}',  # a UTF-8-encoded surrogate
    b"\x00\x00\x00{",
]
BODY_CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-16",
    "application/json; charset=no-such-charset",
    "application/json; charset=latin-1",
]
NUL_VALUES = ["%00", "a%00b", "%00%00%00", "1%00", "CONFIRMED%00"]
PAGE_PATHS = ["/", "/events/mine/", "/events/new/", "/accounts/login/", "/accounts/signup/"]
PAGE_PARAMS = ["q", "page", "completed", "next", "x"]
HEADERS = [
    "HTTP_AUTHORIZATION",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_USER_AGENT",
    "HTTP_REFERER",
    "HTTP_X_CSRFTOKEN",
]


def new_class_requests(
    ids: dict[str, list[int]],
) -> Iterator[tuple[str, str, str, Any, dict[str, str]]]:
    """(client, method, path, body, extra WSGI environ) for each new class of hostile input."""
    targets = ids["organizer"]
    for body in DEEP_BODIES + BAD_ENCODINGS:
        for content_type in BODY_CONTENT_TYPES:
            extra = {"CONTENT_TYPE": content_type}
            yield "owner", "post", "/api/events/", body, extra
            yield "owner", "patch", f"/api/events/{targets[0]}/", body, extra
            yield "anon", "post", "/api/auth/register/", body, extra
            yield "anon", "post", "/api/auth/token/", body, extra
    for value in NUL_VALUES:
        for path in PAGE_PATHS:
            for param in PAGE_PARAMS:
                yield "page", "get", f"{path}?{param}={value}", None, {}
        for param in QUERY_PARAMS:
            yield "anon", "get", f"/api/events/?{param}={value}", None, {}
            yield "owner", "get", f"/api/events/mine/?{param}={value}&status={value}", None, {}
        for header in HEADERS:
            raw = value.replace("%00", "\x00")
            yield "anon", "get", "/api/events/", None, {header: raw}
            yield "page", "get", "/", None, {header: f"Token {raw}"}
            # The owner's own token would replace a hostile Authorization header.
            who = "anon" if header == "HTTP_AUTHORIZATION" else "owner"
            yield who, "post", f"/api/events/{targets[1]}/cancel/", None, {header: raw}
        cookie = value.replace("%00", "\x00")
        yield "anon", "get", "/api/events/", None, {"HTTP_COOKIE": f"sessionid={cookie}"}
        yield "page", "get", "/events/mine/", None, {"HTTP_COOKIE": f"csrftoken={cookie}; x=1"}
    for query in [
        "status=CONFIRMED&status=COMPLETED",
        "status=DRAFT&status=ONGOING",
        "status=&status=&status=",
        "q=a&q=b&q=%00",
        "starts_after=yesterday&starts_after=2026-01-01T00:00Z",
        "page_size=1&page_size=abc",
        "cursor=a&cursor=b",
        "&".join(["status=CONFIRMED"] * 500),
    ]:
        yield "anon", "get", f"/api/events/?{query}", None, {}
        yield "owner", "get", f"/api/events/mine/?{query}&role=boss&role=organizer", None, {}
        yield "page", "get", f"/?{query}", None, {}


def test_new_hostile_classes_get_4xx_and_change_nothing() -> None:
    """Deep nesting, wrong encodings, NUL bytes in page queries, headers and cookies, repeated
    keys: never a 5xx, nothing changed, and every API refusal in JSON."""
    organizer = UserFactory.create(username="organizer")
    now = timezone.now()
    events = [
        EventFactory.create(organizer=organizer, status=s, start_date=now + timedelta(days=1))
        for s in (Status.DRAFT, Status.CONFIRMED)
    ]
    ids = {"organizer": [e.pk for e in events]}
    owner = APIClient(raise_request_exception=False)
    owner.credentials(HTTP_AUTHORIZATION=f"Token {token_for(organizer)}")
    page = Client(raise_request_exception=False)
    page.force_login(UserFactory.create(username="visitor"))
    clients: dict[str, Any] = {
        "owner": owner,
        "anon": APIClient(raise_request_exception=False),
        "page": page,
    }
    before = snapshot()

    statuses: Counter[int] = Counter()
    unexpected: list[tuple[str, str, str, int]] = []
    total = 0
    for who, method, path, body, extra in new_class_requests(ids):
        total += 1
        client = clients[who]
        if body is None:
            response = getattr(client, method)(path, **extra)
        else:
            headers = {k: v for k, v in extra.items() if k != "CONTENT_TYPE"}
            response = client.generic(method.upper(), path, body, extra["CONTENT_TYPE"], **headers)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            unexpected.append((who, method.upper(), path[:80], response.status_code))
        if path.startswith("/api/") and response.status_code >= 400:
            assert response["Content-Type"].startswith("application/json"), (method, path[:80])
    after = snapshot()

    report(
        "HTTP hostile inputs, new classes",
        requests=total,
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        statuses=dict(sorted(statuses.items())),
        data_changed=before != after,
    )
    assert unexpected == [], "\n".join(map(str, unexpected))
    assert statuses[400] > 0
    assert before == after
