"""Print how long the progress dashboard takes to render for learners with long histories.

Run from the repository root:

    .venv/bin/python bench/dashboard.py [--sizes 1000,10000,100000] [--repeat 20] [--budget 60]

It uses a fresh temporary SQLite file or, with DATABASE_URL=postgres://..., a database
`flashcards_bench` on that server, created here and dropped at the end. Each learner's history
is simulated with the real scheduler up to a fixed moment and the pages are rendered with the
clock frozen there, so every run measures the same data. A page stops repeating once its
renders have taken the budget; one whose warm-up alone takes longer is timed by that render.
"""

import argparse
import math
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
BENCH_DATABASE = "flashcards_bench"
END = datetime(2026, 3, 2, 20, 0, tzinfo=UTC)
DAYS = 365
DECKS = 8
# simulate() stops when it runs out of new cards; a card for every four answers leaves spare.
ANSWERS_PER_CARD = 4
MIN_CARDS_PER_DECK = 50
SEED = 0


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        type=lambda text: [int(size) for size in text.split(",")],
        help="answers in each learner's history, comma-separated (default 1000,10000,100000)",
    )
    parser.add_argument(
        "--repeat", type=int, default=20, help="timed renders of each page (default 20)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=60,
        help="stop repeating a page once its renders have taken this many seconds (default 60)",
    )
    return parser.parse_args()


def configure_environment(var_dir):
    """Point the settings at a throwaway database; return the server URL to drop it from."""
    sys.path.insert(0, str(REPO))
    os.environ["DJANGO_SETTINGS_MODULE"] = "flashcards.settings"
    os.environ["VAR_DIR"] = var_dir
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ.setdefault("SECRET_KEY", "bench-only-" + secrets.token_urlsafe(40))
    # The figures are for production settings.
    os.environ["DEBUG"] = "0"
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        os.environ.pop("DATABASE_URL", None)  # SQLite in VAR_DIR
        return None
    with server_connection(url) as server:
        server.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        server.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    os.environ["DATABASE_URL"] = urlsplit(url)._replace(path=f"/{BENCH_DATABASE}").geturl()
    return url


def server_connection(url):
    import psycopg

    return psycopg.connect(url, autocommit=True)


def drop_bench_database(server_url):
    with server_connection(server_url) as server:
        server.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def make_learner(size):
    """A learner with decks of their own and a simulated history of `size` answers."""
    from django.contrib.auth import get_user_model

    from flashcards.models import Card, Deck, profile_for
    from flashcards.simulation import simulate

    user = get_user_model().objects.create_user(f"learner{size}")
    profile = profile_for(user)
    cards_per_deck = max(math.ceil(size / ANSWERS_PER_CARD / DECKS), MIN_CARDS_PER_DECK)
    for number in range(1, DECKS + 1):
        deck = Deck.objects.create(title=f"Deck {number} of learner {size}", owner=user)
        Card.objects.bulk_create(
            (
                Card(
                    deck=deck,
                    front=f"What is fact {position} of deck {number}? " * 3,
                    back=f"Fact {position} is **this**, explained in a sentence or two. " * 2,
                    position=position,
                )
                for position in range(1, cards_per_deck + 1)
            ),
            batch_size=2000,
        )
    # By position first, so that new cards come from every deck in turn.
    cards = Card.objects.filter(deck__owner=user).order_by("position", "deck", "id")
    written = simulate(user, cards, profile, end=END, days=DAYS, answers=size, seed=SEED)
    return user, written


def analyze():
    from django.db import connection

    # Autovacuum gathers PostgreSQL's statistics soon after a bulk load; SQLite keeps none
    # unless the app runs ANALYZE, which this one does not.
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def timed_get(client, url):
    start = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def measure(client, url, repeat, budget):
    """Timings in ms of `url` and the queries of one render of it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # The warm-up render is the one counted: capturing the SQL would add to the timed ones.
    with CaptureQueriesContext(connection) as queries:
        warm_up = timed_get(client, url)
    # Read now: the next request clears the connection's log that `queries` is a view of.
    query_count = len(queries)
    if warm_up > budget * 1000:
        # A render that takes minutes gains nothing from a warm cache: one is enough.
        return [warm_up], query_count, True
    timings, spent = [], warm_up
    while len(timings) < repeat and spent < budget * 1000:
        timings.append(timed_get(client, url))
        spent += timings[-1]
    return timings, query_count, False


def machine():
    import django
    from django.db import connection

    version = ".".join(str(part) for part in connection.get_database_version())
    # Other work on the machine shows in the figures: the load says how much there was.
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs (load {os.getloadavg()[0]:.1f}), "
        f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"{connection.vendor} {version}"
    )


def run(sizes, repeat, budget):
    import django

    # WhiteNoise looks for collectstatic's folder, which a benchmark does not need.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()

    import time_machine
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from flashcards.models import Deck, Memory

    # collectstatic has not run, so static files keep their plain names, as in the tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    call_command("migrate", verbosity=0)
    print(machine())
    print(f"history: {DAYS} days up to {END:%Y-%m-%d %H:%M} UTC, {DECKS} decks, seed {SEED}")
    rows = []
    for size in sizes:
        start = time.perf_counter()
        user, written = make_learner(size)
        analyze()
        memories = Memory.objects.filter(user=user).count()
        built = time.perf_counter() - start
        short = "" if written >= 0.99 * size else " (short: too few cards?)"
        print(f"{size}: wrote {written} answers{short}, {memories} memories in {built:.1f} s")
        deck = Deck.objects.filter(owner=user).order_by("pk").first()
        pages = {
            "all": reverse("flashcards:progress"),
            "one deck": reverse("flashcards:deck_progress", args=[deck.slug]),
        }
        # The dashboard reads the clock: freeze it where the history ends.
        with time_machine.travel(END, tick=False):
            client = Client()
            client.force_login(user)
            for page, url in pages.items():
                print(f"  rendering {url}", flush=True)
                timings, queries, warm_up_only = measure(client, url, repeat, budget)
                rows.append(
                    (connection.vendor, written, memories, page, timings, queries, warm_up_only)
                )
    print()
    print_table(rows)


def print_table(rows):
    header = ("database", "answers", "memories", "page", "median ms", "p95 ms", "min ms")
    header += ("runs", "queries")
    lines = []
    for vendor, answers, memories, page, timings, queries, warm_up_only in rows:
        timings = sorted(timings)
        p95 = timings[math.ceil(0.95 * len(timings)) - 1]
        runs = "1*" if warm_up_only else str(len(timings))
        figures = (statistics.median(timings), p95, timings[0])
        lines.append(
            (vendor, str(answers), str(memories), page, *(f"{ms:.1f}" for ms in figures))
            + (runs, str(queries))
        )
    widths = [max(len(line[n]) for line in [header, *lines]) for n in range(len(header))]
    for line in [header, ["-" * width for width in widths], *lines]:
        print("  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    if any(row[-1] for row in rows):
        print("* the warm-up render alone took longer than the budget: its time is shown")


def main():
    args = parse_args()
    var_dir = tempfile.mkdtemp(prefix="flashcards-bench-")
    server_url = None
    started = time.perf_counter()
    try:
        server_url = configure_environment(var_dir)
        run(args.sizes, args.repeat, args.budget)
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        if server_url:
            drop_bench_database(server_url)
        shutil.rmtree(var_dir, ignore_errors=True)
    print(f"\nran in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
