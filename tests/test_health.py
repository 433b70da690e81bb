import logging

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_service():
    response = Client().get("/healthz")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.services
def test_healthz_is_503_when_redis_is_down(settings):
    from tests.conftest import free_port

    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    response = Client().get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and not body["checks"]["redis"]["ok"]
    assert body["checks"]["database"]["ok"]


def test_every_response_carries_a_request_id_and_logs_use_it(caplog):
    with caplog.at_level(logging.WARNING):
        response = Client().get("/api/me/", HTTP_X_REQUEST_ID="trace-me-123")
    assert response["X-Request-ID"] == "trace-me-123"
    assert any(getattr(record, "correlation_id", None) == "trace-me-123" for record in caplog.records)
    assert Client().get("/healthz")["X-Request-ID"]
