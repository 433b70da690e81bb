"""The room view in a real browser: history paging, replies, reactions, edits and deletes, the "Seen"
mark, and a composer that loses nothing (pending, failed and retried, drafts, reloads, offline)."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import log_in, open_direct_room
from tests.e2e.room_helpers import SocketGate, group_room, room_ready, sign_in, stored_bodies, write


def message(page, body):
    return page.locator(".message", has=page.locator(".body", has_text=re.compile(f"^{re.escape(body)}$")))


def send(page, body):
    page.get_by_role("textbox", name="Message").fill(body)
    page.get_by_role("textbox", name="Message").press("Enter")


def test_scrolling_up_loads_older_pages_where_they_belong_and_jump_to_newest_comes_back(server, signed_in):
    server.make_people("olga", "pete")
    room_id = group_room(server, "olga", "pete", title="Archive")
    write(server, room_id, [("pete" if n % 2 else "olga", f"line {n}") for n in range(1, 131)])
    page = signed_in("olga")
    page.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(page)
    bodies = page.locator(".message .body")
    expect(bodies).to_have_count(50)
    expect(page.locator("#jump-newest")).to_be_hidden()

    anchor = message(page, "line 81")
    page.locator("#messages").evaluate("(list) => { list.scrollTop = 0; }")
    expect(bodies).to_have_count(100)
    expect(bodies.first).to_have_text("line 31")
    # What was at the top of the screen is still there: the page grew above it, not under the reader.
    top = anchor.evaluate("(item) => item.getBoundingClientRect().top - item.parentElement.getBoundingClientRect().top")
    assert 0 <= top < 200
    expect(page.locator("#jump-newest")).to_be_visible()

    page.locator("#messages").evaluate("(list) => { list.scrollTop = 0; }")
    expect(bodies).to_have_count(130)
    expect(page.locator("#older")).to_have_count(0)
    seqs = page.locator(".message").evaluate_all("(items) => items.map((item) => Number(item.dataset.seq))")
    assert seqs == list(range(1, 131))

    page.locator("#jump-newest").click()
    expect(message(page, "line 130")).to_be_in_viewport()
    expect(page.locator("#jump-newest")).to_be_hidden()


def test_a_page_opened_around_an_old_message_jumps_to_the_newest(server, signed_in):
    server.make_people("quinn")
    room_id = group_room(server, "quinn", title="Around")
    ids = write(server, room_id, [("quinn", f"note {n}") for n in range(1, 121)])
    page = signed_in("quinn")
    page.goto(f"{server.url}/rooms/{room_id}/?around={ids[9]}")
    room_ready(page)
    expect(page.locator(".message.highlight .body")).to_have_text("note 10")
    expect(page.locator(".message .body").last).not_to_have_text("note 120")
    page.get_by_role("button", name="Jump to newest").click()
    expect(page).to_have_url(f"{server.url}/rooms/{room_id}/")
    expect(page.locator(".message .body").last).to_have_text("note 120")


def test_days_and_times_show_in_the_viewer_s_zone_and_runs_of_one_author_are_grouped(server, chromium):
    server.make_people("tokyo")
    room_id = group_room(server, "tokyo", title="Zones")
    ids = write(server, room_id, [("tokyo", "late at night"), ("tokyo", "right after")])
    # 23:30 UTC on the 1st is 08:30 on the 2nd in Tokyo: another day and another hour than the server's.
    server.run(
        "from datetime import datetime, timezone\nfrom chat.models import Message\n"
        f"Message.objects.filter(pk={ids[0]}).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc))\n"
        f"Message.objects.filter(pk={ids[1]}).update(created_at=datetime(2026, 3, 1, 23, 32, tzinfo=timezone.utc))\n"
    )
    page = sign_in(chromium, server, "tokyo", timezone_id="Asia/Tokyo", locale="en-GB")
    page.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(page)
    expect(page.locator(".day-separator")).to_have_text(["Monday, 2 March 2026"])
    expect(page.locator(".message time").first).to_have_text("08:30")
    expect(page.locator(".message").nth(1)).to_have_class(re.compile(r"\bgrouped\b"))
    page.context.close()


def test_a_reply_quotes_its_original_and_leads_back_to_it(server, signed_in):
    server.make_people("rita", "sam")
    room_id = group_room(server, "rita", "sam", title="Replies")
    ids = write(
        server, room_id, [("sam", "far back"), *[("sam", f"filler {n}") for n in range(60)], ("sam", "what time?")]
    )
    rita = signed_in("rita")
    rita.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(rita)

    question = message(rita, "what time?")
    question.hover()
    question.get_by_role("button", name="Reply").click()
    expect(rita.locator("#compose-context")).to_contain_text("Replying to Sam: what time?")
    rita.get_by_role("button", name="Cancel").click()
    expect(rita.locator("#compose-context")).to_be_hidden()
    question.get_by_role("button", name="Reply").click()
    send(rita, "at **noon**")
    answer = message(rita, "at noon")
    expect(answer.locator(".reply")).to_have_text("@sam what time?")
    expect(answer.locator(".body strong")).to_have_text("noon")
    expect(rita.locator("#compose-context")).to_be_hidden()

    answer.locator(".reply").click()
    expect(question).to_have_class(re.compile(r"\bhighlight\b"))

    # The original of a reply that is not on the page is loaded around it.
    write(server, room_id, [("sam", "placeholder")])
    server.run(
        "import uuid\nfrom accounts.models import User\nfrom chat import services\n"
        f"services.message_send(author=User.objects.get(handle='sam'), room_id={room_id}, body='remember this?',"
        f" client_id=uuid.uuid4(), reply_to_id={ids[0]})\n"
    )
    rita.reload()  # written by another process, whose in-memory channel layer reaches no browser
    room_ready(rita)
    expect(message(rita, "remember this?")).to_have_count(1)
    message(rita, "remember this?").locator(".reply").click()
    expect(rita).to_have_url(re.compile(rf"\?around={ids[0]}$"))
    expect(rita.locator(".message.highlight .body")).to_have_text("far back")


def test_reactions_are_picked_with_the_keyboard_and_counted_live_in_both_browsers(server, signed_in):
    server.make_people("una", "vera")
    room_id = group_room(server, "una", "vera", title="Reactions")
    write(server, room_id, [("vera", "react to this")])
    una, vera = signed_in("una"), signed_in("vera")
    for page in (una, vera):
        page.goto(f"{server.url}/rooms/{room_id}/")
        room_ready(page)

    react = message(una, "react to this").get_by_role("button", name="React")
    react.focus()
    una.keyboard.press("Enter")
    expect(una.get_by_role("button", name="React with 👍")).to_be_focused()
    una.keyboard.press("ArrowRight")
    una.keyboard.press("Enter")  # ❤️
    for page in (una, vera):
        expect(message(page, "react to this").locator(".reaction")).to_have_count(1)
        expect(message(page, "react to this").locator(".reaction")).to_have_attribute("title", "Una")
    expect(react).to_be_focused()

    vera_heart = message(vera, "react to this").locator(".reaction", has_text="❤️")
    expect(vera_heart).to_have_attribute("aria-pressed", "false")
    vera_heart.click()
    for page in (una, vera):
        heart = message(page, "react to this").locator(".reaction", has_text="❤️")
        expect(heart.locator(".count")).to_have_text("2")
        expect(heart).to_have_attribute("title", "Una, Vera")
    expect(vera_heart).to_have_attribute("aria-pressed", "true")

    message(una, "react to this").locator(".reaction", has_text="❤️").click()
    for page in (una, vera):
        heart = message(page, "react to this").locator(".reaction", has_text="❤️")
        expect(heart).to_have_attribute("title", "Vera")
        expect(heart.locator(".count")).to_have_text("1")


def test_edits_and_deletes_show_live_for_everyone(server, signed_in):
    server.make_people("wes", "xia")
    room_id = group_room(server, "wes", "xia", title="Edits")
    wes, xia = signed_in("wes"), signed_in("xia")
    for page in (wes, xia):
        page.goto(f"{server.url}/rooms/{room_id}/")
        room_ready(page)

    send(wes, "teh first draft")
    expect(message(xia, "teh first draft")).to_have_count(1)
    composer = wes.get_by_role("textbox", name="Message")
    composer.fill("half-typed")
    composer.press("ArrowUp")  # not empty: nothing to edit
    expect(wes.locator("#compose-context")).to_be_hidden()
    composer.fill("")
    composer.press("ArrowUp")
    expect(wes.locator("#compose-context")).to_contain_text("Editing")
    expect(composer).to_have_value("teh first draft")
    composer.press("Escape")
    expect(wes.locator("#compose-context")).to_be_hidden()
    expect(composer).to_have_value("")

    composer.press("ArrowUp")
    composer.fill("the first draft")
    composer.press("Enter")
    for page in (wes, xia):
        edited = message(page, "the first draft")
        expect(edited.locator(".edited")).to_have_text("(edited)")
    expect(message(xia, "teh first draft")).to_have_count(0)

    item = message(wes, "the first draft")
    item.hover()
    item.get_by_role("button", name="Delete").click()
    dialog = wes.get_by_role("dialog", name="Delete this message?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(message(xia, "the first draft")).to_have_count(1)
    item.get_by_role("button", name="Delete").click()
    dialog.get_by_role("button", name="Delete").click()
    for page in (wes, xia):
        expect(page.locator(".message .body").last).to_have_text("Message deleted")
    expect(xia.locator(".message").last.get_by_role("button", name="Reply")).to_have_count(0)


def test_seen_new_messages_divider_and_typing_in_a_direct_room(server, signed_in):
    server.make_people("yuki", "zed")
    yuki, zed = signed_in("yuki"), signed_in("zed")
    room_url = open_direct_room(server, yuki, "zed")
    room_ready(yuki)
    send(yuki, "are you there?")
    send(yuki, "hello?")
    expect(yuki.locator(".pending")).to_have_count(0)
    expect(yuki.locator("#seen")).to_have_count(0)

    zed.goto(room_url)
    room_ready(zed)
    divider = zed.locator("#unread-divider")
    expect(divider).to_have_text("New messages")
    assert divider.evaluate("(el) => el.nextElementSibling.querySelector('.body').textContent") == "are you there?"
    # Zed's page read both: "Seen" appears under Yuki's last message, live.
    expect(message(yuki, "hello?").locator("#seen")).to_have_text("Seen")

    send(yuki, "great")
    expect(message(zed, "great")).to_have_count(1)
    expect(message(yuki, "great").locator("#seen")).to_have_text("Seen")
    zed.get_by_role("textbox", name="Message").press_sequentially("typing", delay=30)
    expect(yuki.locator("#typing")).to_have_text("@zed is typing…")


def test_a_message_without_an_ack_fails_and_is_retried_with_the_same_client_id(server, signed_in):
    server.make_people("abe", "bea")
    room_id = group_room(server, "abe", "bea", title="Retry")
    abe, bea = signed_in("abe"), signed_in("bea")
    gate = SocketGate(abe)
    for page in (abe, bea):
        page.goto(f"{server.url}/rooms/{room_id}/")
        room_ready(page)

    gate.drop_sends = True
    send(abe, "lost on the way")
    pending = abe.locator(".message.pending")
    expect(pending).to_have_count(1)
    expect(pending.locator(".send-state")).to_have_text("failed — retry · discard", timeout=15000)
    gate.drop_sends = False
    pending.get_by_role("button", name="Failed to send. Retry").click()
    expect(abe.locator(".message.pending")).to_have_count(0)
    expect(message(bea, "lost on the way")).to_have_count(1)
    assert stored_bodies(server, room_id) == ["lost on the way"]


def test_a_refused_message_fails_and_its_retry_is_stored_once(server, signed_in):
    server.make_people("cyd", "dot")
    cyd = signed_in("cyd")
    gate = SocketGate(cyd)
    room_url = open_direct_room(server, cyd, "dot")
    room_id = int(room_url.rstrip("/").rsplit("/", 1)[1])
    block = (
        "from accounts.models import User\nfrom accounts import services\n"
        "cyd, dot = (User.objects.get(handle=h) for h in ('cyd', 'dot'))\n"
    )

    # While Dot blocks Cyd the server refuses the message (an error event): it shows as failed.
    server.run(block + "services.block_create(blocker=dot, blocked=cyd)\n")
    send(cyd, "let me explain")
    failed = message(cyd, "let me explain")
    expect(failed.locator(".send-state")).to_have_text("failed — retry · discard")
    expect(cyd.locator("#composer-error")).not_to_be_empty()
    assert stored_bodies(server, room_id) == []

    server.run(block + "services.block_remove(blocker=dot, blocked_id=cyd.pk)\n")
    failed.get_by_role("button", name="Failed to send. Retry").click()
    expect(cyd.locator(".message.pending")).to_have_count(0)
    expect(message(cyd, "let me explain")).to_have_count(1)
    assert stored_bodies(server, room_id) == ["let me explain"]
    assert [event["client_id"] for event in gate.sent] == [gate.sent[0]["client_id"]] * 2


def test_a_refused_message_waits_for_retry_or_discard_through_reconnects_and_reloads(server, signed_in):
    server.make_people("hugo", "iris")
    hugo = signed_in("hugo")
    gate = SocketGate(hugo)
    room_url = open_direct_room(server, hugo, "iris")
    room_id = int(room_url.rstrip("/").rsplit("/", 1)[1])
    server.run(
        "from accounts.models import User\nfrom accounts import services\n"
        "services.block_create(blocker=User.objects.get(handle='iris'), blocked=User.objects.get(handle='hugo'))\n"
    )
    send(hugo, "please listen")
    refused = message(hugo, "please listen")
    expect(refused.locator(".send-state")).to_have_text("failed — retry · discard")

    # A reconnect sends what is waiting, not what the server refused; neither does a reload.
    gate.cut()
    expect(hugo.locator("#connection")).to_have_text("Reconnecting…")
    gate.refuse = False
    expect(hugo.locator("#connection")).to_have_text("", timeout=20000)
    hugo.reload()
    room_ready(hugo)
    expect(refused.locator(".send-state")).to_have_text("failed — retry · discard")
    expect(hugo.locator("body[data-live=on]")).to_have_count(1)
    hugo.wait_for_timeout(500)
    assert len(gate.sent) == 1

    refused.get_by_role("button", name="Failed to send. Discard").click()
    expect(hugo.locator(".message.pending")).to_have_count(0)
    hugo.reload()
    room_ready(hugo)
    expect(hugo.locator(".message")).to_have_count(0)
    assert len(gate.sent) == 1 and stored_bodies(server, room_id) == []


def test_a_draft_and_an_unsent_message_survive_a_reload_and_it_is_stored_once(server, signed_in):
    server.make_people("dina", "emil")
    room_id = group_room(server, "dina", "emil", title="Reloads")
    dee = signed_in("dina")
    gate = SocketGate(dee)
    dee.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(dee)

    # It never reached the server: after a reload it is sent again, with its client_id.
    gate.drop_sends = True
    send(dee, "sent after the reload")
    expect(dee.locator(".message.pending")).to_have_count(1)
    dee.get_by_role("textbox", name="Message").fill("half a thought")
    dee.wait_for_timeout(300)
    gate.drop_sends = False
    dee.reload()
    room_ready(dee)
    expect(dee.get_by_role("textbox", name="Message")).to_have_value("half a thought")
    expect(dee.locator(".message.pending")).to_have_count(0)
    expect(message(dee, "sent after the reload")).to_have_count(1)
    assert stored_bodies(server, room_id) == ["sent after the reload"]

    send(dee, "the thought, finished")
    dee.reload()
    room_ready(dee)
    expect(dee.get_by_role("textbox", name="Message")).to_have_value("")


def test_a_stored_message_whose_ack_was_lost_shows_once_after_a_reload(server, signed_in):
    server.make_people("jory", "kaito")
    room_id = group_room(server, "jory", "kaito", title="Acks")
    jory = signed_in("jory")
    gate = SocketGate(jory)
    jory.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(jory)

    gate.drop_acks = True
    send(jory, "stored, not acknowledged")
    expect(jory.locator(".message.pending")).to_have_count(1)
    for _ in range(50):
        if stored_bodies(server, room_id):
            break
        jory.wait_for_timeout(100)
    # Still no ack: the page shows the stored message once, and nothing pending is sent again.
    jory.reload()
    room_ready(jory)
    expect(message(jory, "stored, not acknowledged")).to_have_count(1)
    expect(jory.locator(".message.pending")).to_have_count(0)
    expect(jory.locator("body[data-live=on]")).to_have_count(1)
    jory.wait_for_timeout(500)
    assert len(gate.sent) == 1 and stored_bodies(server, room_id) == ["stored, not acknowledged"]


def test_pending_messages_and_drafts_stay_with_their_author_after_a_logout(server, chromium):
    server.make_people("lora", "marek")
    room_id = group_room(server, "lora", "marek", title="Shared tab")
    page = sign_in(chromium, server, "lora")
    gate = SocketGate(page)
    page.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(page)
    gate.cut()
    expect(page.locator("#connection")).to_have_text("Reconnecting…")
    send(page, "lora's words")
    expect(page.locator(".message.pending")).to_have_count(1)
    page.get_by_role("textbox", name="Message").fill("lora's draft")
    page.wait_for_timeout(300)

    page.get_by_label("Account menu for @lora").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    kept = page.evaluate(
        "[localStorage, sessionStorage].flatMap((s) => Object.keys(s)).filter((k) => k.startsWith('parley:'))"
    )
    assert kept == []

    gate.refuse = False
    log_in(server, page, "marek")
    page.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(page)
    expect(page.locator("body[data-live=on]")).to_have_count(1)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")
    expect(page.locator(".message")).to_have_count(0)
    page.wait_for_timeout(500)
    assert stored_bodies(server, room_id) == []
    page.context.close()


def test_offline_then_back_loses_nothing_and_sends_once(server, signed_in):
    server.make_people("fern", "gabe")
    room_id = group_room(server, "fern", "gabe", title="Offline")
    fay, gus = signed_in("fern"), signed_in("gabe")
    gate = SocketGate(fay)
    for page in (fay, gus):
        page.goto(f"{server.url}/rooms/{room_id}/")
        room_ready(page)
    send(fay, "before")
    expect(message(gus, "before")).to_have_count(1)

    gate.cut()
    expect(fay.locator("#connection")).to_have_text("Reconnecting…")
    send(fay, "written offline")
    send(gus, "while you were away")
    expect(fay.locator(".message.pending")).to_have_count(1)
    fay.wait_for_timeout(500)
    expect(fay.locator(".message.failed")).to_have_count(0)

    gate.refuse = False
    expect(fay.locator("#connection")).to_have_text("", timeout=20000)
    expect(message(gus, "written offline")).to_have_count(1)
    expect(message(fay, "while you were away")).to_have_count(1)
    expect(fay.locator(".message.pending")).to_have_count(0)
    assert stored_bodies(server, room_id) == ["before", "while you were away", "written offline"]


def test_without_javascript_history_pages_are_links_and_the_form_sends(server, chromium):
    server.make_people("hank")
    room_id = group_room(server, "hank", title="Plain")
    write(server, room_id, [("hank", f"entry {n}") for n in range(1, 61)])
    page = sign_in(chromium, server, "hank", java_script_enabled=False)
    page.goto(f"{server.url}/rooms/{room_id}/")
    bodies = page.locator(".message .body")
    expect(bodies.first).to_have_text("entry 11")
    expect(page.locator(".message time").first).to_have_text(re.compile(r"UTC$"))
    page.get_by_role("link", name="Older messages").click()
    expect(bodies).to_have_text([f"entry {n}" for n in range(1, 11)])
    page.get_by_role("link", name="Newer messages").click()
    expect(bodies.last).to_have_text("entry 60")
    page.get_by_role("textbox", name="Message").fill("sent by the *form*")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".message .body").last).to_have_text("sent by the form")
    expect(page.locator(".message .body em").last).to_have_text("form")
    page.context.close()


def test_a_narrow_screen_folds_the_members_and_every_action_is_reachable_with_tab(server, chromium):
    server.make_people("ida", "jon")
    room_id = group_room(server, "ida", "jon", title="Small")
    write(server, room_id, [("jon", "short screen")])
    page = sign_in(chromium, server, "ida", viewport={"width": 360, "height": 700})
    page.goto(f"{server.url}/rooms/{room_id}/")
    room_ready(page)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    expect(page.locator("#members-fold")).not_to_have_attribute("open", "")
    expect(page.locator(".members li", has_text="Jon")).to_be_hidden()
    page.locator("#members-fold summary").click()
    expect(page.locator(".members li", has_text="Jon")).to_be_visible()

    page.locator(".message .permalink").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Reply")).to_be_focused()
    expect(page.get_by_role("button", name="Reply")).to_be_visible()
    page.keyboard.press("Enter")
    expect(page.locator("#compose-context")).to_contain_text("Replying to Jon")
    expect(page.get_by_role("textbox", name="Message")).to_be_focused()
    page.context.close()
