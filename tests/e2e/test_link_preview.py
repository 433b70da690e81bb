from playwright.sync_api import expect

from tests.chat.web import card_page, page
from tests.e2e.conftest import open_direct_room


def test_a_link_s_card_appears_live_in_the_other_browser_and_after_a_reload(server, signed_in, web_site):
    web_site.routes["/article"] = page(card_page(title="A <b>bold</b> claim", description="Read all about it"))
    # Handles no other browser test uses: the server (and its people) lasts the session.
    server.make_people("dee", "ezra")
    dee, eve = signed_in("dee"), signed_in("ezra")
    eve.goto(open_direct_room(server, dee, "ezra"))

    dee.get_by_role("textbox", name="Message").fill(f"have you seen {web_site.url('/article')} ?")
    dee.keyboard.press("Enter")

    card = eve.locator(".message .link-preview")
    expect(card.locator(".title")).to_have_text("A <b>bold</b> claim")
    expect(card.locator(".description")).to_have_text("Read all about it")
    expect(card).to_have_attribute("href", web_site.url("/article"))
    expect(card.locator("img")).to_have_attribute("src", web_site.url("/card.png"))
    expect(card.locator("img")).to_have_attribute("referrerpolicy", "no-referrer")
    expect(dee.locator(".message .link-preview .title")).to_have_text("A <b>bold</b> claim")

    eve.reload()
    expect(eve.locator(".message .link-preview .title")).to_have_text("A <b>bold</b> claim")
