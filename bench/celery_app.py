"""The production Celery app plus `bench.noop`, the baseline task (`celery -A bench.celery_app`)."""

from core.celery import app


@app.task(name="bench.noop")
def noop() -> int:
    """Does nothing and returns 0: what dispatch and result storage cost on their own."""
    return 0


__all__ = ["app", "noop"]
