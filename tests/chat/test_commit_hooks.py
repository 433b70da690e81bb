"""chat.db.on_commit_robust: a hook failing after commit is logged; the committed work stands."""

from functools import partial

import pytest
from django.db import transaction

from chat.db import on_commit_robust

pytestmark = pytest.mark.django_db(transaction=True)


def refuse(reason: str) -> None:
    raise ConnectionError(reason)


def test_a_failing_hook_made_of_a_partial_is_logged_and_the_caller_carries_on(caplog):
    ran = []
    with transaction.atomic():
        on_commit_robust(partial(refuse, "Redis is away"))
        on_commit_robust(partial(ran.append, "the next hook"))
    assert ran == ["the next hook"]
    assert "Error calling refuse in on_commit()" in caplog.text and "Redis is away" in caplog.text
