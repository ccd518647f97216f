import gzip
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand

# Rebuilt by migrate, or not worth keeping: every other row is in the backup.
EXCLUDED = ["contenttypes", "auth.permission", "sessions", "admin.logentry"]


class Command(BaseCommand):
    help = (
        "Write everything (users, decks, cards, settings, memory, history) to a gzipped XML "
        "file that `restore` reads back, on SQLite or PostgreSQL alike."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)

    def handle(self, *args, path, **options):
        # Written beside its name, then renamed: a backup cut short (a full disk) never
        # replaces a whole one.
        partial = path.with_name(f".{path.name}.partial")
        try:
            with gzip.open(partial, "wt", encoding="utf-8") as output:
                # XML keeps times to the microsecond; Django's JSON rounds them to milliseconds.
                call_command(
                    "dumpdata",
                    format="xml",
                    natural_foreign=True,
                    natural_primary=False,
                    exclude=EXCLUDED,
                    stdout=output,
                    verbosity=0,
                )
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
        self.stdout.write(f"Wrote {path} ({path.stat().st_size / 1024:.0f} KB).")
