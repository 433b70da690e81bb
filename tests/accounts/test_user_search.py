"""GET /api/users/?search=: people by the start of their handle or display name."""

import pytest

from accounts.selectors import USER_SEARCH_LIMIT

pytestmark = pytest.mark.django_db


def handles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [person["handle"] for person in response.json()]


def search(client, text):
    return client.get("/api/users/", {"search": text})


def test_people_are_found_by_the_start_of_their_handle_in_any_case(ann, make_user, api_as):
    make_user("marta")
    make_user("martin")
    make_user("amart")

    assert handles(search(api_as(ann), "MAR")) == ["marta", "martin"]
    assert handles(search(api_as(ann), "@mart")) == ["marta", "martin"]


def test_people_are_found_by_the_start_of_their_display_name(ann, make_user, api_as):
    make_user("zed", display_name="Quentin Blake")
    make_user("yan", display_name="Anna Quill")

    assert handles(search(api_as(ann), "quen")) == ["zed"]
    assert handles(search(api_as(ann), "quill")) == []


def test_inactive_and_unverified_people_and_i_are_left_out(ann, make_user, api_as):
    make_user("annabel")
    make_user("annika", is_active=False)
    make_user("anneke", verified=False)

    assert handles(search(api_as(ann), "ann")) == ["annabel"]


def test_results_are_bounded_and_in_handle_order(ann, make_user, api_as):
    for number in range(USER_SEARCH_LIMIT + 5):
        make_user(f"sam{number:02d}")

    found = handles(search(api_as(ann), "sam"))

    assert found == [f"sam{number:02d}" for number in range(USER_SEARCH_LIMIT)]


def test_an_empty_search_finds_no_one(ann, ben, api_as):
    assert handles(api_as(ann).get("/api/users/")) == []
    assert handles(search(api_as(ann), "  ")) == []
    assert handles(search(api_as(ann), "@")) == []


def test_like_wildcards_are_plain_characters(ann, make_user, api_as):
    make_user("x_ray")
    make_user("xavier")

    assert handles(search(api_as(ann), "x_")) == ["x_ray"]
    assert handles(search(api_as(ann), "%")) == []


@pytest.mark.parametrize("text", ["x" * 61, "a\x00b"])
def test_a_too_long_or_nul_search_is_a_400(ann, api_as, text):
    response = search(api_as(ann), text)

    assert response.status_code == 400
    assert "search" in response.json()["fields"]


def test_strangers_cannot_search_people(api):
    assert search(api, "ann").status_code == 401


def test_a_search_costs_one_query_after_sign_in(ann, make_user, api_as, django_assert_num_queries):
    for number in range(10):
        make_user(f"sam{number}")
    client = api_as(ann)

    # The person behind the token, then the search.
    with django_assert_num_queries(2):
        assert len(handles(search(client, "sam"))) == 10
