"""{{ body|mentions:user.handle }}: the text escaped, each @handle wrapped in <span class="mention">."""

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from chat.notifications import MENTION_PATTERN

register = template.Library()


@register.filter(is_safe=True)
def mentions(text: str, my_handle: str = "") -> SafeString:
    """Split on the mention pattern and escape every piece: nothing of the text is ever trusted as HTML.

    A mention of `my_handle` also gets the class "mention-me". Safe to chain into linebreaksbr.
    """
    pieces, last = [], 0
    for match in MENTION_PATTERN.finditer(text):
        pieces.append(conditional_escape(text[last : match.start()]))
        mine = bool(my_handle) and match.group(1).lower() == my_handle.lower()
        pieces.append(format_html('<span class="{}">{}</span>', "mention mention-me" if mine else "mention", match[0]))
        last = match.end()
    pieces.append(conditional_escape(text[last:]))
    return mark_safe("".join(pieces))  # noqa: S308 - every piece above was escaped
