"""The words of every message body as a stored column, GIN-indexed, in place of 0002's expression index.

Why: search takes the newest matches of a query; for words in a quarter of all messages PostgreSQL
finds them by walking the messages newest first, and with only an expression index it parsed every
body it walked (to_tsvector), then again to rank the candidates: 165 ms for two such words over a
million messages. The stored vector is parsed once, when a message is written or edited.

The price, paid once: adding a generated column rewrites chat_message under an exclusive lock
(sends wait meanwhile; the whole migration took 2 min 12 s for a million messages on the shared,
busy benchmark machine). The vectors take space beside the bodies: about 100 bytes for a short
message (the benchmark's rows grew from ~137 to ~238 bytes). The indexes are built and dropped
CONCURRENTLY, without blocking sends.
SQLite (embedded mode) gets an always-NULL column and no index: search is a contains-match there.
"""

import django.contrib.postgres.search
from django.db import migrations, models

import chat.models

INDEX = "message_search_vector"
CREATE = f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} ON chat_message USING gin (search_vector)"
DROP = f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"
OLD_INDEX = "message_body_search"
CREATE_OLD = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {OLD_INDEX} ON chat_message "
    "USING gin (to_tsvector('simple'::regconfig, body))"
)
DROP_OLD = f"DROP INDEX CONCURRENTLY IF EXISTS {OLD_INDEX}"
# Until its next autovacuum the planner knows nothing of the new column, and guessed that common words
# are rare: it read every match through the index (two common words: 600 ms instead of 118 ms in
# EXPLAIN ANALYZE on the busy benchmark machine).
ANALYZE = "ANALYZE chat_message"


def _on_postgresql(sql: str):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    # CONCURRENTLY cannot run inside a transaction. An interrupted build leaves an INVALID index
    # behind: drop it by hand (DROP INDEX CONCURRENTLY message_search_vector) and migrate again.
    atomic = False

    dependencies = [("chat", "0005_link_preview")]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=chat.models.BodyWords("body"),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
        migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False),
        migrations.RunPython(_on_postgresql(DROP_OLD), _on_postgresql(CREATE_OLD), elidable=False),
        migrations.RunPython(_on_postgresql(ANALYZE), migrations.RunPython.noop, elidable=False),
    ]
