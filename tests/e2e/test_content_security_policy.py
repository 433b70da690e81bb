import re

from playwright.sync_api import expect

PAGES = ["/", "/rooms/", "/friends/", "/notifications/", "/search/?q=hello", "/settings/profile/", "/u/dan/"]


def test_the_pages_and_the_room_s_socket_run_under_the_content_security_policy(server, signed_in):
    server.make_people("dan", "eve")
    dan = signed_in("dan")
    violations = []
    dan.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    for path in PAGES:
        response = dan.goto(f"{server.url}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"], path

    dan.goto(f"{server.url}/u/eve/")
    dan.get_by_role("button", name="Message").click()
    expect(dan).to_have_url(re.compile(r"/rooms/\d+/$"))
    dan.get_by_role("textbox", name="Message").fill("allowed by the policy")
    dan.keyboard.press("Enter")
    expect(dan.locator(".message .body").last).to_have_text("allowed by the policy")
    expect(dan.locator(".pending")).to_have_count(0)  # Acknowledged over the WebSocket.
    assert violations == []
