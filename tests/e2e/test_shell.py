"""The app shell around every signed-in page: browser notifications, the account menu by keyboard,
the drawer on a phone."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import open_direct_room

# Records every Notification the page creates (the real one still runs), so the test can see it.
RECORD_NOTIFICATIONS = """
window.__notified = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.__notified.push({ title, body: options && options.body });
  }
};
"""
HIDE_PAGE = """() => {
  Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def notified(page, count: int) -> list[dict]:
    """The first `count` notifications the page created, once it has (polled: wait_for_function would
    need eval, which the site's Content-Security-Policy forbids)."""
    for _ in range(100):
        seen = page.evaluate("window.__notified")
        if len(seen) >= count:
            return seen
        page.wait_for_timeout(100)
    raise AssertionError(f"{count} notification(s) expected, the page created {len(seen)}")


def open_group_room_with(server, page, title: str, *, member: str) -> None:
    """From `page`, create a group room and open it; `member` is added to it behind the scenes."""
    page.goto(f"{server.url}/rooms/new/")
    page.get_by_label("Title").fill(title)
    page.get_by_role("button", name="Create room").click()
    expect(page).to_have_url(re.compile(r"/rooms/\d+/$"))
    server.run(
        "from rooms.models import Membership, Room; from accounts.models import User\n"
        f"Membership.objects.create(room=Room.objects.get(title={title!r}), user=User.objects.get(handle={member!r}))"
    )


def say(page, text: str) -> None:
    page.wait_for_load_state("load")
    page.get_by_role("textbox", name="Message").fill(text)
    page.keyboard.press("Enter")
    expect(page.locator(".message .body").last).to_have_text(text)


def test_direct_messages_and_mentions_pop_up_while_the_tab_is_hidden_once_turned_on(server, signed_in):
    server.make_people("opal", "piet")
    opal = signed_in("opal", permissions=["notifications"])
    opal.context.add_init_script(RECORD_NOTIFICATIONS)
    piet = signed_in("piet")
    open_direct_room(server, piet, "opal")
    say(piet, "before opting in")

    opal.goto(f"{server.url}/settings/profile/")
    toggle = opal.get_by_role("button", name="Turn on browser notifications")
    toggle.click()
    expect(opal.get_by_role("button", name="Turn off browser notifications")).to_have_attribute("aria-pressed", "true")
    opal.goto(f"{server.url}/friends/")
    expect(opal.locator("body[data-live=on]")).to_have_count(1)

    say(piet, "while you look")  # the tab is visible: no pop-up
    expect(opal.locator("#sidebar-rooms li", has_text="Piet").locator("[data-unread]")).to_have_text("2")
    opal.evaluate(HIDE_PAGE)
    say(piet, "while you are away")
    assert notified(opal, 1) == [{"title": "Piet", "body": "while you are away"}]

    # A mention in a group room pops up too (it arrives as notification.new of kind "mention").
    open_group_room_with(server, piet, "Porch", member="opal")
    say(piet, "ping @opal")
    assert notified(opal, 2)[1] == {"title": "Piet mentioned you in # Porch", "body": "ping @opal"}


def test_a_direct_message_that_mentions_me_pops_up_once_and_a_muted_one_not_at_all(server, signed_in):
    server.make_people("quin", "rafe")
    quin = signed_in("quin", permissions=["notifications"])
    quin.context.add_init_script(RECORD_NOTIFICATIONS)
    rafe = signed_in("rafe")
    open_direct_room(server, rafe, "quin")
    say(rafe, "hello")
    quin.goto(f"{server.url}/settings/profile/")
    quin.get_by_role("button", name="Turn on browser notifications").click()
    expect(quin.get_by_role("button", name="Turn off browser notifications")).to_be_visible()

    quin.goto(f"{server.url}/friends/")
    expect(quin.locator("body[data-live=on]")).to_have_count(1)
    quin.evaluate(HIDE_PAGE)
    say(rafe, "look @quin")
    say(rafe, "and this")
    notified(quin, 2)
    quin.wait_for_timeout(500)
    # The mention's own pop-up (notifications.js), and the plain direct message's (sidebar.js).
    assert sorted(pop["body"] for pop in quin.evaluate("window.__notified")) == ["and this", "look @quin"]

    server.run(
        "from accounts.models import User; from rooms import services; from rooms.models import Room\n"
        "quin = User.objects.get(handle='quin')\n"
        "room = Room.objects.get(kind='direct', memberships__user=quin)\n"
        "services.membership_notifications_set(user=quin, room_id=room.pk, level='nothing')"
    )
    quin.reload()
    row = quin.locator("#sidebar-rooms li", has_text="Rafe")
    expect(row).to_have_attribute("data-muted", "true")
    expect(quin.locator("body[data-live=on]")).to_have_count(1)
    quin.evaluate(HIDE_PAGE)
    say(rafe, "while muted")
    # The row shows it (the same handler would have popped it up first).
    expect(row.locator(".conversation-last")).to_contain_text("while muted")
    assert quin.evaluate("window.__notified") == []


def test_the_account_menu_works_with_the_keyboard_and_the_bell_links_the_notifications(server, signed_in):
    server.make_people("ines")
    ines = signed_in("ines")
    expect(ines.get_by_role("link", name=re.compile("^Notifications"))).to_have_attribute("href", "/notifications/")
    summary = ines.get_by_label("Account menu for @ines")
    summary.focus()
    ines.keyboard.press("Enter")
    expect(ines.get_by_role("link", name="Your profile", exact=True)).to_be_visible()
    ines.keyboard.press("ArrowDown")
    expect(ines.get_by_role("link", name="Your profile", exact=True)).to_be_focused()
    ines.keyboard.press("ArrowDown")
    expect(ines.get_by_role("link", name="Settings")).to_be_focused()
    ines.keyboard.press("ArrowDown")
    expect(ines.get_by_role("button", name="Log out")).to_be_focused()
    ines.keyboard.press("Escape")
    expect(ines.get_by_role("link", name="Your profile", exact=True)).to_be_hidden()
    expect(summary).to_be_focused()
    ines.keyboard.press("Enter")
    ines.keyboard.press("ArrowUp")
    ines.keyboard.press("Enter")  # Log out, the last item
    expect(ines.get_by_role("link", name="Log in", exact=True)).to_be_visible()


def test_on_a_phone_the_conversations_are_a_drawer_the_header_button_opens(server, signed_in):
    server.make_people("jude", "kira")
    jude = signed_in("jude", viewport={"width": 390, "height": 844})
    open_direct_room(server, jude, "kira")
    sidebar = jude.locator("#sidebar")
    expect(sidebar).to_be_hidden()
    toggle = jude.get_by_role("button", name="Conversations")
    expect(toggle).to_have_attribute("aria-expanded", "false")
    toggle.click()
    expect(sidebar).to_be_visible()
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(sidebar.get_by_role("link", name="All rooms")).to_be_focused()
    expect(sidebar.locator("#sidebar-rooms li", has_text="Kira")).to_be_visible()
    jude.keyboard.press("Escape")
    expect(sidebar).to_be_hidden()
    expect(toggle).to_be_focused()


def test_the_notifications_page_follows_live_and_marks_one_read_in_place(server, signed_in):
    server.make_people("lena", "milo")
    lena, milo = signed_in("lena"), signed_in("milo")
    lena.goto(f"{server.url}/notifications/")
    expect(lena.locator("body[data-live=on]")).to_have_count(1)
    milo.goto(f"{server.url}/u/lena/")
    milo.get_by_role("button", name="Add friend").click()
    expect(lena.locator("[data-notification-badge]")).to_have_text("1")
    lena.get_by_role("link", name="New notifications: show them").click()
    row = lena.locator(".notification.unread")
    expect(row).to_contain_text("Milo")
    row.get_by_role("button", name="Mark read").click()
    expect(lena.locator(".notification.unread")).to_have_count(0)
    expect(lena.locator("[data-notification-badge]")).to_be_hidden()
    lena.reload()
    expect(lena.locator(".notification.unread")).to_have_count(0)


def test_the_sidebar_keeps_the_newest_message_when_a_rooms_events_arrive_out_of_order(server, signed_in):
    """Two server threads publish a room's messages after their commits, so a socket can get seq 2
    before seq 1: the older one still counts as unread but must not replace the newer preview."""
    server.make_people("rhea", "vesna")
    rhea = signed_in("rhea")
    vesna = signed_in("vesna")
    open_group_room_with(server, rhea, "Relay", member="vesna")

    def first_after_second(ws) -> None:  # vesna's socket, through a proxy that holds back the first message
        upstream = ws.connect_to_server()
        held = []

        def to_page(frame) -> None:
            if '"message.new"' in frame and "first of two" in frame:
                held.append(frame)
                return
            ws.send(frame)
            if '"message.new"' in frame and "second of two" in frame:
                ws.send(held.pop())

        upstream.on_message(to_page)
        ws.on_message(upstream.send)

    vesna.route_web_socket(re.compile(r"/ws/$"), first_after_second)
    vesna.goto(f"{server.url}/friends/")
    expect(vesna.locator("body[data-live=on]")).to_have_count(1)

    say(rhea, "first of two")
    say(rhea, "second of two")

    row = vesna.locator("#sidebar-rooms li", has_text="Relay")
    expect(row.locator("[data-unread]")).to_have_text("2")
    expect(row.locator(".conversation-last")).to_have_text("Rhea: second of two")
