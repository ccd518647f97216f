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
