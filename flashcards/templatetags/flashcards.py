from django import template
from django.utils.html import format_html_join
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
# query of the progress page: the cells and the table rows are joined here, each value escaped.


@register.simple_tag
def heatmap_cells(days):
    return format_html_join(
        "",
        '<rect x="{}" y="{}" width="11" height="11" rx="2" class="level-{}"{} data-readout="{}">'
        "<title>{}</title></rect>",
        (
            (day.x, day.y, day.level, FOCUSABLE if day.answers else "", day.label, day.label)
            for day in days
        ),
    )


@register.simple_tag
def heatmap_rows(days):
    rows = [(day.date_text, day.answers) for day in days if day.answers]
    if not rows:
        return mark_safe('<tr><td colspan="2">No answers yet.</td></tr>')
    return format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows)


FOCUSABLE = mark_safe(' tabindex="0"')
