"""The API answers bad input with a 4xx and its error body, never a 500."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/rooms/99999999999999999999/messages/", "/api/search/?q=a&room=99999999999999999999"]
)
def test_ids_beyond_any_database_integer_are_a_4xx_not_a_500(path, api_as, make_user):
    response = api_as(make_user()).get(path)
    assert response.status_code in (400, 404) and response.json()["code"] in ("invalid", "not_found")


@pytest.mark.parametrize("path", ["/api/rooms/null,null/", "/api/no-such-endpoint/", "/api/users/1e9/"])
def test_an_api_url_no_route_matches_is_a_json_404(client, path):
    response = client.get(path)
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


def test_a_page_url_no_route_matches_is_still_the_site_s_404_page(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


@pytest.mark.django_db
def test_errors_inside_a_list_are_flat_messages_saying_which_item(api_as, make_user):
    from tests.rooms.factories import group_room

    person = make_user("ann")
    room = group_room(person)
    response = api_as(person).post(
        f"/api/rooms/{room.pk}/messages/",
        {"body": "hi", "client_id": "8a7c4d1e-0000-4000-8000-000000000000", "attachments": [5, 0]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["fields"] == {"attachments": ["1: Ensure this value is greater than or equal to 1."]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/reports/", {"user": 1, "reason": "spam", "room": 99999999999999999999}),
        ("/api/reports/", {"user": 1, "reason": "spam", "message": 99999999999999999999}),
        ("/api/rooms/public/?offset=250675118817350107489370112", None),
    ],
)
def test_numbers_beyond_any_database_integer_in_bodies_and_queries_are_400s(path, body, api_as, make_user):
    client = api_as(make_user("ann"))
    response = client.get(path) if body is None else client.post(path, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
