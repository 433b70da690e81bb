"""A GIN index over the words of every message body, for /api/search/ (PostgreSQL only).

An expression index rather than a stored tsvector column: adding a generated column would rewrite
the whole message table under an exclusive lock and store every body twice, while an expression
index is built beside the table, CONCURRENTLY, without blocking sends. Kept up to date by
PostgreSQL on every insert and edit. chat/search.py queries the identical expression
(`to_tsvector('simple'::regconfig, body)`), which is what lets the planner use it; change both or neither.
SQLite (embedded mode) has no index here: search falls back to a contains-match there.
"""

from django.db import migrations

INDEX = "message_body_search"
CREATE = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON chat_message USING gin (to_tsvector('simple'::regconfig, body))"
DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction. If a build is interrupted it leaves an INVALID
    # index behind: drop it by hand (DROP INDEX CONCURRENTLY message_body_search) and migrate again.
    atomic = False

    dependencies = [("chat", "0001_initial")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
