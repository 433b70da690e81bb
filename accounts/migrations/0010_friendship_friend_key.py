"""Friendship.friend_key, and on PostgreSQL what keeps it and the index that pages by it."""

from django.db import migrations, models

POSTGRESQL_FORWARD = """
UPDATE accounts_friendship f SET friend_key = UPPER(u.handle) FROM accounts_user u WHERE u.id = f.friend_id;

-- FOR SHARE: a rename of the friend not yet committed is waited for (its own trigger cannot see
-- this row before it commits), and a rename after it waits for this row to commit.
CREATE FUNCTION accounts_friendship_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.friend_key := (SELECT UPPER(handle) FROM accounts_user WHERE id = NEW.friend_id FOR SHARE);
    RETURN NEW;
END $$;
CREATE TRIGGER accounts_friendship_key BEFORE INSERT OR UPDATE OF friend_id, friend_key ON accounts_friendship
    FOR EACH ROW EXECUTE FUNCTION accounts_friendship_key();

CREATE FUNCTION accounts_user_handle_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts_friendship SET friend_key = UPPER(NEW.handle) WHERE friend_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER accounts_user_handle_key AFTER UPDATE OF handle ON accounts_user
    FOR EACH ROW WHEN (OLD.handle IS DISTINCT FROM NEW.handle) EXECUTE FUNCTION accounts_user_handle_key();

-- Byte order ("C"), as the cursor's key compares in Python: a language collation orders "_" elsewhere.
CREATE INDEX friendship_user_key ON accounts_friendship (user_id, friend_key COLLATE "C");
"""

POSTGRESQL_BACKWARD = """
DROP INDEX friendship_user_key;
DROP TRIGGER accounts_user_handle_key ON accounts_user;
DROP FUNCTION accounts_user_handle_key();
DROP TRIGGER accounts_friendship_key ON accounts_friendship;
DROP FUNCTION accounts_friendship_key();
"""


def postgresql_only(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0009_user_api_logout_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="friendship",
            name="friend_key",
            field=models.CharField(default="", editable=False, max_length=30),
        ),
        migrations.RunPython(postgresql_only(POSTGRESQL_FORWARD), postgresql_only(POSTGRESQL_BACKWARD)),
    ]
