"""Template filters of the web pages."""

from __future__ import annotations

from django import template
from django.utils.translation import get_language

register = template.Library()


@register.filter
def lang_label(label: object) -> str:
    """One half of a bilingual choice label such as "男 Male": the Chinese part in the Chinese UI,
    the English part otherwise. Labels without the two halves are shown as they are."""
    text = str(label)
    chinese, separator, english = text.partition(" ")
    if not separator or not english:
        return text
    language = get_language() or ""
    return chinese if language.startswith("zh") else english


@register.filter
def count_cell(value: object, threshold: object = 0) -> str:
    """A count as shown to this user: below the small-cell threshold (but not zero) it reads "<n"."""
    if value is None:
        return "–"
    number = int(str(value))
    limit = int(str(threshold or 0))
    if 0 < number < limit:
        return f"<{limit}"
    return f"{number:,}"
