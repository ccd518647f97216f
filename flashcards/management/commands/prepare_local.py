import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db.models import Q

from flashcards.models import Card, Deck
from flashcards.rendering import render_markdown

SOURCE_FIXTURE = settings.BASE_DIR / "fixtures" / "deep-learning-flashcards.json"
SOURCE_SLUG = "deep-learning-flashcards"
ADMIN_FILE = settings.VAR_DIR / "local-admin.txt"


def render_stored_html():
    """Render once the cards that loaddata stored as text only, so no page renders them again."""
    unrendered = Card.objects.filter(
        (Q(front_html="") & ~Q(front="")) | (Q(back_html="") & ~Q(back=""))
    )
    cards = list(unrendered.only("front", "back"))
    for card in cards:
        card.front_html, card.back_html = render_markdown(card.front), render_markdown(card.back)
    # Not Card.save(): loading the deck again must change nothing, its dates included.
    Card.objects.bulk_update(cards, ["front_html", "back_html"], batch_size=500)
    return len(cards)


class Command(BaseCommand):
    help = "Load the source deck once and make sure a local admin can log in; print how."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, url, **options):
        if Deck.objects.filter(slug=SOURCE_SLUG).exists():
            self.stdout.write("The Deep Learning deck is already loaded; left as it is.")
        else:
            call_command("loaddata", SOURCE_FIXTURE, verbosity=0)
            self.stdout.write("Loaded the Deep Learning deck (15 cards).")
        render_stored_html()

        User = get_user_model()
        if not User.objects.filter(is_superuser=True).exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", password=password)
            ADMIN_FILE.parent.mkdir(parents=True, exist_ok=True)
            ADMIN_FILE.write_text(f"admin {password}\n")
            ADMIN_FILE.chmod(0o600)

        self.stdout.write("")
        self.stdout.write(f"  Open        {url}")
        self.stdout.write(f"  Sign up at  {url}accounts/signup/")
        if ADMIN_FILE.exists():
            username, password = ADMIN_FILE.read_text().split()
            self.stdout.write(f"  Admin       {url}admin/  user: {username}  password: {password}")
        else:
            self.stdout.write(
                "  Admin       an admin already exists (manage.py changepassword NAME)"
            )
        self.stdout.write("")
