"""The light markup of messages: {{ body|markup:handle }} builds escaped HTML, block by block."""

from html.parser import HTMLParser

import pytest

from chat.templatetags.markup import markup
from tests.markup_corpus import CORPUS, SAFE_TAGS

REL = 'rel="noopener noreferrer nofollow ugc" target="_blank"'


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("plain <b>words</b>", "plain &lt;b&gt;words&lt;/b&gt;"),
        ("**bold** and *italic*", "<strong>bold</strong> and <em>italic</em>"),
        ("**bold *it* here**", "<strong>bold <em>it</em> here</strong>"),
        ("2 * 3 * 4", "2 * 3 * 4"),
        ("`a **b** <c>`", "<code>a **b** &lt;c&gt;</code>"),
        (
            "go to https://example.com/a?b=1&c=2.",
            f'go to <a href="https://example.com/a?b=1&amp;c=2" {REL}>https://example.com/a?b=1&amp;c=2</a>.',
        ),
        ("mailto:ann@example.com", f'<a href="mailto:ann@example.com" {REL}>mailto:ann@example.com</a>'),
        ("javascript:alert(1)", "javascript:alert(1)"),
        ("hi @ann and @ben", 'hi <span class="mention mention-me">@ann</span> and <span class="mention">@ben</span>'),
        ("> quoted *it*\n> more\nafter", "<blockquote>quoted <em>it</em><br>more</blockquote>after"),
        ("```\n<b> **x**\n```\nafter", "<pre><code>&lt;b&gt; **x**</code></pre>after"),
        ("``` open\nstill text", "``` open<br>still text"),
        ("one\ntwo\r\nthree", "one<br>two<br>three"),
    ],
)
def test_the_filter_renders_each_rule(text, html):
    assert markup(text, "ann") == html


class TagCollector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attributes = set(), []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attributes.extend(attrs)


@pytest.mark.parametrize("text", CORPUS)
def test_no_text_of_the_corpus_makes_a_tag_or_attribute_of_its_own(text):
    collector = TagCollector()
    collector.feed(str(markup(text, "ann")))
    assert collector.tags <= SAFE_TAGS
    for name, value in collector.attributes:
        assert name in {"class", "href", "rel", "target"}, (name, value)
        if name == "href":
            assert value.startswith(("https://", "http://", "mailto:")), value


def test_an_attribute_cannot_be_broken_out_of():
    html = markup('https://example.com/"onmouseover="alert(1)', "")
    assert html.startswith(f'<a href="https://example.com/" {REL}>')
    assert "onmouseover=&quot;alert(1)" not in html.split(">", 1)[0]
