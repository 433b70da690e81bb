import re

from playwright.sync_api import expect


def test_two_strangers_meet_in_the_lobby_talk_and_one_moves_on(server, signed_in):
    server.make_people("lia", "leo")
    lia, leo = signed_in("lia"), signed_in("leo")
    for page in (lia, leo):
        page.get_by_role("link", name="Lobby").click()
        expect(page.locator("#online-count")).not_to_have_text("0")

    lia.get_by_label("Interests").fill("#Chess go")
    lia.get_by_role("button", name="Talk to a stranger").click()
    expect(lia.get_by_role("status").filter(has_text="Looking for someone who likes chess, go")).to_be_visible()
    expect(leo.locator("#waiting-count")).to_have_text("1")  # Pushed to the other lobby page.
    leo.get_by_label("Interests").fill("go")
    leo.get_by_role("button", name="Talk to a stranger").click()

    expect(lia).to_have_url(re.compile(r"/rooms/\d+/$"))
    expect(leo).to_have_url(lia.url)
    expect(lia.get_by_role("heading", name="Stranger: Leo")).to_be_visible()
    # Both rooms' scripts have run (they mark the composer's file field): Enter pressed before that
    # is a new line in a plain textarea, and nothing is sent.
    for page in (lia, leo):
        expect(page.locator(".attach.enhanced")).to_have_count(1)
    lia.get_by_role("textbox", name="Message").fill("hello <b>stranger</b>")
    lia.keyboard.press("Enter")
    expect(leo.locator(".message .body").last).to_have_text("hello <b>stranger</b>")

    leo.get_by_role("button", name="Next").click()
    expect(lia.locator("#stranger-status")).to_contain_text("They left")
    expect(lia.get_by_role("textbox", name="Message")).to_be_hidden()
    expect(leo.locator("#stranger-status")).to_have_text("Looking for someone new…")

    lia.get_by_role("button", name="Add Leo as a friend").click()
    expect(lia.locator("#stranger-status")).to_contain_text("Friend request sent")
