from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from flashcards.import_jobs import apply_import
from flashcards.imports import FORMATS, ImportRefused, parse_file
from flashcards.models import Deck


class Command(BaseCommand):
    help = (
        "Import a source document (.txt), CSV/TSV or Anki package (.apkg) into a deck, all or "
        "nothing. Cards whose front is already in the deck are updated in place."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--deck", help="Slug of the deck to import into; a new deck if unset.")
        parser.add_argument("--title", help="Title of a new deck (else the file's title).")
        parser.add_argument(
            "--owner", help="Username owning a new deck; unset, the deck is curated."
        )
        parser.add_argument("--format", choices=sorted(FORMATS), help="Else from the file.")
        parser.add_argument(
            "--history-of", help="Username who receives the Anki package's review history."
        )
        parser.add_argument("--publish", action="store_true", help="Publish a new curated deck.")

    def handle(self, *args, path, deck, title, owner, format, history_of, publish, **options):
        User = get_user_model()
        try:
            data = path.read_bytes()
        except OSError as error:
            raise CommandError(f"{path}: {error.strerror}") from error
        try:
            target = Deck.objects.get(slug=deck) if deck else None
            owner_user = User.objects.get(username=owner) if owner else None
            history_user = User.objects.get(username=history_of) if history_of else None
        except (Deck.DoesNotExist, User.DoesNotExist) as error:
            raise CommandError(str(error)) from error
        try:
            parsed = parse_file(path.name, data, format)
        except ImportRefused as refusal:
            raise CommandError(f"{path}: {refusal} Nothing was imported.") from refusal
        result, plan = apply_import(
            parsed, deck=target, owner=owner_user, title=title, history_user=history_user
        )
        if target is None and publish and result.owner_id is None:
            result.published = True
            result.save(update_fields=["published"])
        self.stdout.write(
            f"{result.title} ({result.slug}): {plan.created} new, {plan.updated} updated, "
            f"{plan.unchanged} unchanged cards; {plan.answers} answers of history."
        )
