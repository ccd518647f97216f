"""A typed answer compared with the expected one, character by character, as Anki shows it.

Anki ("Type in the answer", rslib/src/typeanswer.rs) compares the two texts in Unicode NFC,
with case and every space significant; only the expected text is stripped of HTML and trimmed.
Its diff is Ratcliff/Obershelp (the algorithm of Python's difflib, without junk): the longest
common run first, then the same on either side of it. Typed characters are good or wrong, and
each character missing from them is a "-"; the expected line below shows what was missing.
Anki's Rust port of difflib indexes, in an expected text of 200 characters or more, only the
characters found more than once in every hundred, so that rarer ones never anchor a match;
ours indexes them all. Below 200 characters the two give the same parts.

expected_text() also collapses runs of spaces, where Anki only turns line breaks into one.

The HTML keeps Anki's shape (a <code>, the typed line, an arrow, the expected line) with our class
names, and says the same without colour: wrong characters are a <del> (struck through), missing
ones an <ins> (underlined), and visually hidden words ("You typed:", "wrong:", "missing:",
"Expected:", "Correct:") tell a screen reader what each part is. The arrow and the dashes are
hidden from it.
"""

import html
import re
import string
import unicodedata
from bisect import bisect_left

# The answer form refuses longer answers; compare() cuts them, so no request can cost more.
MAX_TYPED_CHARS = 1_000
# An answer to be typed is a word or a phrase: the comparison covers this much of the back.
MAX_EXPECTED_CHARS = 1_000
# A back is at most 10,000 characters of Markdown (rendering.MAX_SIDE_CHARS); its HTML can be
# longer. Beyond this much HTML nothing is read, which bounds expected_text() at any input.
MAX_BACK_HTML_CHARS = 100_000
# The diff's budget, in pairs of equal characters visited, a character of the typed text
# counting as _ROW_STEPS pairs (it costs about as much). Ratcliff/Obershelp is quadratic or
# worse: "ab" * 500 against "aab" * 333 costs seconds. At the budget the diff has taken 20 to
# 40 ms; texts that would cost more get a coarser comparison, their common start and end as
# good and all between as wrong and missing. Answers of up to a few hundred characters of
# ordinary text stay well within it.
MAX_DIFF_STEPS = 200_000
_ROW_STEPS = 4

# Tags that end a line or a block: their text is separated by a space, not joined.
_BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})  # fmt: skip
# Elements whose content is not text a learner reads, as Anki's strip_html drops them.
_HIDDEN_CONTENT_TAGS = ("script", "style")
# Only ASCII: str.lower() may lengthen a text ("İ" becomes two characters), and the tags'
# positions in the lowered text must be those in the text.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# A tag starts with a letter, "/" and a letter, "!" or "?" after "<": any other "<" is text.
_TAG_START = re.compile(r"<(?P<closing>/?)(?P<name>[A-Za-z][^\s/>]*)|<[!?]")


def compare(typed: str, expected: str) -> str:
    """Safe HTML comparing the typed answer with the expected plain text, as Anki shows it."""
    typed = _nfc(typed, MAX_TYPED_CHARS)
    expected = _nfc(expected, MAX_EXPECTED_CHARS).strip()
    if not typed:
        return _code(_hidden("Expected: ") + html.escape(expected))
    if typed == expected:
        return _code(
            f'<span class="typed-good">{_hidden("Correct: ")}{html.escape(expected)}</span>'
            '<span class="typed-mark" aria-hidden="true"> ✓</span>'
        )
    typed_html = []
    expected_html = []
    for tag, typed_start, typed_end, expected_start, expected_end in _opcodes(typed, expected):
        typed_part = typed[typed_start:typed_end]
        expected_part = expected[expected_start:expected_end]
        if tag == "equal":
            typed_html.append(_good(typed_part))
            expected_html.append(_good(expected_part))
            continue
        if typed_part:
            typed_html.append(
                f'<del class="typed-bad">{_hidden("(wrong: ")}{_escape(typed_part)}'
                f"{_hidden(')')}</del>"
            )
        elif tag == "insert":
            # As in Anki, a dash stands for each missing character.
            typed_html.append(
                f'<span class="typed-missed"><span aria-hidden="true">{"-" * len(expected_part)}'
                f"</span>{_hidden('(missing)')}</span>"
            )
        if expected_part:
            expected_html.append(
                f'<ins class="typed-missed">{_hidden("(missing: ")}{_escape(expected_part)}'
                f"{_hidden(')')}</ins>"
            )
    return _code(
        _hidden("You typed: ")
        + "".join(typed_html)
        + '<br><span class="typed-arrow" aria-hidden="true">&darr;</span><br>'
        + _hidden("Expected: ")
        + "".join(expected_html)
    )


def expected_text(markdown_or_html: str) -> str:
    """The plain text a learner is to type from a card's back: tags out, entities decoded."""
    text = _strip_tags(markdown_or_html[:MAX_BACK_HTML_CHARS])
    text = html.unescape(text)
    # No-break, thin and other spaces are typed as one plain space.
    text = " ".join(text.split())
    return _nfc(text, MAX_EXPECTED_CHARS).strip()


