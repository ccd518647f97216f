"""Reading files to import: plain-text source documents, CSV/TSV and Anki packages. A file is
checked whole before anything is written (see flashcards.import_jobs), so a bad file is refused
with a message and changes nothing."""

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings

from flashcards import anki, rendering, scheduling, sources
from flashcards.exports import FORMULA_STARTS

# Limits counted while a file is read, so that a small file cannot ask for much more work than
# its bytes. 100,000 cards is more than the largest shared decks (a vocabulary list, a medical
# course) and keeps a parse under ~60 MB; an Anki package's own limits are in flashcards.anki.
MAX_CARDS = 100_000
# A source document is parsed whole; ~5 µs and ~400 bytes a line, so this bounds the parse to
# ~0.5 s and ~40 MB. Real documents are hand-written: a few thousand lines.
MAX_SOURCE_LINES = 100_000
# Card.tags holds at most 500 characters.
MAX_TAGS_CHARS = 500
FORMATS = {"txt": "Source document", "csv": "CSV or TSV", "apkg": "Anki package"}
CSV_HEADERS = (["front", "back"], ["front", "back", "tags"])
# Anki's "manual" revlog rows are reschedulings, not answers.
ANKI_MANUAL = 4


class ImportRefused(ValueError):
    """A file that cannot be imported; the message says why, naming the line where it can."""


@dataclass(slots=True)
class ImportedCard:
    front: str
    back: str
    tags: str = ""
    # Answers from an Anki package: (reviewed_at, rating, duration_ms), oldest first.
    history: tuple = ()


@dataclass(slots=True)
class ParsedFile:
    format: str
    title: str | None
    cards: list[ImportedCard]

    @property
    def answers(self):
        return sum(len(card.history) for card in self.cards)


def detect_format(filename, data):
    suffix = PurePath(filename).suffix.lower()
    if suffix in (".apkg", ".colpkg", ".zip") or data[:4] == b"PK\x03\x04":
        return "apkg"
    if suffix in (".csv", ".tsv"):
        return "csv"
    return "txt"


def size_refusal(size):
    """Why a file of `size` bytes cannot be imported, or None."""
    if size > settings.MAX_IMPORT_BYTES:
        return (
            f"The file is {size / 1048576:.1f} MB; imports are limited to "
            f"{settings.MAX_IMPORT_BYTES // 1048576} MB."
        )
    return None


def parse_file(filename, data, fmt=None):
    """Read an uploaded file into cards, or raise ImportRefused saying what is wrong."""
    if refusal := size_refusal(len(data)):
        raise ImportRefused(refusal)
    if not data.strip():
        raise ImportRefused("The file is empty.")
    fmt = fmt or detect_format(filename, data)
    if fmt == "apkg":
        parsed = _parse_apkg(data)
    elif fmt == "csv":
        tab = PurePath(filename).suffix.lower() == ".tsv"
        parsed = _parse_csv(_decode(data), delimiter="\t" if tab else None)
    else:
        parsed = _parse_source(_decode(data))
    if not parsed.cards:
        raise ImportRefused("The file holds no cards.")
    return parsed


