"""Malformed and pickle-serialized broker messages: refused and logged, the worker carries on."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from kombu import Connection, Producer

from tests.faults.conftest import send_task
from tests.faults.ledger import ledger, report
from tests.faults.test_worker_crash import create_due_events
from tests.ops.test_worker_ops import MakesADirectoryWhenUnpickled, publish_pickled_task
from tests.support import processes

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]
SWEEP = "events.mark_ended_events_as_completed"


def publish_raw(broker_url: str, body: bytes, headers: dict[str, object], content_type: str) -> str:
    task_id = str(uuid.uuid4())
    with Connection(broker_url) as conn:
        Producer(conn).publish(
            body,
            exchange="celery",
            routing_key="celery",
            declare=[],
            content_type=content_type,
            content_encoding="utf-8",
            headers={"lang": "py", "id": task_id, "root_id": task_id, **headers},
            correlation_id=task_id,
        )
    return task_id


def test_bad_messages_are_refused_and_the_worker_keeps_processing(
    fault_env: dict[str, str], tmp_path: Path
) -> None:
    broker = fault_env["CELERY_BROKER_URL"]
    marker = tmp_path / "pickle-payload-ran"
    worker = processes.worker(fault_env, "-c", "1").start()
    try:
        worker.wait_for_output("ready.", 60)
        bad = {
            "pickle": publish_pickled_task(broker, SWEEP, MakesADirectoryWhenUnpickled(marker)),
            "not json": publish_raw(broker, b"{not json", {"task": SWEEP}, "application/json"),
            "unknown task": publish_raw(
                broker, b"[[], {}, {}]", {"task": "events.no_such_task"}, "application/json"
            ),
            "args not a list": publish_raw(
                broker, b'{"args": 1}', {"task": SWEEP}, "application/json"
            ),
            "unknown content type": publish_raw(broker, b"\x00\x01", {"task": SWEEP}, "x-evil"),
        }
        create_due_events(50)
        good = send_task(fault_env, SWEEP)
        processes.wait_for(lambda: f"{SWEEP}[{good}] succeeded" in worker.output(), 60)
        assert worker.proc is not None
        assert worker.proc.poll() is None
    finally:
        worker.stop()
    output = worker.output()
    assert not marker.exists(), "the pickle payload was deserialized"
    assert "ContentDisallowed" in output or "untrusted content" in output
    assert "events.no_such_task" in output
    assert ledger().completed == 50
    assert ledger().duplicates == 0
    report(
        "malformed and pickle messages",
        bad_messages=len(bad),
        worker_alive=True,
        good_task_after_them="succeeded",
        pickle_payload_ran=marker.exists(),
    )
