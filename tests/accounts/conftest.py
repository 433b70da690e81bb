import re

import pytest

from tests.conftest import PASSWORD

CODE = re.compile(r"\b(\d{6})\b")
LINK = re.compile(r"/verify/([A-Za-z0-9_\-]+)/")


def code_in(mail) -> str:
    return CODE.search(mail.subject).group(1)


def link_token_in(mail) -> str:
    return LINK.search(mail.body).group(1)


@pytest.fixture
def register(api, django_capture_on_commit_callbacks):
    """register(email, handle) posts a sign-up and runs what it queued (eager Celery)."""

    def post(email="new@example.com", handle="newbie", password=PASSWORD, **extra):
        with django_capture_on_commit_callbacks(execute=True):
            return api.post(
                "/api/auth/register/", {"email": email, "handle": handle, "password": password, **extra}, format="json"
            )

    return post
