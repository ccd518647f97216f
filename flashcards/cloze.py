"""Anki's cloze deletions in Markdown card text: which cards a note makes, and each card's sides.

A cloze note's text hides parts of itself, written ``{{c1::answer}}`` or ``{{c1::answer::hint}}``.
Each number makes one card. On its front every deletion with that number shows as ``[...]`` or
``[hint]``, in ``<span class="cloze">``, and the answer is nowhere in the HTML; on its back every
answer shows, those of that number in the span. Deletions of other numbers show their answer
plainly on both sides. Both sides are Markdown rendered by `rendering.render_markdown`, so math,
code and emphasis work inside a deletion and a deletion works inside them, lists and tables.

The text is read as Anki reads it (rslib/src/cloze.rs):
- only ``{{c``, digits and ``::`` open a deletion: ``{{C1::``, ``{{ c1::`` and ``{{c1:`` are text;
- leading zeros do not count (``{{c01::`` is c1), and numbers need not start at 1 or follow each
  other: ``{{c3::x}}`` alone makes one card, card 3;
- the first ``}}`` after an opener closes it and ``}}`` outside a deletion is text, so
  ``{{c1::{a}}}`` hides ``{a`` (write ``{{c1::{a} }}``);
- the first ``::`` inside starts the hint, which keeps any later ``::``: ``{{c1::a::b::c}}`` hides
  ``a`` with the hint ``b::c``, and ``{{c1::std::vector}}`` hides ``std``;
- spaces are kept as written, and the syntax counts everywhere, in code and math too (inside
  ``$…$`` the front hides the answer but MathML cannot hold the highlighting span).
Where we differ: an empty or blank hint is no hint (Anki shows ``[]``), and `check_cloze` refuses
what Anki quietly drops or shows as it was typed: an opener never closed, ``c0``, a number above
500 (Anki gives c500 and every higher number one card between them), an empty or blank answer, a
deletion inside another (Anki nests them), more than 500 deletions and text with no deletion.
`question`, `answer` and the plain forms read unchecked text leniently, in time linear in its
length: an opener left open or opened inside another deletion is text.
"""

import re
from dataclasses import dataclass

import nh3

from flashcards import rendering

MAX_DELETIONS = 500
MAX_CLOZE_NUMBER = 500  # Anki's own: card 500 is also that of every higher number

# While Markdown renders, these stand for the cloze span's tags, the front's brackets and the
# edges of other numbers' deletions. They are symbols, as the braces and colons they replace are:
# emphasis touching a deletion reads as CommonMark reads the text as written, braces included, on
# every card of the note alike. Brackets kept out of the Markdown make no link.
_MARKS = "\u2402\u2403\u2404\u2405\u2406\u2407"  # ␂ ␃ ␄ ␅ ␆ ␇, in the order of `_NO_MARKS`
# The same characters typed by the author travel as noncharacters, which Unicode keeps for such
# internal use (any in the text are dropped).
_STAND_INS = "\ufdd0\ufdd1\ufdd2\ufdd3\ufdd4\ufdd5"
_ESCAPE = str.maketrans(dict.fromkeys(_STAND_INS) | dict(zip(_MARKS, _STAND_INS, strict=True)))
_UNESCAPE = str.maketrans(_STAND_INS, _MARKS)
_MARKS_AS_HTML = str.maketrans(
    dict(zip(_MARKS, ['<span class="cloze">', "</span>", "[", "]", None, None], strict=True))
)
_MARKS_AS_TEXT = str.maketrans(dict(zip(_MARKS, [None, None, "[", "]", None, None], strict=True)))
_NO_MARKS = ("", "", "[", "]", "", "")  # open, close, left and right of the hint, other open, close
# A tag (its attributes are double-quoted, with no quote inside, in nh3's output) or a whole math
# element: there a span cannot go, so the marks become plain text.
_TAG_OR_MATH = re.compile(r'<math\b.*?</math>|<(?:[^>"]|"[^"]*+")*+>', re.DOTALL)
# nh3 keeps what its first pass let through, and mends the nesting of a span whose deletion
# crossed a paragraph, table cell or code span.
_RENDERED_ATTRIBUTES = {
    **rendering.ALLOWED_ATTRIBUTES,
    "a": rendering.ALLOWED_ATTRIBUTES["a"] | {"rel"},
    "pre": {"tabindex"},
}

# "{{c", digits and "::" open a deletion, "}}" closes one. A run of digits is read once ("++"
# gives it up whole when no "::" follows), so reading costs time linear in the text.
_TOKEN = re.compile(r"\{\{c([0-9]++)::|\}\}")


class ClozeError(ValueError):
    """Cloze text that makes no card, or a deletion in it that is malformed."""


@dataclass(frozen=True, slots=True)
class _Deletion:
    number: int
    answer: str
    hint: str  # empty when there is none


def _number(digits):
    significant = digits.lstrip("0")
    # Compared by length first: converting thousands of digits is slow, and refused past 4,300.
    return int(significant or "0") if len(significant) <= 6 else 10**6


def _where(text, offset):
    line = text.count("\n", 0, offset) + 1
    column = offset - text.rfind("\n", 0, offset)  # rfind gives -1 on the first line
    return f"line {line}, column {column}"


