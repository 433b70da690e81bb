from playwright.sync_api import expect

from tests.e2e.conftest import open_direct_room


def test_two_people_chat_live_in_a_direct_room(server, signed_in):
    server.make_people("ann", "bob")
    ann, bob = signed_in("ann"), signed_in("bob")

    bob.goto(open_direct_room(server, ann, "bob"))
    expect(bob.locator(".members li", has_text="Ann").locator(".presence.online")).to_have_count(1)

    ann.get_by_role("textbox", name="Message").fill("Hi Bob <script>alert(1)</script>")
    ann.keyboard.press("Enter")
    expect(bob.locator(".message .body").last).to_have_text("Hi Bob <script>alert(1)</script>")
    expect(ann.locator(".pending")).to_have_count(0)

    bob.get_by_role("textbox", name="Message").press_sequentially("typing", delay=30)
    expect(ann.locator("#typing")).to_have_text("@bob is typing…")
    bob.keyboard.press("Enter")
    expect(ann.locator(".message .body").last).to_have_text("typing")

    bob.reload()
    expect(bob.locator(".message .body")).to_have_text(["Hi Bob <script>alert(1)</script>", "typing"])


def test_a_room_can_be_created_and_written_in_without_javascript(server, chromium):
    server.make_people("cat")
    context = chromium.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server.url}/login/")
    page.fill("#id_username", "cat@example.com")
    page.fill("#id_password", "correct horse battery staple")
    page.click("button[type=submit]")
    page.goto(f"{server.url}/rooms/")
    page.fill("#id_title", "Quiet room")
    page.get_by_role("button", name="Create room").click()
    page.get_by_role("textbox", name="Message").fill("posted without scripts")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message .body")).to_have_text(["posted without scripts"])
    context.close()


def test_a_strangers_first_message_waits_as_a_request_until_accepted(server, signed_in):
    server.make_people("dan", "eve")
    dan, eve = signed_in("dan"), signed_in("eve")
    eve.goto(f"{server.url}/settings/profile/")
    eve.get_by_label("Who may message me").select_option("requests")
    eve.get_by_role("button", name="Save profile").click()

    open_direct_room(server, dan, "eve")
    dan.get_by_role("textbox", name="Message").fill("Hello Eve, we met at the fair")
    dan.keyboard.press("Enter")
    expect(dan.locator(".pending")).to_have_count(0)

    eve.goto(f"{server.url}/rooms/")
    requests = eve.get_by_role("region", name="Message requests")
    expect(requests).to_contain_text("Hello Eve, we met at the fair")
    expect(eve.locator(".room-list")).to_have_count(0)  # not among her rooms
    requests.get_by_role("button", name="Accept").click()

    expect(eve).to_have_url(dan.url)
    expect(eve.locator(".attach.enhanced")).to_have_count(1)  # the room's scripts run: Enter sends
    expect(eve.locator(".message .body")).to_have_text(["Hello Eve, we met at the fair"])
    eve.get_by_role("textbox", name="Message").fill("Hi Dan!")
    eve.keyboard.press("Enter")
    expect(dan.locator(".message .body").last).to_have_text("Hi Dan!")
