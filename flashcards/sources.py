"""Parser of the plain-text source-document format, with no Django in it.

A document is a title line, then cards: each card is a short heading line (its front) followed
by body lines (its back). Body lines starting with "- " are list items; blank lines may separate
cards. The back is returned as Markdown: list lines become a list, other lines paragraphs.
"""

import json
import re
import unicodedata
from dataclasses import dataclass, field

MAX_HEADING_CHARS = 80
MAX_HEADING_WORDS = 10
# A heading is a name, not a sentence: it does not end like one ("?" is allowed: a question).
SENTENCE_END = (".", "…", "!", ":", ";", ",")
LABEL = re.compile(r"^\S+(\s\S+)?:\s")


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
    return (
        bool(stripped)
        and not stripped.startswith("- ")
        and len(stripped) <= MAX_HEADING_CHARS
        and len(stripped.split()) <= MAX_HEADING_WORDS
        and not stripped.endswith(SENTENCE_END)
        and not LABEL.match(stripped)
    )


def parse_source(text):
    """Parse a source document (str, any newline style, with or without a BOM)."""
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    numbered = [(n, line.strip()) for n, line in enumerate(lines, start=1)]
    content = [(n, line) for n, line in numbered if line]
    if not content:
        raise SourceError("The document is empty.")
    title_line, title = content[0]
    cards = []
    after_blank = False
    for n, line in numbered[title_line:]:
        if not line:
            after_blank = True
            continue
        current = cards[-1] if cards else None
        if after_blank and current is not None and not current.body:
            raise SourceError(f"Line {current.line}: the card “{current.front}” has no answer.")
        starts_card = current is None or (
            current.body and (after_blank or looks_like_heading(line))
        )
        if starts_card:
            if line.startswith("- "):
                raise SourceError(f"Line {n}: a card must start with a heading, not a list item.")
            cards.append(SourceCard(front=line, line=n))
        else:
            current.body.append(line)
        after_blank = False
    if not cards:
        raise SourceError(f"Line {title_line}: the document has a title but no cards.")
    for card in cards:
        if not card.body:
            raise SourceError(f"Line {card.line}: the card “{card.front}” has no answer.")
    return SourceDocument(title=title, cards=cards)


def body_to_markdown(body):
    """Body lines to Markdown: runs of "- " lines become one list, each other line a paragraph."""
    blocks = []
    for line in body:
        if line.startswith("- ") and blocks and blocks[-1].startswith("- "):
            blocks[-1] += "\n" + line
        else:
            blocks.append(line)
    return "\n\n".join(blocks)


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
