"""On PostgreSQL, the head of each person's JSON as lists write it (chat.events.user_summary: "id", "handle"
and "display_name"), kept in the row by a trigger: the rooms list reads it for each room's peer and newest
message's author (up to 1,000 a request) instead of writing it (about 0.3 ms of PostgreSQL's CPU a list
of 500 rooms).

The trigger fires on an INSERT, and on an UPDATE that sets any of those columns (or summary_head itself,
which therefore cannot be written wrong), whoever makes it and whether or not the value changed.
"""

from functools import partial

from django.db import migrations

POSTGRESQL_FORWARD = """
ALTER TABLE accounts_user ADD COLUMN summary_head text;

CREATE FUNCTION accounts_user_summary_head() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.summary_head := '{"id":' || NEW.id || ',"handle":' || to_json(NEW.handle)::text
        || ',"display_name":' || to_json(NEW.display_name)::text;
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_user_summary_head BEFORE INSERT OR UPDATE OF id, handle, display_name, summary_head
    ON accounts_user FOR EACH ROW EXECUTE FUNCTION accounts_user_summary_head();

UPDATE accounts_user SET summary_head = NULL;  -- the trigger writes every existing person's
"""

POSTGRESQL_BACKWARD = """
DROP TRIGGER accounts_user_summary_head ON accounts_user;
DROP FUNCTION accounts_user_summary_head();
ALTER TABLE accounts_user DROP COLUMN summary_head;
"""


def on_postgresql(apps, schema_editor, *, sql: str) -> None:
    if schema_editor.connection.vendor == "postgresql":  # SQLite (embedded mode) reads lists through the ORM
        schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0010_friendship_friend_key")]
    operations = [
        migrations.RunPython(partial(on_postgresql, sql=POSTGRESQL_FORWARD), partial(on_postgresql, sql=POSTGRESQL_BACKWARD))
    ]
