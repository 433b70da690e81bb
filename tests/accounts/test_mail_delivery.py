"""The whole sign-up path on real services: API -> Redis broker -> Celery worker -> SMTP."""

import re

import pytest

from tests.conftest import PASSWORD

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_a_celery_worker_mails_the_code_over_smtp_and_the_code_verifies(
    api, smtp_inbox, celery_worker_process, settings
):
    worker = celery_worker_process(EMAIL_URL=f"smtp://127.0.0.1:{smtp_inbox.port}", SITE_URL="http://chat.example")

    response = api.post(
        "/api/auth/register/",
        {"email": "real@example.com", "handle": "realmail", "password": PASSWORD},
        format="json",
        HTTP_X_REQUEST_ID="signup-trace-42",
    )
    assert response.status_code == 202

    [mail] = smtp_inbox.wait_for(1, timeout=45)
    assert mail["To"] == "real@example.com"
    code = re.search(r"\b(\d{6})\b", mail["Subject"]).group(1)
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert code in text and "http://chat.example/verify/" in text
    assert mail.get_body(preferencelist=("html",)) is not None

    verified = api.post("/api/auth/verify/", {"email": "real@example.com", "code": code})
    assert verified.status_code == 200
    assert "signup-trace-42" in worker.log_path.read_text(), "the request id reaches the worker's log lines"
