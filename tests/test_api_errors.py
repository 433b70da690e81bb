"""The API answers bad input with a 4xx and its error body, never a 500."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/rooms/99999999999999999999/messages/", "/api/search/?q=a&room=99999999999999999999"]
)
def test_ids_beyond_any_database_integer_are_a_4xx_not_a_500(path, api_as, make_user):
    response = api_as(make_user()).get(path)
    assert response.status_code in (400, 404) and response.json()["code"] in ("invalid", "not_found")
