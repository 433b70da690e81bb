"""The markup attacks of tests/xss.py, typed by a person into their name and their messages, arrive
live in the other person's room page as text: no dialog opens, no element or handler is injected."""

from playwright.sync_api import expect

from tests.e2e.conftest import open_direct_room
from tests.xss import CORPUS

# Ten messages fit in one burst of the message rate limit; these are the ones a browser could run.
LIVE = [attack for attack in CORPUS if "alert" in attack][:9]
INJECTED = (
    ".messages script, .messages img[src='x'], .messages svg, .messages iframe, .messages math, "
    ".messages form, .messages a[href^='javascript'], [onerror], [onload], [onfocus], [onbegin], base"
)


def dialogs_of(page) -> list[str]:
    opened = []

    def dismiss(dialog):
        opened.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return opened


def test_attacks_in_a_name_and_in_messages_stay_text_in_the_live_room(server, signed_in):
    server.make_people("mallory", "victim")
    mallory, victim = signed_in("mallory"), signed_in("victim")
    mallory_dialogs, victim_dialogs = dialogs_of(mallory), dialogs_of(victim)

    mallory.goto(f"{server.url}/settings/profile/")
    mallory.get_by_label("Display name").fill(CORPUS[1])
    mallory.get_by_role("button", name="Save profile").click()

    room = open_direct_room(server, victim, "mallory")
    mallory.goto(room)
    composer = mallory.get_by_role("textbox", name="Message")
    for attack in LIVE:
        composer.fill(attack)
        composer.press("Enter")
        expect(victim.locator(".message .body").last).to_have_text(attack)
    expect(victim.locator(".message .body")).to_have_text(LIVE)
    expect(victim.locator(".message .author").first).to_have_text(CORPUS[1])
    assert victim.locator(INJECTED).count() == 0

    victim.reload()  # the same room rendered by the server
    expect(victim.locator(".message .body")).to_have_text(LIVE)
    assert victim.locator(INJECTED).count() == 0
    victim.wait_for_timeout(300)  # an onerror of a broken image would have fired by now
    assert mallory_dialogs == [] and victim_dialogs == []
