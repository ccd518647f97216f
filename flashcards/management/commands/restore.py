import gzip
import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F

from flashcards import scheduling
from flashcards.models import Deck, Review


class Command(BaseCommand):
    help = "Replace the database's content with a file written by `backup`, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Discard what the database holds now; without it only an empty one is filled.",
        )

    def handle(self, *args, path, replace, **options):
        if not path.exists():
            raise CommandError(f"{path} does not exist.")
        occupied = (
            Review.objects.exists() or Deck.objects.exists() or get_user_model().objects.exists()
        )
        if occupied and not replace:
            raise CommandError("The database is not empty: say --replace to discard its content.")
        with tempfile.TemporaryDirectory() as folder:
            # loaddata knows a fixture's format by its name.
            fixture = Path(folder) / "backup.xml"
            with gzip.open(path, "rt", encoding="utf-8") as source:
                fixture.write_text(source.read(), encoding="utf-8")
            with transaction.atomic():
                if occupied:
                    call_command("flush", interactive=False, verbosity=0)
                call_command("loaddata", str(fixture), verbosity=0)
                mark_mature_answers()
        self.stdout.write(
            f"Restored {get_user_model().objects.count()} users, {Deck.objects.count()} decks, "
            f"{Review.objects.count()} answers from {path}."
        )


def mark_mature_answers():
    """Mark the answers on mature cards: a backup from before mature_before leaves them unmarked."""
    interval = F("due_before") - F("last_review_before")
    Review.objects.filter(state_before=scheduling.REVIEW).alias(interval=interval).filter(
        interval__gte=scheduling.MATURE_INTERVAL
    ).update(mature_before=True)
