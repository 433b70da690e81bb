import re

from playwright.sync_api import expect

PAGES = ["/", "/rooms/", "/friends/", "/notifications/", "/search/?q=hello", "/settings/profile/", "/u/quill/"]


def test_the_pages_and_the_room_s_socket_run_under_the_content_security_policy(server, signed_in):
    server.make_people("quill", "rune")  # Handles no other browser test uses: the server lasts the session.
    quill = signed_in("quill")
    violations = []
    quill.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    for path in PAGES:
        response = quill.goto(f"{server.url}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"], path

    quill.goto(f"{server.url}/u/rune/")
    quill.get_by_role("button", name="Message").click()
    expect(quill).to_have_url(re.compile(r"/rooms/\d+/$"))
    expect(quill.locator(".attach.enhanced")).to_have_count(1)  # the room's scripts run: Enter sends
    quill.get_by_role("textbox", name="Message").fill("allowed by the policy")
    quill.keyboard.press("Enter")
    expect(quill.locator(".message .body").last).to_have_text("allowed by the policy")
    expect(quill.locator(".pending")).to_have_count(0)  # Acknowledged over the WebSocket.
    assert violations == []
