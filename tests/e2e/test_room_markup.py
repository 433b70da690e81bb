"""The server's markup filter and static/js/markup.js render every text of a corpus to one structure,
and nothing of the XSS corpus runs or makes an element of its own."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from chat.templatetags.markup import markup  # noqa: E402
from tests.e2e.room_helpers import group_room, room_ready  # noqa: E402
from tests.markup_corpus import CORPUS, SAFE_TAGS  # noqa: E402

RENDER_BOTH = """async ({ texts, served, handle }) => {
  const module = document.querySelector("link[rel=modulepreload][href*='/markup.']").href;
  const { renderMarkup } = await import(module);
  const normalized = (html) => {
    const template = document.createElement("template");
    template.innerHTML = html;  // the server's output, parsed as a browser parses the page
    return template.innerHTML;
  };
  return texts.map((text, index) => {
    const body = document.createElement("div");
    body.className = "markup-probe";
    renderMarkup(body, text, handle);
    document.body.append(body);  // in the live page: anything that could run, would
    return { js: body.innerHTML, server: normalized(served[index]) };
  });
}"""


def test_the_filter_and_markup_js_build_the_same_html_and_nothing_runs(server, signed_in):
    server.make_people("mona")
    page = signed_in("mona")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{server.url}/rooms/{group_room(server, 'mona', title='Markup')}/")
    room_ready(page)

    served = [str(markup(text, "mona")) for text in CORPUS]
    results = page.evaluate(RENDER_BOTH, {"texts": CORPUS, "served": served, "handle": "mona"})

    for text, result in zip(CORPUS, results, strict=True):
        assert result["js"] == result["server"], text
    assert "<strong>bold</strong> and <em>italic</em> and <code>code</code>" in results[1]["js"]
    tags = page.evaluate(
        "() => [...new Set([...document.querySelectorAll('.markup-probe *')].map((e) => e.localName))]"
    )
    assert set(tags) <= SAFE_TAGS
    page.wait_for_timeout(300)
    assert dialogs == []
    assert (
        page.evaluate("() => document.querySelectorAll('.markup-probe :is(script, img, svg, iframe, object)').length")
        == 0
    )
