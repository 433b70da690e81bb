"""Property-based fuzzing of the whole API against its own OpenAPI schema (schemathesis, in process).

Every operation of /api/schema/ is called with generated input (valid and invalid) by a verified
person who has rooms, messages, friends and a pending request, and each answer must be no 5xx, a
status the operation documents, with the documented content type and a body matching the schema.

These four checks are the promise ("no 500s, nothing that breaks the schema"). schemathesis's other
checks judge how strict input validation is (e.g. that a random id a schema allows is accepted) and
would fail on every 404 for someone else's room, which is the authorization rule, not a defect.

FUZZ_EXAMPLES (default 6 per operation) bounds the run to well under two minutes; raise it locally
for a longer hunt. The examples are derandomized so CI runs are reproducible.
"""

import os
import uuid

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as account_services
from chat import services as chat_services
from config.wsgi import application
from tests.accounts.social import befriend
from tests.rooms.factories import group_room

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture
def connection_kept():
    """What Django's test client does around a request: the end of a request must not close the
    database connection, which holds the test's transaction."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzzed_person(db, make_user, connection_kept):
    ann, ben, cat = make_user("ann"), make_user("ben"), make_user("cat")
    room = group_room(ann, ben)
    group_room(ben, title="Public", public=True)
    for body in ("hello @ben", "second"):
        chat_services.message_send(author=ann, room_id=room.pk, body=body, client_id=uuid.uuid4())
    befriend(ann, ben)
    account_services.friend_request_send(sender=cat, recipient=ann)
    return ann


# Served by the app itself, as clients get it; reading it needs no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_no_input_makes_the_api_fail_or_break_its_schema(case, fuzzed_person):
    token = RefreshToken.for_user(fuzzed_person).access_token
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)
