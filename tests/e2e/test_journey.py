"""Issue 8's "done when": people sign up through the pages, become friends, talk live in a direct
room and a group room, and the app shell (sidebar, bell, title) follows along without reloads."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import PASSWORD, log_in

CODE = re.compile(r"\b(\d{6})\b")


def sign_up(server, mail_inbox, page, handle: str) -> None:
    """Through the sign-up and verify pages, with the code from the mail the server really sent."""
    page.goto(f"{server.url}/signup/")
    page.get_by_label("E-mail").fill(f"{handle}@example.com")
    page.get_by_label("Handle").fill(handle)
    page.get_by_label("Display name").fill(handle.title())
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/verify/"))
    page.get_by_label("Code").fill(verification_code(mail_inbox, f"{handle}@example.com"))
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(f"{server.url}/settings/profile/")
    expect(page.locator("#sidebar")).to_be_visible()


def verification_code(mail_inbox, address: str) -> str:
    for _ in range(3):
        for message in reversed(mail_inbox.wait_for(len(mail_inbox.messages) + 1, timeout=5)):
            if message["To"] == address:
                return CODE.search(message.get_body(("plain",)).get_content()).group(1)
    raise AssertionError(f"no verification mail to {address}")


def listening(page) -> None:
    """Wait until the page's socket listens to all my rooms (sidebar.js marks the body on "hello")."""
    expect(page.locator("body[data-live=on]")).to_have_count(1)


def conversation(page, name: str):
    return page.locator("#sidebar-rooms li", has_text=name)


def say(page, text: str) -> None:
    page.wait_for_load_state("load")  # the room's script is running: Enter sends rather than adds a line
    page.get_by_role("textbox", name="Message").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator(".message .body").last).to_have_text(text)
    expect(page.locator(".pending")).to_have_count(0)


def test_sign_up_befriend_talk_in_a_dm_and_a_group_and_the_shell_follows_live(server, mail_inbox, chromium):
    contexts = [chromium.new_context(viewport={"width": 1100, "height": 760}) for _ in range(3)]
    wren, yara, zane = (context.new_page() for context in contexts)
    for page, handle in ((wren, "wren"), (yara, "yara"), (zane, "zane")):
        sign_up(server, mail_inbox, page, handle)

    # A friend request: Yara's bell counts it while she looks at another page.
    yara.goto(f"{server.url}/friends/")
    listening(yara)
    expect(yara.locator("[data-notification-badge]")).to_be_hidden()
    wren.goto(f"{server.url}/u/yara/")
    wren.get_by_role("button", name="Add friend").click()
    expect(wren.locator(".flash")).to_contain_text("Friend request sent to @yara")
    expect(yara.locator("[data-notification-badge]")).to_have_text("1")
    yara.reload()
    yara.get_by_role("listitem").filter(has_text="@wren").get_by_role("button", name="Accept").click()
    expect(yara.locator(".flash")).to_contain_text("You and @wren are friends now")
    expect(yara.locator(".friend-list")).to_contain_text("Wren")

    # A direct room: it appears in Yara's sidebar as Wren opens it, then its first message with a badge.
    wren.goto(f"{server.url}/u/yara/")
    wren.get_by_role("button", name="Message").click()
    expect(wren).to_have_url(re.compile(r"/rooms/\d+/$"))
    dm_url = wren.url
    expect(conversation(yara, "Wren")).to_have_count(1)
    say(wren, "Hi Yara <b>friend</b>")
    row = conversation(yara, "Wren")
    expect(row.locator(".conversation-last")).to_have_text("Wren: Hi Yara <b>friend</b>")
    expect(row.locator("[data-unread]")).to_have_text("1")
    expect(yara).to_have_title(re.compile(r"^\(1\) "))
    expect(row.locator(".presence")).to_have_class(re.compile(r"\bonline\b"))  # Wren is connected.

    row.get_by_role("link").click()
    expect(yara).to_have_url(dm_url)
    listening(yara)
    expect(yara.locator(".message .body")).to_have_text(["Hi Yara <b>friend</b>"])
    expect(conversation(yara, "Wren").locator(".conversation-badge")).to_be_hidden()
    expect(yara).not_to_have_title(re.compile(r"^\("))
    yara.wait_for_load_state("load")
    yara.get_by_role("textbox", name="Message").press_sequentially("hello", delay=30)
    expect(wren.locator("#typing")).to_contain_text("@yara is typing")
    yara.keyboard.press("Enter")
    expect(wren.locator(".message .body").last).to_have_text("hello")

    # A public group room: Wren creates it, Zane finds it in the directory, joins and talks.
    wren.get_by_role("link", name="New room").click()
    wren.get_by_label("Title").fill("Garden")
    wren.get_by_label("Public").check()
    wren.get_by_role("button", name="Create room").click()
    expect(wren.locator("#room")).to_be_visible()
    expect(conversation(wren, "# Garden")).to_have_count(1)
    listening(wren)
    zane.get_by_role("link", name="Directory").click()
    zane.get_by_role("button", name="Join Garden").click()
    expect(zane.locator("#room")).to_be_visible()
    say(zane, "Hello garden")
    expect(wren.locator(".message .body").last).to_have_text("Hello garden")

    # The sidebar reorders and badges live: Wren is back in the DM, which Yara's message moves up;
    # then Zane writes in the garden, which moves up with a badge (Wren is not looking at it).
    wren.goto(dm_url)
    listening(wren)
    expect(wren.locator("#sidebar-rooms li").first).to_contain_text("# Garden")
    say(yara, "still there?")
    expect(wren.locator("#sidebar-rooms li").first).to_contain_text("Yara: still there?")
    expect(conversation(wren, "Yara").locator(".conversation-badge")).to_be_hidden()  # the open room
    garden = conversation(wren, "# Garden")
    # "Hello garden" counts as unread unless Wren's page told the server it was read before she left.
    unread_before = int(garden.locator("[data-unread]").text_content())
    say(zane, "Anyone here?")
    expect(wren.locator("#sidebar-rooms li").first).to_contain_text("# Garden")
    expect(garden.locator("[data-unread]")).to_have_text(str(unread_before + 1))
    expect(garden.locator(".conversation-last")).to_have_text("Zane: Anyone here?")
    expect(wren).to_have_title(re.compile(rf"^\({unread_before + 1}\) "))
    # Reading the garden in another tab of Wren's clears the badge here (a "read" event of mine).
    other_tab = contexts[0].new_page()
    other_tab.goto(server.url + garden.get_by_role("link").get_attribute("href"))
    expect(other_tab.locator(".message .body")).to_have_text(["Hello garden", "Anyone here?"])
    expect(garden.locator(".conversation-badge")).to_be_hidden()
    expect(wren).not_to_have_title(re.compile(r"^\("))

    # A reload shows the history.
    zane.reload()
    expect(zane.locator(".message .body")).to_have_text(["Hello garden", "Anyone here?"])

    # Without JavaScript: log in, read the room, send through the plain form.
    quiet = chromium.new_context(java_script_enabled=False)
    contexts.append(quiet)
    page = quiet.new_page()
    log_in(server, page, "zane")
    page.goto(zane.url)
    expect(page.locator(".message .body")).to_have_text(["Hello garden", "Anyone here?"])
    expect(page.locator("#sidebar-rooms li")).to_have_count(1)
    page.get_by_role("textbox", name="Message").fill("sent without scripts")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message .body").last).to_have_text("sent without scripts")
    expect(wren.locator("#sidebar-rooms li").first).to_contain_text("Zane: sent without scripts")
    for context in contexts:
        context.close()
