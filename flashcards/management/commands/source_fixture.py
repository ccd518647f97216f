from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from flashcards.sources import SourceError, parse_source, to_fixture

# Fixed, so that the fixture is a pure function of its source document.
FIXTURE_TIMESTAMP = "2026-01-01T00:00:00Z"


class Command(BaseCommand):
    help = "Write the Django fixture for a plain-text source document."

    def add_arguments(self, parser):
        parser.add_argument("source", type=Path)
        parser.add_argument("output", type=Path)

    def handle(self, *args, source, output, **options):
        try:
            document = parse_source(source.read_text(encoding="utf-8-sig"))
        except (SourceError, UnicodeDecodeError) as error:
            raise CommandError(f"{source}: {error}") from error
        output.write_text(to_fixture(document, timestamp=FIXTURE_TIMESTAMP), encoding="utf-8")
        self.stdout.write(f"Wrote {len(document.cards)} cards of “{document.title}” to {output}")
