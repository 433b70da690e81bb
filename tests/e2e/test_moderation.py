from playwright.sync_api import expect

from tests.e2e.conftest import open_direct_room


def test_a_message_removed_in_the_admin_turns_into_the_moderators_note_live(server, signed_in):
    server.make_people("gil", "hal")
    server.make_moderator("mia")
    gil, hal, mia = signed_in("gil"), signed_in("hal"), signed_in("mia")
    hal.goto(open_direct_room(server, gil, "hal"))
    gil.get_by_role("textbox", name="Message").fill("cheap watches zq7unique")
    gil.keyboard.press("Enter")
    expect(hal.locator(".message .body").last).to_have_text("cheap watches zq7unique")

    mia.goto(f"{server.url}/admin/chat/message/?q=zq7unique")
    mia.locator("input.action-select").first.check()
    mia.locator("select[name=action]").select_option("remove_messages")
    mia.get_by_role("button", name="Go").click()
    mia.get_by_label("Reason").fill("Spam <b>ads</b>")
    mia.get_by_role("button", name="Remove selected messages").click()

    expect(hal.locator(".message .body").last).to_have_text("Removed by a moderator: Spam <b>ads</b>")
    hal.reload()
    expect(hal.locator(".message .body").last).to_have_text("Removed by a moderator: Spam <b>ads</b>")
