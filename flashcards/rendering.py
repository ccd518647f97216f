"""Card text is Markdown, rendered to HTML and sanitised so that no script can come through.

Math between $…$ (inline) or $$…$$ (display) becomes MathML, which browsers draw natively:
no script and no font from elsewhere.
"""

import html
from functools import lru_cache

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


MAX_SIDE_CHARS = 20_000


class MarkdownRefused(ValueError):
    """Card text beyond the limits that bound the renderer's work."""


def check_markdown(text: str, label: str) -> None:
    """Refuse, naming the field and the limit, text whose rendering could stall a worker."""
    if len(text) > MAX_SIDE_CHARS:
        raise MarkdownRefused(
            f"{label} is {len(text):,} characters long; "
            f"a card side may hold at most {MAX_SIDE_CHARS:,}."
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


@lru_cache(maxsize=4096)
def render_markdown(text):
    """Markdown to safe HTML: no script, event handler or javascript: URL survives."""
    html = nh3.clean(
        _markdown.render(text),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )
    # A code block may scroll sideways: the keyboard must be able to reach it to scroll it.
    return html.replace("<pre>", '<pre tabindex="0">')
