"""What an idle socket keeps: its user, not the session it signed in with; one task; no database
connection object of its own (docs/PERFORMANCE.md: at most 40 KB of server memory per idle socket)."""

import contextvars

import pytest
from django.db import connections

from chat.db import in_db_thread

pytestmark = pytest.mark.django_db(transaction=True)


async def test_choosing_a_database_thread_builds_no_connection_in_the_sockets_context():
    # In async code Django's connections are local to each task's context: one built there
    # would live as long as the socket's task.
    def choose():
        in_db_thread(len)
        return connections.all(initialized_only=True)

    assert contextvars.Context().run(choose) == []
