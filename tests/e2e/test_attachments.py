import io

from PIL import Image
from playwright.sync_api import expect

from tests.e2e.conftest import open_direct_room


def png(size=(300, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_sent_by_one_person_appears_in_the_other_browser(server, signed_in):
    server.make_people("dora", "eli")
    dora, eli = signed_in("dora"), signed_in("eli")
    eli.goto(open_direct_room(server, dora, "eli"))

    # A file that lies about being an image fails in the tray, and can be removed before sending.
    dora.set_input_files("#attach-input", files=[{"name": "fake.png", "mimeType": "image/png", "buffer": b"<html>"}])
    failed = dora.locator(".upload.failed")
    expect(failed).to_contain_text("not what its name or type says")
    dora.get_by_role("button", name="Remove fake.png").click()
    expect(failed).to_have_count(0)

    dora.set_input_files("#attach-input", files=[{"name": "sunset <b>.png", "mimeType": "image/png", "buffer": png()}])
    expect(dora.locator(".upload.ready")).to_have_count(1)
    dora.get_by_role("textbox", name="Message").fill("look at this")
    dora.get_by_role("button", name="Send").click()

    image = eli.locator(".message .attachments img")
    expect(image).to_have_count(1)
    expect(image).to_have_attribute("alt", "sunset <b>.png")
    expect(image).to_have_attribute("width", "300")
    expect(image).to_have_attribute("height", "200")
    expect(eli.locator(".message .body").last).to_have_text("look at this")
    # A function, not an expression: the page's CSP forbids the eval() Playwright wraps an expression in.
    eli.wait_for_function("() => document.querySelector('.message .attachments img').naturalWidth === 300")
    expect(dora.locator(".uploads .upload")).to_have_count(0)

    # Reloaded, the server renders the same image, at the same reserved size.
    eli.reload()
    expect(eli.locator(".message .attachments img")).to_have_attribute("width", "300")


def test_images_dropped_on_the_room_or_pasted_into_the_message_are_uploaded(server, signed_in):
    import base64

    server.make_people("fay", "gwen")
    fay, gwen = signed_in("fay"), signed_in("gwen")
    gwen.goto(open_direct_room(server, fay, "gwen"))
    encoded = base64.b64encode(png((90, 60))).decode()
    files = f"""() => {{
        const bytes = Uint8Array.from(atob("{encoded}"), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "shot.png", {{ type: "image/png" }}));
        return transfer;
    }}"""

    fay.locator("#room").dispatch_event("drop", {"dataTransfer": fay.evaluate_handle(files)})
    fay.evaluate(f"""() => document.querySelector("#composer textarea").dispatchEvent(
        new ClipboardEvent("paste", {{ clipboardData: ({files})(), bubbles: true, cancelable: true }}))""")
    expect(fay.locator(".upload.ready")).to_have_count(2)
    fay.get_by_role("textbox", name="Message").press("Enter")

    expect(gwen.locator(".message .attachments img")).to_have_count(2)
    expect(gwen.locator(".message .attachments img").first).to_have_attribute("width", "90")