def _decode(data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ImportRefused(
            f"Line {line}: the file is not UTF-8 text (byte 0x{data[error.start]:02x} cannot be "
            "read). Save it as UTF-8 and upload it again."
        ) from error


def _parse_source(text):
    lines = text.count("\n") + 1
    if lines > MAX_SOURCE_LINES:
        raise ImportRefused(
            f"The document has {lines:,} lines; a source document may have at most "
            f"{MAX_SOURCE_LINES:,}."
        )
    try:
        document = sources.parse_source(text)
    except sources.SourceError as error:
        raise ImportRefused(str(error)) from error
    _refuse_too_many(len(document.cards))
    cards = [
        _checked_card(card.front, card.back, "", f"Line {card.line}") for card in document.cards
    ]
    _refuse_repeated_fronts((card.front, card.line) for card in document.cards)
    return ParsedFile("txt", document.title, cards)


def _guess_delimiter(text):
    """Tab, comma or semicolon: the first that splits the first row into front and back."""
    first_row = text.lstrip("\n").split("\n", 3)[:3]
    for delimiter in ("\t", ",", ";"):
        try:
            cells = next(csv.reader(first_row, delimiter=delimiter, strict=True), [])
        except csv.Error:
            continue
        if 2 <= len(cells) <= 3:
            return delimiter
    return ","


def _parse_csv(text, delimiter=None):
    delimiter = delimiter or _guess_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    cards, fronts = [], []
    line = 1
    try:
        for row in reader:
            # A quoted cell may span lines: a row is named by the line it starts on.
            line, next_line = line, reader.line_num + 1
            cells = [cell.strip() for cell in row]
            if not any(cells):
                line = next_line
                continue
            if not cards and [cell.lower() for cell in cells] in CSV_HEADERS:
                line = next_line
                continue
            if len(cells) < 2:
                raise ImportRefused(
                    f"Line {line}: expected a front and a back, found {len(cells)} column."
                )
            if len(cells) > 3:
                raise ImportRefused(
                    f"Line {line}: expected front, back and optional tags, found {len(cells)} "
                    "columns."
                )
            front, back, tags = (_unneutralised(cell) for cell in (cells + [""])[:3])
            if not front:
                raise ImportRefused(f"Line {line}: the front is empty.")
            if not back:
                raise ImportRefused(f"Line {line}: the back is empty.")
            _refuse_too_many(len(cards) + 1)
            cards.append(_checked_card(front, back, tags, f"Line {line}"))
            fronts.append((front, line))
            line = next_line
    except csv.Error as error:
        raise ImportRefused(f"Line {line}: {error}.") from error
    _refuse_repeated_fronts(fronts)
    return ParsedFile("csv", None, cards)


def _parse_apkg(data):
    try:
        package = anki.read_apkg(data)
    except anki.AnkiPackageError as error:
        raise ImportRefused(str(error)) from error
    first_card = {}
    for card in sorted(package.cards, key=lambda card: (card.note_id, card.ordinal)):
        first_card.setdefault(card.note_id, card.card_id)
    history = defaultdict(list)
    for review in sorted(package.reviews, key=lambda review: review.reviewed_at):
        if review.kind != ANKI_MANUAL and review.rating in scheduling.RATINGS:
            history[review.card_id].append(
                (review.reviewed_at, review.rating, max(0, review.duration_ms))
            )
    cards, fronts = [], []
    for number, note in enumerate(package.notes, start=1):
        if len(note.fields) < 2:
            raise ImportRefused(f"Note {number} has {len(note.fields)} field; two are needed.")
        front, back = anki.html_to_text(note.fields[0]), anki.html_to_text(note.fields[1])
        if not front:
            continue
        card = _checked_card(front, back, " ".join(note.tags), f"Note {number}")
        card.history = tuple(history.get(first_card.get(note.note_id), ()))
        cards.append(card)
        fronts.append((front, f"note {number}"))
    _refuse_repeated_fronts(fronts, unit="")
    return ParsedFile("apkg", package.deck_name, cards)


def _refuse_too_many(count):
    if count > MAX_CARDS:
        raise ImportRefused(
            f"The file is refused: it holds more than {MAX_CARDS:,} cards, "
            "the most one import may hold."
        )


def _checked_card(front, back, tags, where):
    """A card whose sides the renderer can take and whose tags fit, or the refusal naming it."""
    try:
        rendering.check_markdown(front, f"{where}: the front")
        rendering.check_markdown(back, f"{where}: the back")
    except rendering.MarkdownRefused as error:
        raise ImportRefused(str(error)) from error
    tags = " ".join(tags.split())
    if len(tags) > MAX_TAGS_CHARS:
        raise ImportRefused(
            f"{where}: the tags are {len(tags):,} characters long; a card's tags may hold at "
            f"most {MAX_TAGS_CHARS}."
        )
    return ImportedCard(front, back, tags)


def _unneutralised(cell):
    """A cell as it was before an export guarded it against spreadsheet formulas (one leading
    apostrophe before a formula start, see flashcards.exports.spreadsheet_safe)."""
    if cell.startswith("'") and cell.lstrip("'").startswith(FORMULA_STARTS):
        return cell[1:]
    return cell


def _refuse_repeated_fronts(fronts, unit="Line "):
    seen = {}
    for front, where in fronts:
        if front in seen:
            raise ImportRefused(
                f"{unit}{where}: the front “{front[:60]}” repeats {unit.lower()}{seen[front]}; "
                "cards are matched by their front, so each must be unique."
            )
        seen[front] = where
