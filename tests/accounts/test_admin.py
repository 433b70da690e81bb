import pytest

from accounts.models import User

pytestmark = pytest.mark.django_db


def test_admins_search_people_by_email_handle_and_name(admin_browser, make_user):
    make_user("zed", display_name="Zed Zebra")
    make_user("amy")
    page = admin_browser.get("/admin/accounts/user/?q=zebra")
    assert b"zed@example.com" in page.content and b"amy@example.com" not in page.content


def test_admins_filter_by_verification(admin_browser, make_user):
    make_user("pending", verified=False)
    page = admin_browser.get("/admin/accounts/user/?verified=no")
    assert b"pending@example.com" in page.content and b"boss@example.com" not in page.content


def test_admins_verify_and_deactivate_people(admin_browser, make_user):
    pending = make_user("pending", verified=False)
    troll = make_user("troll")
    admin_browser.post("/admin/accounts/user/", {"action": "verify_users", "_selected_action": [pending.pk]})
    asked = admin_browser.post("/admin/accounts/user/", {"action": "deactivate_users", "_selected_action": [troll.pk]})
    assert b"Reason" in asked.content  # The action asks why first.
    admin_browser.post(
        "/admin/accounts/user/",
        {"action": "deactivate_users", "_selected_action": [troll.pk], "apply": "1", "reason": "trolling"},
    )
    pending.refresh_from_db()
    troll.refresh_from_db()
    assert pending.is_verified and not troll.is_active


def test_the_user_list_runs_a_fixed_number_of_queries(admin_browser, make_user, django_assert_max_num_queries):
    for _ in range(30):
        make_user()
    with django_assert_max_num_queries(8):
        assert admin_browser.get("/admin/accounts/user/").status_code == 200
    assert User.objects.count() == 31