def _snippet(text):
    return f"“{text if len(text) <= 40 else text[:39] + '…'}”"


def _parse(text, label=None):
    """Text and deletions in order; with a label, refuse what `check_cloze` refuses."""
    strict = label is not None
    pieces = []
    taken = 0  # where the text not yet in pieces starts
    opener = None  # the "{{cN::" of the deletion open here
    deletions = 0
    for token in _TOKEN.finditer(text):
        if token[1] is not None and opener is None:
            opener = token
            number = _number(token[1])
            if strict and not 1 <= number <= MAX_CLOZE_NUMBER:
                raise ClozeError(
                    f"{label} has {_snippet(token[0])} at {_where(text, token.start())}: "
                    f"deletions are numbered c1 to c{MAX_CLOZE_NUMBER}, one card each."
                )
        elif token[1] is not None and strict:
            raise ClozeError(
                f"{label} opens a deletion with {_snippet(token[0])} at "
                f"{_where(text, token.start())}, inside the one opened at "
                f"{_where(text, opener.start())}: deletions cannot nest, close that one first."
            )
        elif token[1] is None and opener is not None:
            answer, _, hint = text[opener.end() : token.start()].partition("::")
            deletions += 1
            if strict and not answer.strip():
                raise ClozeError(
                    f"{label} has a deletion that hides nothing, "
                    f"{_snippet(text[opener.start() : token.end()])} at "
                    f"{_where(text, opener.start())}: write the answer after {_snippet(opener[0])}."
                )
            if strict and deletions > MAX_DELETIONS:
                raise ClozeError(
                    f"{label} has more than {MAX_DELETIONS} deletions (the next is at "
                    f"{_where(text, opener.start())}); a note may hold at most {MAX_DELETIONS}."
                )
            pieces.append(text[taken : opener.start()])
            pieces.append(_Deletion(number, answer, hint if hint.strip() else ""))
            taken = token.end()
            opener = None
        # Else "}}" outside a deletion, or leniently an opener inside one: text.
    if strict and opener is not None:
        raise ClozeError(
            f"{label} opens a deletion with {_snippet(opener[0])} at "
            f"{_where(text, opener.start())} and never closes it: end it with “}}}}”."
        )
    pieces.append(text[taken:])
    return pieces


def _numbers(pieces):
    return sorted({p.number for p in pieces if isinstance(p, _Deletion) and p.number > 0})


def _pieces_of_card(text, number):
    pieces = _parse(text)
    if number not in _numbers(pieces):
        raise ClozeError(f"The text has no deletion numbered {number}, so no card {number}.")
    return pieces


def check_cloze(text: str, label: str) -> None:
    """Refuse, naming the field and where, cloze text that is malformed or makes no card."""
    if not _numbers(_parse(text, label)):
        raise ClozeError(f"{label} makes no card: add a deletion such as {{{{c1::answer}}}}.")


def cloze_numbers(text: str) -> list[int]:
    """The numbers of the text's deletions, one card each, in order."""
    return _numbers(_parse(text))


def _card_markdown(text, number, *, front, marks):
    """The text of card `number`'s side with its deletions' edges and hint brackets as marks."""
    open_, close, left, right, other_open, other_close = marks
    shown = []
    for piece in _pieces_of_card(text, number):
        if isinstance(piece, str):
            shown.append(piece)
        elif piece.number != number:
            shown.append(f"{other_open}{piece.answer}{other_close}")
        elif front:
            shown.append(f"{open_}{left}{piece.hint or '...'}{right}{close}")
        else:
            shown.append(f"{open_}{piece.answer}{close}")
    return "".join(shown)


def _render(text, number, *, front):
    markdown = _card_markdown(text.translate(_ESCAPE), number, front=front, marks=_MARKS)
    # The marks take fewer characters than the syntax they replace and add no "[", "$" or tag:
    # the renderer's limits on those hold for the side as they do for the text.
    rendered = rendering.render_markdown(markdown)
    rendered = _TAG_OR_MATH.sub(lambda match: match[0].translate(_MARKS_AS_TEXT), rendered)
    rendered = nh3.clean(
        rendered.translate(_MARKS_AS_HTML),
        tags=rendering.ALLOWED_TAGS,
        attributes=_RENDERED_ATTRIBUTES,
        link_rel=None,
    )
    return rendered.translate(_UNESCAPE)


def question(text: str, number: int) -> str:
    """The HTML of card `number`'s front: its deletions shown as [...] or [hint]."""
    return _render(text, number, front=True)


def answer(text: str, number: int) -> str:
    """The HTML of card `number`'s back: every answer shown, those of its deletions highlighted."""
    return _render(text, number, front=False)


def plain_question(text: str, number: int) -> str:
    """Card `number`'s front as Markdown with no cloze syntax left, for listing and search."""
    return _card_markdown(text, number, front=True, marks=_NO_MARKS)


def plain_text(text: str) -> str:
    """The text with every deletion's answer in place of its syntax, for listing and search."""
    return "".join(piece if isinstance(piece, str) else piece.answer for piece in _parse(text))
