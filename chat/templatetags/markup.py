"""{{ body|markup:user.handle }}: a message's light markup as escaped HTML.

static/js/markup.js applies the same rules building DOM nodes; tests/e2e/test_room_markup.py holds
the two to the same structure for a corpus. Change both together.

Blocks, line by line: a line starting with ``` opens a code block that a line of just ``` closes
(unclosed, it stays text); consecutive lines starting with ">" are a quote; other lines are text,
joined by <br>. Inline, leftmost first and in this order at one place: `code`, an http(s)/mailto
link, **bold**, *italic*; bold and italic may hold the others, code holds only text. Plain text
goes through the mentions filter. Every piece of the text is escaped: nothing is trusted as HTML.
"""

import re

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from chat.templatetags.mentions import mentions

register = template.Library()

FENCE = "```"
LINK_REL = "noopener noreferrer nofollow ugc"
INLINE = re.compile(
    r"`([^`\n]+)`"
    r"|((?:https?://|mailto:)[^\s<>\"]*[^\s<>\".,;:!?)\]'*])"
    r"|\*\*(?=\S)([^\n]+?)(?<=\S)\*\*"
    r"|\*(?=[^\s*])([^\n]+?)(?<=[^\s*])\*"
)


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """[(kind, lines)] with kind "text", "quote" or "code"; quote lines without their ">"."""
    lines = text.replace("\r\n", "\n").split("\n")
    found: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        close = _fence_end(lines, index) if line.startswith(FENCE) else None
        if close is not None:
            found.append(("code", lines[index + 1 : close]))
            index = close + 1
            continue
        kind = "quote" if line.startswith(">") else "text"
        if kind == "quote":
            line = line[2:] if line.startswith("> ") else line[1:]
        if found and found[-1][0] == kind:
            found[-1][1].append(line)
        else:
            found.append((kind, [line]))
        index += 1
    return found


def _fence_end(lines: list[str], start: int) -> int | None:
    return next((index for index in range(start + 1, len(lines)) if lines[index].strip() == FENCE), None)


def inline(text: str, my_handle: str) -> SafeString:
    pieces, last = [], 0
    for match in INLINE.finditer(text):
        pieces.append(mentions(text[last : match.start()], my_handle))
        code, link, bold, italic = match.groups()
        if code is not None:
            pieces.append(format_html("<code>{}</code>", code))
        elif link is not None:
            pieces.append(format_html('<a href="{}" rel="{}" target="_blank">{}</a>', link, LINK_REL, link))
        elif bold is not None:
            pieces.append(format_html("<strong>{}</strong>", inline(bold, my_handle)))
        else:
            pieces.append(format_html("<em>{}</em>", inline(italic, my_handle)))
        last = match.end()
    pieces.append(mentions(text[last:], my_handle))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece above was escaped


def _lines(lines: list[str], my_handle: str) -> str:
    return "<br>".join(inline(line, my_handle) for line in lines)


@register.filter(is_safe=True)
def markup(text: str, my_handle: str = "") -> SafeString:
    html = []
    for kind, lines in blocks(text):
        if kind == "code":
            html.append(format_html("<pre><code>{}</code></pre>", "\n".join(lines)))
        elif kind == "quote":
            html.append(f"<blockquote>{_lines(lines, my_handle)}</blockquote>")
        else:
            html.append(_lines(lines, my_handle))
    return mark_safe("".join(html))  # noqa: S308 - built from escaped pieces only
