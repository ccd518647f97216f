"""Parser and writer of the plain-text source-document format, with no Django in it.

A document is a title line, then cards: each card is a short heading line (its front) followed
by body lines (its back). Blank lines split the text into blocks:

- the first line of a block of several lines starts a card, unless it cannot be a heading and a
  card starts later in the block: then the lines before that card continue the answer above;
- a block of one line continues the answer above, unless it is a question (a card with no answer);
- inside a block, the line after a front is its answer, and a short heading-like line starts a
  card when the line after it can be its answer: of two heading-like lines in a row the first is
  body; a question ("?") is the strongest heading, and "Mitosis: Prophase" is one after "Mitosis";
- "- " lines and numbered lines ("1. x", "2) y") are list items, never headings.

The back is Markdown: each run of list lines is one list, every other line a paragraph whose start
is escaped so that it renders as the text it is. `to_source` writes a deck back in this format.
"""

import bisect
import json
import re
import unicodedata
from dataclasses import dataclass, field
from itertools import groupby

MAX_HEADING_CHARS = 80
MAX_HEADING_WORDS = 10
# A question is a front even when too long for a heading, up to this length.
MAX_QUESTION_CHARS = 150
# A heading is a name, not a sentence: it does not end like one ("?" is allowed: a question).
SENTENCE_END = (".", "…", "!", ":", ";", ",")
LABEL = re.compile(r"^\S+(\s\S+)?:\s")
NUMBERED_ITEM = re.compile(r"^\d{1,9}[.)]\s+\S")
# Starts of a plain line that Markdown would read as a heading, quote, list item, rule, code fence
# or link definition instead of as text.
MARKDOWN_BLOCK_START = re.compile(
    r"#{1,6}(\s|$)|>|[-+*](\s|$)|(?P<rule>[-*_])(\s*(?P=rule)){2,}\s*$|```|~~~|\[[^\]]*\]:"
)
# "1." or "2)" starts an ordered list item in Markdown, even with nothing after it.
ORDERED_MARKER = re.compile(r"(\d{1,9})([.)])(\s|$)")


class SourceError(ValueError):
    """A document that cannot be read as cards; the message names the line."""


@dataclass
class SourceCard:
    front: str
    body: list[str] = field(default_factory=list)
    line: int = 0

    @property
    def back(self):
        return body_to_markdown(self.body)


@dataclass
class SourceDocument:
    title: str
    cards: list[SourceCard]


def looks_like_heading(line):
    stripped = line.strip()
    return _has_heading_shape(stripped) and not LABEL.match(stripped)


def _has_heading_shape(line):
    return (
        bool(line)
        and not _is_list_item(line)
        and len(line) <= MAX_HEADING_CHARS
        and len(line.split()) <= MAX_HEADING_WORDS
        and not line.endswith(SENTENCE_END)
    )


def _is_list_item(line):
    return line.startswith("- ") or bool(NUMBERED_ITEM.match(line))


def _is_question(line):
    return line.endswith("?") and len(line) <= MAX_QUESTION_CHARS and not _is_list_item(line)


def _names_a_subtopic(line, front):
    # "Examples: iron, gold" is a labelled line, but "Mitosis: Prophase" after "Mitosis" (or after
    # "Mitosis: Metaphase") names a part of the topic just studied, as a heading does.
    topic = front.split(":", 1)[0].strip().casefold()
    return (
        bool(LABEL.match(line))
        and _has_heading_shape(line)
        and line.split(":", 1)[0].casefold() == topic
    )


def _may_start_card(line, front):
    """Whether a line, met after the answer of the card `front`, could be the front of a new one."""
    return looks_like_heading(line) or _is_question(line) or _names_a_subtopic(line, front)


