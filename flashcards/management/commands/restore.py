import gzip
import shutil
import sys
import tempfile
import zlib
from collections import Counter
from pathlib import Path
from xml.etree.ElementTree import ParseError, iterparse

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import F

from flashcards import scheduling
from flashcards.models import Deck, Review

# The rows a backup is summed up by, as its <object model="..."> names them.
SUMMARY = {"users": "auth.user", "decks": "flashcards.deck", "answers": "flashcards.review"}


class Command(BaseCommand):
    help = "Replace the database's content with a file written by `backup`, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="Discard what the database holds now; without it only an empty one is filled.",
        )
        parser.add_argument(
            "--yes",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Replace without asking for confirmation.",
        )

    def handle(self, *args, path, replace, interactive, **options):
        if not path.is_file():
            raise CommandError(f"{path} does not exist.")
        with tempfile.TemporaryDirectory() as folder:
            # loaddata knows a fixture's format by its name.
            fixture = Path(folder) / "backup.xml"
            backup = read_backup(path, fixture)
            occupied = database_counts()
            if any(occupied.values()) and not replace:
                raise CommandError(
                    "The database is not empty: say --replace to discard its content."
                )
            if any(occupied.values()):
                self.confirm_replace(path, occupied, backup, interactive)
            with transaction.atomic():
                if any(occupied.values()):
                    call_command("flush", interactive=False, verbosity=0)
                call_command("loaddata", str(fixture), verbosity=0)
                mark_mature_answers()
        self.stdout.write(f"Restored {summary(database_counts())} from {path}.")

    def confirm_replace(self, path, occupied, backup, interactive):
        self.stdout.write(
            f"The database holds {summary(occupied)}: --replace deletes them all, and restores "
            f"{summary(backup)} from {path}."
        )
        if not interactive:
            return
        if not sys.stdin.isatty():
            raise CommandError("Nothing changed: there is no terminal to confirm on; say --yes.")
        if input('Type "yes" to replace the database: ').strip() != "yes":
            raise CommandError("Nothing changed.")


def database_counts():
    return {
        "users": get_user_model().objects.count(),
        "decks": Deck.objects.count(),
        "answers": Review.objects.count(),
    }


def summary(counts):
    return ", ".join(f"{counts[name]} {name}" for name in SUMMARY)


def read_backup(path, fixture):
    """Unpack a backup into the fixture file and count its rows, or refuse a file that is not a
    whole backup with at least one user; the file is streamed, never read whole in memory."""
    try:
        with gzip.open(path, "rb") as source, fixture.open("wb") as target:
            shutil.copyfileobj(source, target)
    except (OSError, EOFError, zlib.error) as error:
        raise CommandError(f"{path} is not a backup (a gzipped file): {error}.") from error
    models, root = Counter(), None
    try:
        for event, element in iterparse(fixture, events=("start", "end")):
            if root is None:
                root = element
            elif event == "end" and element.tag == "object":
                models[element.get("model")] += 1
                # Each object read is dropped, so memory stays that of one object.
                root.clear()
    except ParseError as error:
        raise CommandError(f"{path} is not a whole backup: its XML {error}.") from error
    if root.tag != "django-objects":
        raise CommandError(f"{path} is not a backup: it holds <{root.tag}>, not Django objects.")
    counts = {name: models[model] for name, model in SUMMARY.items()}
    if not counts["users"]:
        raise CommandError(
            f"{path} holds no user ({summary(counts)}): it is not a backup of this app; "
            "nothing changed."
        )
    return counts


def mark_mature_answers():
    """Mark the answers on mature cards: a backup from before mature_before leaves them unmarked."""
    interval = F("due_before") - F("last_review_before")
    Review.objects.filter(state_before=scheduling.REVIEW).alias(interval=interval).filter(
        interval__gte=scheduling.MATURE_INTERVAL
    ).update(mature_before=True)
