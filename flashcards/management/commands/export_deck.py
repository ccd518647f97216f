from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from flashcards.exports import EXPORTS
from flashcards.models import Deck


class Command(BaseCommand):
    help = "Export a deck as a source document (txt), CSV or an Anki package (apkg)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument("path", type=Path)
        parser.add_argument("--format", choices=sorted(EXPORTS), help="Else from the path.")

    def handle(self, *args, slug, path, format, **options):
        try:
            deck = Deck.objects.get(slug=slug)
        except Deck.DoesNotExist as error:
            raise CommandError(f"No deck with the slug “{slug}”.") from error
        fmt = format or path.suffix.lstrip(".").lower()
        if fmt not in EXPORTS:
            raise CommandError(f"Say --format {', '.join(sorted(EXPORTS))}.")
        export, _, _ = EXPORTS[fmt]
        path.write_bytes(export(deck))
        self.stdout.write(f"Wrote {deck.cards.count()} cards of “{deck.title}” to {path}")
