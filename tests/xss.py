"""A corpus of markup attacks (each fits a display name: 60 characters), and an HTML reader that
lists what a page is made of, so a test can tell text that stayed text from text that became markup."""

from html.parser import HTMLParser

CORPUS = [
    '<script>alert("xss-1")</script>',
    '<img src=x onerror=alert("xss-2")>',
    '"><svg onload=alert("xss-3")>',
    "'><iframe src=javascript:alert(4)>",
    'javascript:alert("xss-5")',
    '<a href="javascript:alert(6)">xss-6</a>',
    "</textarea><script>alert(7)</script>",
    "<svg><animate onbegin=alert(8) attributeName=x>",
    '" autofocus onfocus="alert(9)" x="',
    "<math><style><img src onerror=alert(10)>",
    '{{ 7|add:7 }}{% now "Y" %}${7*7}',
    "<!--<img src=x onerror=alert(12)>-->",
    "<body onload=alert(13)><base href=//evil.example>",
    "&lt;script&gt;alert(14)&lt;/script&gt;",
    "<form action=//evil.example><button>xss-15",
    "<scr<script>ipt>alert(16)</scr</script>ipt>",
]
BENIGN = "plain words"


class PageShape(HTMLParser):
    """Every element as (tag, attribute names), in order, and all the text a reader sees."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, tuple[str, ...]]] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.texts: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, tuple(sorted(name for name, _ in attrs))))
        self.attributes.extend((tag, name, value or "") for name, value in attrs)

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.texts.append(data)

    @property
    def text(self) -> str:
        return "".join(self.texts)


def dangers(html: str) -> list[str]:
    """What in a page could run script: handlers, javascript: URLs, inline scripts, frames and the like."""
    shape = PageShape(html)
    found = []
    for tag, name, value in shape.attributes:
        if name.startswith("on") or name in ("formaction", "srcdoc"):
            found.append(f"<{tag} {name}>")
        scheme = value.strip().lower()
        if name in ("href", "src", "action", "xlink:href") and scheme.startswith(("javascript:", "data:")):
            found.append(f"<{tag} {name}={value}>")
    for tag, names in shape.elements:
        if tag in ("iframe", "svg", "math", "object", "embed", "base", "animate", "style"):
            found.append(f"<{tag}>")
        if tag == "script" and "src" not in names:
            found.append("<script> without src")
    if [tag for tag, _ in shape.elements].count("body") > 1:
        found.append("a second <body>")
    return found
