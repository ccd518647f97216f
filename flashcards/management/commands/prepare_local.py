import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

from flashcards.models import Deck

SOURCE_FIXTURE = settings.BASE_DIR / "fixtures" / "deep-learning-flashcards.json"
SOURCE_SLUG = "deep-learning-flashcards"
ADMIN_FILE = settings.VAR_DIR / "local-admin.txt"


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