def _nfc(text, limit):
    # Cut before normalising to bound the work, and after, as NFC may lengthen a text.
    return unicodedata.normalize("NFC", text[:limit])[:limit]


def _code(inner):
    return f'<code class="typed-answer">{inner}</code>'


def _hidden(label):
    return f'<span class="visually-hidden">{label}</span>'


def _good(text):
    return f'<span class="typed-good">{_escape(text)}</span>'


def _escape(text):
    # A part that starts with a combining mark would join the previous part's last letter:
    # a no-break space carries it, as in Anki.
    if text and unicodedata.category(text[0]).startswith("M"):
        text = "\xa0" + text
    return html.escape(text)


def _strip_tags(text):
    """The text outside tags and comments, block tags as spaces, in one pass over the text."""
    lowered = text.translate(_ASCII_LOWER)
    found = {}

    def find(needle, start):
        # Searches start ever further on: a position found ahead, or no match, stays true.
        at = found.get(needle)
        if at is None or -1 < at < start:
            at = found[needle] = lowered.find(needle, start)
        return at

    parts = []
    position = 0
    while match := _TAG_START.search(text, position):
        start = match.start()
        parts.append(text[position:start])
        position = start
        end = find(">", start)
        if end == -1:
            break  # no tag closes from here on: the rest is text
        name = (match["name"] or "").lower()
        if match[0] == "<!" and lowered.startswith("<!--", start):
            close = find("-->", start + 4)
            end = close + 2 if close != -1 else end
        elif name in _HIDDEN_CONTENT_TAGS and not match["closing"]:
            close = find(f"</{name}", end)
            if close != -1:
                close_end = find(">", close)
                end = close_end if close_end != -1 else len(text) - 1
        if name in _BLOCK_TAGS:
            parts.append(" ")
        position = end + 1
    parts.append(text[position:])
    return "".join(parts)


def _opcodes(typed, expected):
    """difflib's opcodes turning typed into expected: equal, replace, delete and insert spans."""
    blocks = _matching_blocks(typed, expected)
    if blocks is None:
        blocks = _prefix_and_suffix(typed, expected)
    opcodes = []
    i = j = 0
    for block_i, block_j, size in [*blocks, (len(typed), len(expected), 0)]:
        if i < block_i and j < block_j:
            opcodes.append(("replace", i, block_i, j, block_j))
        elif i < block_i:
            opcodes.append(("delete", i, block_i, j, block_j))
        elif j < block_j:
            opcodes.append(("insert", i, block_i, j, block_j))
        i, j = block_i + size, block_j + size
        if size:
            opcodes.append(("equal", block_i, i, block_j, j))
    return opcodes


def _matching_blocks(a, b):
    """Ratcliff/Obershelp's common runs of a and b, in order; None beyond the step budget."""
    positions = {}
    for j, char in enumerate(b):
        positions.setdefault(char, []).append(j)
    steps = 0
    blocks = []
    regions = [(0, len(a), 0, len(b))]
    while regions:
        a_low, a_high, b_low, b_high = regions.pop()
        # The longest run in the region, the earliest in a, then in b, as difflib finds it.
        best_i, best_j, best_size = a_low, b_low, 0
        run_ending_at = {}
        for i in range(a_low, a_high):
            runs = {}
            js = positions.get(a[i], ())
            first = bisect_left(js, b_low)
            last = bisect_left(js, b_high, first)
            steps += last - first + _ROW_STEPS
            for j in js[first:last]:
                size = runs[j] = run_ending_at.get(j - 1, 0) + 1
                if size > best_size:
                    best_i, best_j, best_size = i - size + 1, j - size + 1, size
            run_ending_at = runs
            if steps > MAX_DIFF_STEPS:
                return None
        if best_size:
            blocks.append((best_i, best_j, best_size))
            if a_low < best_i and b_low < best_j:
                regions.append((a_low, best_i, b_low, best_j))
            if best_i + best_size < a_high and best_j + best_size < b_high:
                regions.append((best_i + best_size, a_high, best_j + best_size, b_high))
    blocks.sort()
    return _joined(blocks)


def _joined(blocks):
    """Blocks that follow each other in both texts, as one block."""
    joined = []
    for i, j, size in blocks:
        if joined and joined[-1][0] + joined[-1][2] == i and joined[-1][1] + joined[-1][2] == j:
            joined[-1] = (joined[-1][0], joined[-1][1], joined[-1][2] + size)
        else:
            joined.append((i, j, size))
    return joined


def _prefix_and_suffix(a, b):
    """The common start and end of a and b as blocks: a coarse diff at a cost linear in length."""
    shorter = min(len(a), len(b))
    prefix = 0
    while prefix < shorter and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < shorter - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    blocks = [(0, 0, prefix)] if prefix else []
    if suffix:
        blocks.append((len(a) - suffix, len(b) - suffix, suffix))
    return blocks
