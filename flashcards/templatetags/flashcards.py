from html import escape

from django import template
from django.utils.safestring import mark_safe

from flashcards import scheduling
from flashcards.rendering import render_markdown

register = template.Library()


@register.filter
def markdown(text):
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 in render_markdown


@register.filter
def interval(delta):
    return scheduling.format_interval(delta)


@register.filter
def state_label(state):
    return scheduling.STATE_LABELS.get(state, "")


@register.filter
def percent(value):
    return f"{value * 100:.1f}%" if value is not None else "–"


@register.filter
def seconds(milliseconds):
    return f"{milliseconds / 1000:.1f} s"


# A year of heatmap days written by the template's own loops took 40 ms, longer than every
# query of the progress page; format_html_join still took 12: the cells and the table rows are
# joined here, the one text of each (its label) escaped, the numbers written as numbers.


@register.simple_tag
def heatmap_cells(days):
    cells = []
    for day in days:
        label = escape(day.label)
        focusable = FOCUSABLE if day.answers else ""
        cells.append(
            f'<rect x="{day.x:d}" y="{day.y:d}" width="11" height="11" rx="2" '
            f'class="level-{day.level:d}"{focusable} data-readout="{label}">'
            f"<title>{label}</title></rect>"
        )
    return mark_safe("".join(cells))  # noqa: S308 - every text escaped, numbers formatted as such


@register.simple_tag
def heatmap_rows(days):
    rows = [(day.date_text, day.answers) for day in days if day.answers]
    if not rows:
        return mark_safe('<tr><td colspan="2">No answers yet.</td></tr>')
    cells = (f"<tr><td>{escape(text)}</td><td>{answers:d}</td></tr>" for text, answers in rows)
    return mark_safe("".join(cells))  # noqa: S308 - every text escaped, numbers formatted as such


FOCUSABLE = mark_safe(' tabindex="0"')
