"""Message texts that the markup filter (chat/templatetags/markup.py) and static/js/markup.js must
render to the same structure: tests/chat/test_markup.py checks the filter's HTML, and
tests/e2e/test_room_markup.py compares the two in Chromium."""

CORPUS = [
    "plain words",
    "**bold** and *italic* and `code`",
    "**bold with *italic* inside**",
    "2 * 3 * 4 is not italic, nor is ** this **",
    "a `code with **stars** and <b>tags</b>` span",
    "see https://example.com/path?a=1&b=2, then stop.",
    "(https://example.com/in-brackets) and mailto:ann@example.com!",
    "javascript:alert(1) and data:text/html,<script>alert(1)</script> stay text",
    "hello @ann and @bob_the_builder, not mail@example.com",
    "> a quote with **bold**\n> second line\nafter the quote",
    ">no space quote",
    "```\nline one <i>\n  indented **not bold**\n```\nafter the block",
    "```python\nprint('hi')\n```",
    "``` never closed\nstill text",
    "first line\nsecond line\n\nfourth line",
    "**https://example.com/bold-link**",
    "*@ann* in italics",
    "unicode ✓ café ünïcødé 👍 **fett**",
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '"><svg onload=alert(1)>',
    "[click](javascript:alert(1))",
    'https://example.com/"onmouseover="alert(1)',
    "&lt;already escaped&gt; & ampersands",
    "`<iframe src=//evil>`",
    "> <script>alert('quoted')</script>",
]

# The XSS entries of CORPUS: whatever they contain, only these tags may come out.
SAFE_TAGS = {"strong", "em", "code", "pre", "blockquote", "br", "a", "span"}
