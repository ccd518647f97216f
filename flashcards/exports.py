"""Exporting a deck: as a source document, a CSV file or an Anki package."""

import csv
import io

from flashcards import anki, sources

# A spreadsheet reads a cell starting with one of these as a formula (OWASP, CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell):
    """A CSV cell that a spreadsheet shows as text: one apostrophe before a formula start.

    Apostrophes already before one get another, so that an import removing one gives the cell
    back exactly (flashcards.imports).
    """
    if isinstance(cell, str) and cell.lstrip("'").startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def export_csv(deck):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["front", "back", "tags"])
    for card in deck.cards.order_by("position", "id"):
        writer.writerow([spreadsheet_safe(cell) for cell in (card.front, card.back, card.tags)])
    return buffer.getvalue().encode("utf-8")


def export_source(deck):
    cards = deck.cards.order_by("position", "id").values_list("front", "back")
    return sources.to_source(deck.title, list(cards)).encode("utf-8")


def export_apkg(deck):
    cards = deck.cards.order_by("position", "id")
    # Anki updates a note it already has only from a newer copy: date the package by its cards.
    last_edit = max((card.updated_at for card in cards), default=deck.updated_at)
    notes = [
        (
            f"flashcards-{card.pk}",
            anki.text_to_field(card.front, card.front_rendered),
            anki.text_to_field(card.back, card.back_rendered),
        )
        for card in cards
    ]
    return anki.write_apkg(deck.title, notes, now=last_edit)


EXPORTS = {
    "csv": (export_csv, "text/csv; charset=utf-8", "csv"),
    "txt": (export_source, "text/plain; charset=utf-8", "txt"),
    "apkg": (export_apkg, "application/octet-stream", "apkg"),
}
