"""A trigram index for the discovery list's `?q=` title search (PostgreSQL only).

Django compiles `title__icontains` to `UPPER(title::text) LIKE UPPER('%term%')`, which no
B-tree can serve: at 1,000,000 events a rare term took 114-126 ms walking every active event.
A GIN trigram index on that same expression, partial on the discovery statuses, serves it:
6-8 ms (bench database, 1,000,000 events, 5 runs each). It is not in the model's Meta because
SQLite (`make dev`) has no pg_trgm; there, search scans as before.

pg_trgm is a trusted extension since PostgreSQL 13: the database's owner may create it. Where
the application's user may not, a superuser runs `CREATE EXTENSION pg_trgm` once beforehand.
"""

from django.db import migrations

INDEX = "event_title_trgm_idx"

CREATE = (
    f"CREATE INDEX IF NOT EXISTS {INDEX} ON events_event "
    "USING gin (UPPER(title::text) gin_trgm_ops) WHERE status IN ('CONFIRMED', 'ONGOING')"
)


def create_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(CREATE)


def drop_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("events", "0002_reminder")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
