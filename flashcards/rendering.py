"""Card text is Markdown, rendered to HTML and sanitised so that no script can come through.

Math between $…$ (inline) or $$…$$ (display) becomes MathML, which browsers draw natively:
no script and no font from elsewhere.
"""

import html
import re

import latex2mathml.converter
import nh3
from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace",
    "msup", "msub", "msubsup", "mfrac", "msqrt", "mroot", "mover", "munder", "munderover",
    "mtable", "mtr", "mtd", "mstyle", "mpadded", "mphantom", "menclose", "mfenced",
}  # fmt: skip
ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "s", "sub", "sup", "code", "pre", "kbd", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "span", "div",
    "table", "thead", "tbody", "tr", "th", "td", "b", "i", "u",
} | MATHML_TAGS  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent",
    "accentunder", "columnalign", "rowalign", "columnspacing", "rowspacing", "width", "height",
    "depth", "notation", "open", "close", "separators", "scriptlevel", "displaystyle",
    "movablelimits", "largeop", "symmetric", "minsize", "maxsize", "linethickness",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"style"},
    "td": {"style"},
    "ol": {"start"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
}


# Limits that no real card reaches but that bound the renderer's work, as measured on inputs
# crafted to be costly: at these limits a side renders in well under 200 ms and 40 MB.
MAX_SIDE_CHARS = 10_000
# The sanitiser's cost grows with the square of how deeply HTML tags nest; a count bounds depth.
MAX_HTML_TAGS = 1_000
# Each "[" may open a link or image whose label is searched for: the cost grows faster than n.
MAX_BRACKETS = 1_000
# Each math span is a LaTeX conversion of its own, tens of microseconds even when tiny.
MAX_DOLLARS = 400
# Every row of a table gets as many cells as its header: a wide header over many short lines
# makes megabytes from a few kilobytes.
MAX_TABLE_CELLS = 5_000

_HTML_TAG = re.compile(r"</?[A-Za-z]")
# Blockquote markers, list markers and indentation before a table's delimiter row ("|---|---|").
_CONTAINER_PREFIX = re.compile(r"(?:[ \t>]|[-+*][ \t]|\d{1,9}[.)][ \t])*")
_DELIMITER_ROW_CHARS = frozenset("|-: \t")


class MarkdownRefused(ValueError):
    """Card text beyond the limits that bound the renderer's work."""


def _table_cells(text):
    """An upper bound on the cells of the tables in the text: rows times their header's columns."""
    cells = columns = 0
    for line in text.splitlines():
        if not line.strip():
            columns = 0  # a blank line ends a table
            continue
        rest = line[_CONTAINER_PREFIX.match(line).end() :]
        if "-" in rest and "|" in rest and set(rest) <= _DELIMITER_ROW_CHARS:
            columns = max(columns, sum(1 for cell in rest.split("|") if cell.strip()))
        cells += columns
    return cells


def check_markdown(text: str, label: str) -> None:
    """Refuse, naming the field and the limit, text whose rendering could stall a worker."""
    if len(text) > MAX_SIDE_CHARS:
        raise MarkdownRefused(
            f"{label} is {len(text):,} characters long; "
            f"a card side may hold at most {MAX_SIDE_CHARS:,}."
        )
    counts = [
        (len(_HTML_TAG.findall(text)), MAX_HTML_TAGS, "HTML tags"),
        (text.count("["), MAX_BRACKETS, "“[” brackets"),
        (text.count("$"), MAX_DOLLARS, "“$” signs"),
        (_table_cells(text) if "|" in text else 0, MAX_TABLE_CELLS, "table cells"),
    ]
    for count, limit, what in counts:
        if count > limit:
            raise MarkdownRefused(
                f"{label} has {count:,} {what}; a card side may hold at most {limit:,}."
            )


def _math(content, options):
    try:
        mathml = latex2mathml.converter.convert(
            content, display="block" if options.get("display_mode") else "inline"
        )
    except Exception:  # any LaTeX the converter cannot read is shown as it was written
        return f'<code class="math-error">{html.escape(content)}</code>'
    return mathml


_markdown = (
    MarkdownIt("commonmark", {"html": True, "linkify": False})
    .enable("table")
    .enable("strikethrough")
    # "$5 and $6" is money, not math: no digit or space right inside the dollars.
    .use(dollarmath_plugin, allow_space=False, allow_digits=False, renderer=_math)
)


def render_markdown(text: str) -> str:
    """Markdown to safe HTML: no script, event handler or javascript: URL survives."""
    try:
        check_markdown(text, "The text")
    except MarkdownRefused:
        # Old rows, fixtures or any other path that skipped the check are shown as written,
        # at a cost linear in their length, rather than stalling a worker.
        return f'<pre tabindex="0">{html.escape(text)}</pre>\n'
    rendered = nh3.clean(
        _markdown.render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    # A code block may scroll sideways: the keyboard must be able to reach it to scroll it.
    return rendered.replace("<pre>", '<pre tabindex="0">')