def parse_source(text):
    """Parse a source document (str, any newline style, with or without a BOM)."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    numbered = [(n, line.strip()) for n, line in enumerate(lines, start=1)]
    content = [(n, line) for n, line in numbered if line]
    if not content:
        raise SourceError("The document is empty.")
    title_line, title = content[0]
    cards = []
    for has_text, block in groupby(numbered[title_line:], key=lambda pair: bool(pair[1])):
        if has_text:
            _read_block(list(block), cards)
    if not cards:
        raise SourceError(f"Line {title_line}: the document has a title but no cards.")
    return SourceDocument(title=title, cards=cards)


def _read_block(block, cards):
    """Add a block of (number, line) pairs to the cards, as new cards or as more of the last one."""
    (number, first), texts = block[0], [line for _, line in block]
    if _is_list_item(first):
        raise SourceError(f"Line {number}: a card must start with a heading, not a list item.")
    previous = cards[-1] if cards else None
    if len(block) == 1:
        if previous is None or _is_question(first):
            raise SourceError(f"Line {number}: the card “{first}” has no answer.")
        previous.body.append(first)
        return
    starts = _block_starts(texts, previous.front if previous else None)
    if starts[0]:
        previous.body.extend(texts[: starts[0]])
    for start, end in zip(starts, [*starts[1:], len(texts)], strict=True):
        cards.append(SourceCard(texts[start], texts[start + 1 : end], line=block[start][0]))


def _block_starts(texts, previous_front):
    """Indices of the lines of a block that start cards; lines before the first continue the card
    `previous_front` (None when there is none)."""
    if previous_front is not None and not _may_start_card(texts[0], previous_front):
        continued = _card_starts(texts, previous_front)
        if continued:
            return continued
    return [0] + [1 + start for start in _card_starts(texts[1:], texts[0])]


def _card_starts(lines, front):
    """Indices of the lines that start cards, given that lines[0] is an answer to `front`."""
    starts = []
    run_start = 1
    while run_start < len(lines):
        run_end = run_start
        while run_end < len(lines) and _may_start_card(lines[run_end], front):
            run_end += 1
        run = lines[run_start:run_end]
        fronts = [run_start + k for k in _fronts_in_run(run, answered=run_end < len(lines))]
        if fronts:
            front = lines[fronts[-1]]
        starts += fronts
        run_start = run_end + 1
    return starts


def _fronts_in_run(run, answered):
    """Which lines of a run of possible fronts start cards, `answered` if a body line follows it.

    Read from the end, since every card needs the line after its front as an answer: a line is a
    front only if the line after it is body, so the line before a front is body. A question takes
    the front from a plain heading right after it, which becomes its answer.
    """
    fronts = []
    next_is_body = answered
    for k in reversed(range(len(run))):
        yields = k > 0 and _is_question(run[k - 1]) and not _is_question(run[k])
        is_front = next_is_body and not yields
        if is_front:
            fronts.append(k)
        next_is_body = not is_front
    return fronts[::-1]


def body_to_markdown(body):
    """Body lines to Markdown: each run of "- " or of numbered lines is one list, any other line a
    paragraph."""
    blocks = []
    previous_kind = None
    for line in body:
        kind = _list_kind(line)
        if kind and kind == previous_kind:
            blocks[-1] += "\n" + line
        else:
            blocks.append(line if kind else _escape(line))
        previous_kind = kind
    return "\n\n".join(blocks)


def _list_kind(line):
    if line.startswith("- "):
        return "bullet"
    return "numbered" if NUMBERED_ITEM.match(line) else None


def _escape(line):
    """A plain line as Markdown that renders as its text; inline Markdown is kept as written."""
    if marker := ORDERED_MARKER.match(line):
        return f"{marker[1]}\\{line[marker.end(1) :]}"
    return "\\" + line if MARKDOWN_BLOCK_START.match(line) else line


def _unescape(markdown_line):
    """The plain line that `_escape` turns into this Markdown line."""
    plain = markdown_line.replace("\\", "", 1)
    return plain if plain != markdown_line and _escape(plain) == markdown_line else markdown_line


def back_to_lines(markdown):
    """The body lines whose Markdown is this back: the inverse of `body_to_markdown`.

    A back the format cannot hold exactly (a code block, a table, a paragraph broken over lines)
    gives one body line per line of Markdown.
    """
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [
        line if _is_list_item(line) else _unescape(line)
        for line in (line.strip() for line in lines)
        if line
    ]


def to_source(title, cards):
    """A source document (LF, ending with a newline) for a title and (front, back Markdown) pairs.

    It reads back as the same deck whenever some layout of the lines does: a blank line goes
    between cards, and inside an answer or between cards only where reading needs it. Otherwise
    the same cards with the same fronts come back: the lines that would be read as fronts are
    ended with ":", and Markdown the format cannot hold (a code block, a table, a paragraph broken
    over lines) comes back one paragraph per line.
    """
    title = _one_line(title, "The deck has no title to write.")
    written = [_card_to_write(front, back) for front, back in cards]
    lines = _layout(written)
    if lines is None:
        previous_fronts = [None] + [front for front, _ in written[:-1]]
        written = [
            _readable_alone(*card, before)
            for card, before in zip(written, previous_fronts, strict=True)
        ]
        lines = _layout(written)
    return "\n".join([title, "", *lines] if lines else [title]) + "\n"


def _one_line(text, error):
    line = " ".join(filter(None, (part.strip() for part in re.split(r"\r\n|\r|\n", text))))
    if not line:
        raise ValueError(error)
    return line


def _card_to_write(front, back):
    """A card as the (front line, body lines) that write it."""
    front = _one_line(front, "A card has no front to write.")
    if _is_list_item(front):
        front = _escape(front)
    body = back_to_lines(back)
    if not body:
        raise ValueError(f"The card “{front}” has no answer to write.")
    return front, body


def _readable_alone(front, body, previous_front):
    """The card, with as few lines changed as it takes for it to read back on its own."""
    while _layout([(front, body)], previous_front) is None:
        # End the first line that is read as a front like a sentence, which no front does.
        misread = min(start for start in _block_starts([front, *body], previous_front) if start)
        body = [*body[: misread - 1], body[misread - 1] + ":", *body[misread:]]
    return front, body


def _layout(cards, previous_front=None):
    """The lines that write (front, body) pairs so that they read back as the same cards, with
    blank lines only where needed; None if no layout does."""
    lines, fronts = [], []
    for front, body in cards:
        fronts.append(len(lines))
        lines += [front, *body]
    starts = _cheapest_block_starts(lines, fronts, previous_front)
    if starts is None:
        return None
    written = []
    for i, line in enumerate(lines):
        if i in starts and i:
            written.append("")
        written.append(line)
    return written


def _cheapest_block_starts(lines, fronts, previous_front):
    """Where blocks start in the cheapest layout of the lines that reads back (see _block_cost)."""
    # cheapest[end]: the cost of writing lines[:end] as blocks, and where the last block starts.
    cheapest = {0: (0, None)}
    for end in range(1, len(lines) + 1):
        card = bisect.bisect_right(fronts, end - 1) - 1
        # Blocks inside the card first; one that also holds the end of the answer above only when
        # none does, since how lines[:end] is written does not change how the rest reads.
        inside, glued = range(fronts[card], end), range(fronts[max(card - 1, 0)], fronts[card])
        for starts in (inside, glued):
            options = [
                (cheapest[start][0] + cost, start)
                for start in starts
                if start in cheapest
                and (cost := _block_cost(lines, fronts, start, end, previous_front)) is not None
            ]
            if options:
                cheapest[end] = min(options)
                break
    if len(lines) not in cheapest:
        return None
    starts, end = set(), len(lines)
    while end:
        end = cheapest[end][1]
        starts.add(end)
    return starts


def _block_cost(lines, fronts, start, end, previous_front):
    """How far the block lines[start:end] is from one block per card (a blank line inside an
    answer, a front without a blank line before it), or None if it would not read back."""
    first, after = bisect.bisect_left(fronts, start), bisect.bisect_left(fronts, end)
    starts = [front - start for front in fronts[first:after]]
    if first:
        previous_front = lines[fronts[first - 1]]
    block = lines[start:end]
    if len(block) == 1:
        reads_back = not starts and previous_front is not None and _continues(block[0])
    else:
        reads_back = not _is_list_item(block[0]) and _block_starts(block, previous_front) == starts
    if not reads_back:
        return None
    opens_a_card = starts[:1] == [0]
    return len(starts) - opens_a_card + (not opens_a_card)


def _continues(line):
    """Whether a line alone between blank lines reads as a paragraph of the answer above."""
    return not _is_list_item(line) and not _is_question(line)


def slug_for(title):
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-") or "deck"


def to_fixture(document, *, timestamp):
    """The Django fixture (a JSON string) that loads a document as one published curated deck."""
    slug = slug_for(document.title)
    count = len(document.cards)
    objects = [
        {
            "model": "flashcards.deck",
            "fields": {
                "title": document.title,
                "slug": slug,
                "description": f"{count} card{'s' if count != 1 else ''}.",
                "published": True,
                "owner": None,
                "created_at": timestamp,
                "updated_at": timestamp,
            },
        }
    ]
    for position, card in enumerate(document.cards, start=1):
        objects.append(
            {
                "model": "flashcards.card",
                "fields": {
                    "deck": [slug],
                    "front": card.front,
                    "back": card.back,
                    "position": position,
                    "created_at": timestamp,
                    "updated_at": timestamp,
                },
            }
        )
    return json.dumps(objects, indent=2, ensure_ascii=False) + "\n"
