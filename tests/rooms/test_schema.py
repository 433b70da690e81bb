import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_documents_rooms_and_messages(api_as, make_user):
    response = api_as(make_user()).get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    schema = response.json()
    for path in (
        "/api/rooms/",
        "/api/rooms/{room_id}/",
        "/api/rooms/{room_id}/members/",
        "/api/rooms/{room_id}/members/{user_id}/",
        "/api/rooms/{room_id}/transfer/",
        "/api/rooms/direct/",
        "/api/rooms/{room_id}/messages/",
        "/api/rooms/{room_id}/read/",
        "/api/messages/{message_id}/",
        "/api/messages/{message_id}/reactions/",
        "/api/invites/",
        "/api/invites/{invite_id}/accept/",
    ):
        assert path in schema["paths"], path
    message = schema["components"]["schemas"]["MessagePayload"]["properties"]
    assert message["reactions"]["items"]["$ref"].endswith("/ReactionSummaryPayload")
    responses = set(schema["paths"]["/api/rooms/{room_id}/messages/"]["post"]["responses"])
    assert responses == {"200", "201", "400", "401", "403", "404", "429"}
