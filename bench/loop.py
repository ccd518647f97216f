"""The study loop's figures that tests cannot show: time per card over HTTP against a bare
view, the answer step as a learner's history grows, and the progress page of a long history.

Run from the repository root:

    .venv/bin/python bench/loop.py [--database sqlite|postgres|both] [--answers 1000000]
        [--working-tree] [--postgres-database flashcards_loop]

For each database the committed tree (HEAD; with --working-tree, the files as they are) is
copied to a temporary directory with two bench-only modules: bench_urls (the app's URLs and
/bench/bare/, a login_required view answering "ok" through the same middleware) and
bench_settings (the app's settings with those URLs). DEBUG is off. On a fresh database (a
SQLite file, or the PostgreSQL database named, dropped at the end), in a child process on the
app's settings and through django.test.Client and the app's URLs only:

1. the learner "reader" studies a deck of 20,000 cards with 0, 1,000, 10,000 and 19,000 cards
   already seen; at each, the median of the answer step (the htmx POST whose response is the
   next card) and of /progress/;
2. then "heavy" gets --answers answers over 80,000 cards of 4 decks, and 998 other learners
   about 100 each; the reader's answer step again, and /progress/ for "heavy".

Every seeded history is the app's own: each card's answers are replayed through
flashcards.scheduling.replay() and written as Review.from_answer() and Memory.set_from() make
them, with the values bulk_create would send; as COPY on PostgreSQL and one executemany on
SQLite, because bulk_create took 280 us a Review row on SQLite (100,000 rows in 28 s).

3. over HTTP, gunicorn (1 sync worker) serves the copy and "reader" logs in (bench/learner.py):
   the answer step against the bare view, alternating, one client; their medians and ratio.

The figures and targets (PASS/MISS) are printed and written to
bench/results/loop-<database>-<date>.txt with the machine. Only 127.0.0.1 is contacted.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import app_copy
from learner import HIDDEN_FIELD, PASSWORD, Learner

RESULTS = app_copy.REPO / "bench" / "results"
SEED = 20261206
DECK_CARDS = 20_000
DECKS = 4
READER, HEAVY = "reader", "heavy"
OTHER_LEARNERS = 998
OTHER_CARDS = 20  # each, with 1 to 9 answers
SEEN_LEVELS = (0, 1_000, 10_000, 19_000)
PER_CARD = (1, 9)  # answers of a card seen
RATINGS, RATING_WEIGHTS = (1, 2, 3, 4), (0.08, 0.12, 0.7, 0.1)
WARM_UP = 5
TIMED_ANSWERS = 40
PROGRESS_RENDERS = 5
HTTP_PAIRS = 150
HTMX = {"HX-Request": "true"}
TARGET_HTTP_RATIO = {"sqlite": 2.5, "postgres": 4.0}
TARGET_SPREAD = 0.20
TARGET_PROGRESS_MS = 100

BENCH_URLS = '''"""Bench only: the app's URLs and a bare authenticated view beside them."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import include, path


@login_required
def bare(request):
    return HttpResponse("ok")


urlpatterns = [path("bench/bare/", bare), path("", include("flashcards.urls"))]
'''
BENCH_SETTINGS = '''"""Bench only: the app's settings, with the bare view's URLs."""

from flashcards.settings import *  # noqa: F403

ROOT_URLCONF = "bench_urls"
'''


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--answers", type=int, default=1_000_000, help="answers of 'heavy'")
    parser.add_argument("--working-tree", action="store_true", help="not the committed HEAD")
    parser.add_argument("--postgres-database", default="flashcards_loop")
    # Internal: the in-process part runs in a child process with the app's settings.
    parser.add_argument("--step", choices=["in-process"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def deck_slug(number):
    return f"bench-deck-{number}"


# The seed, in the child: the app's own scheduler and history rows, written in bulk.


def replayed_rows(plan):
    """Memory and Review rows, as database values, of (user id, card id, deck id, answers):
    each card's answers at random times of the past year, replayed by the app's scheduler."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from flashcards import scheduling
    from flashcards.models import Card, Memory, Profile, Review

    memories, reviews = [], []
    profile = Profile()  # every learner here studies in the default time zone
    now = datetime.now(UTC)
    for user_id, card_id, deck_id, count in plan:
        rng = random.Random(f"{SEED}:{user_id}:{card_id}")
        user, card = get_user_model()(pk=user_id), Card(pk=card_id, deck_id=deck_id)
        seconds = sorted(rng.uniform(3600, 365 * 86400) for _ in range(count))
        times = [now - timedelta(seconds=ago) for ago in reversed(seconds)]
        ratings = rng.choices(RATINGS, RATING_WEIGHTS, k=count)
        answers = [
            (r, at, profile.study_date(at), False) for r, at in zip(ratings, times, strict=True)
        ]
        replay = scheduling.replay(answers, seed_of=partial(scheduling.fuzz_seed, card_id))
        for (rating, at, day, _), (before, after) in zip(answers, replay, strict=True):
            review = Review.from_answer(
                user, card, rating=rating, at=at, profile=profile,
                duration_ms=rng.randint(1500, 20000), before=before, after=after, day=day,
            )  # fmt: skip
            reviews.append(database_values(review, connection))
        memory = Memory(user=user, card=card, deck_id=deck_id)
        memory.set_from(after)
        memories.append(database_values(memory, connection))
    return memories, reviews


def database_values(instance, connection):
    return [
        field.get_db_prep_save(getattr(instance, field.attname), connection)
        for field in instance._meta.concrete_fields
        if not field.primary_key
    ]


def write_history(plan):
    """Replay the plan's histories on every CPU, write them; return the answers written."""
    from multiprocessing import Pool

    from django.db import connection, connections, transaction

    from flashcards.models import Memory, NewCardCursor, Review

    plan = [entry for entry in plan if entry[3]]
    connections.close_all()  # the forked workers must not share the connection
    chunks = [plan[start : start + 2000] for start in range(0, len(plan), 2000)]
    written = 0
    with Pool() as pool, transaction.atomic():
        for memories, reviews in pool.imap(replayed_rows, chunks):
            insert_rows(connection, Memory, memories)
            insert_rows(connection, Review, reviews)
            written += len(reviews)
    with connection.cursor() as cursor:
        # What autovacuum does after such a load: statistics, and a visibility map for
        # index-only scans on PostgreSQL.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    # As the app does after writing memories in bulk (an import with history): each learner's
    # new-card cursor at their first unseen card.
    for user_id, deck_id in sorted({(user_id, deck_id) for user_id, _, deck_id, _ in plan}):
        NewCardCursor.catch_up(user_id, deck_id)
    return written


def insert_rows(connection, model, rows):
    """COPY on PostgreSQL, one executemany on SQLite."""
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            placeholders = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({placeholders})", rows)


def create_learners_and_decks():
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from flashcards.models import Card, Deck, Profile
    from flashcards.rendering import render_markdown

    decks = Deck.objects.bulk_create(
        Deck(title=f"Bench deck {n}", slug=deck_slug(n), published=True)
        for n in range(1, DECKS + 1)
    )
    front, back = "What does **fact {}** say about `x`?", "It says that *x* grows with `n`."
    # What Card.save() stores and bulk_create skips, rendered once: only the number differs.
    front_html, back_html = render_markdown(front), render_markdown(back)
    Card.objects.bulk_create(
        (
            Card(deck=deck, position=position, front=front.format(position),
                 back=back, front_html=front_html.replace("{}", str(position)), back_html=back_html)
            for deck in decks
            for position in range(1, DECK_CARDS + 1)
        ),
        batch_size=5000,
    )  # fmt: skip
    password = make_password(PASSWORD)  # one hash for all: hashing each would take minutes
    names = [READER, HEAVY] + [f"learner-{n:03d}" for n in range(1, OTHER_LEARNERS + 1)]
    users = get_user_model().objects.bulk_create(
        get_user_model()(username=name, password=password) for name in names
    )
    Profile.objects.bulk_create(
        Profile(user=user, new_cards_per_day=99999, reviews_per_day=99999) for user in users
    )
    return {user.username: user.pk for user in users}


def unseen_cards(user_id, deck_number, count):
    """The first `count` cards of the deck by position that the learner has no memory of."""
    from flashcards.models import Card

    cards = Card.objects.filter(deck__slug=deck_slug(deck_number)).exclude(
        memories__user_id=user_id
    )
    return list(cards.order_by("position").values_list("pk", "deck_id")[:count])


# The in-process measurements, in the child.


def answer_step_ms(username):
    """Median ms of the answer step, answering what the study page shows next."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(get_user_model().objects.get(username=username))
    study = f"/decks/{deck_slug(1)}/study/"
    # As a browser does: the whole page first, which sets the CSRF cookie htmx sends back.
    fragment = client.get(study).content.decode()
    rng, timings = random.Random(SEED), []
    for _ in range(WARM_UP + TIMED_ANSWERS):
        form = dict(HIDDEN_FIELD.findall(fragment)) | {
            "rating": rng.choices(RATINGS, RATING_WEIGHTS)[0]
        }
        headers = HTMX | {"X-CSRFToken": client.cookies["csrftoken"].value}
        started = time.perf_counter()
        response = client.post(f"{study}answer/", form, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.content[:300]
        fragment = response.content.decode()
    return statistics.median(timings[WARM_UP:])


def progress_ms(username):
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    timings = []
    for _ in range(1 + PROGRESS_RENDERS):
        started = time.perf_counter()
        assert client.get("/progress/").status_code == 200
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings[1:])


def in_process(job):
    """Seed level after level and measure at each; return the rows and the seed's timings."""
    from flashcards.models import Memory, Review

    started, seeding = time.perf_counter(), []
    ids = create_learners_and_decks()
    note(seeding, "learners, decks, cards", started)
    rows, rng = [], random.Random(SEED)
    for level in SEEN_LEVELS:
        started = time.perf_counter()
        # The answers measured at the level before count among the cards seen.
        seen = Memory.objects.filter(user_id=ids[READER]).count()
        cards = unseen_cards(ids[READER], 1, level - seen)
        plan = [(ids[READER], card, deck, rng.randint(*PER_CARD)) for card, deck in cards]
        note(seeding, f"reader to {level:,} cards seen: {write_history(plan):,} answers", started)
        rows.append(measure_reader(f"{level:,} cards seen", Review))

    started = time.perf_counter()
    cards = [unseen_cards(ids[HEAVY], number, DECK_CARDS) for number in range(1, DECKS + 1)]
    cards = [card for deck in cards for card in deck]
    per_card, extra = divmod(job["answers"], len(cards))
    plan = [
        (ids[HEAVY], card, deck, per_card + (n < extra)) for n, (card, deck) in enumerate(cards)
    ]
    # The others have seen nothing yet: the first cards of a deck are new to each of them.
    firsts = [unseen_cards(ids[READER], number, OTHER_CARDS) for number in range(2, DECKS + 1)]
    for n in range(1, OTHER_LEARNERS + 1):
        user_id = ids[f"learner-{n:03d}"]
        cards = rng.choice(firsts)
        plan += [(user_id, card, deck, rng.randint(*PER_CARD)) for card, deck in cards]
    written = write_history(plan)
    note(seeding, f"heavy and {OTHER_LEARNERS} others: {written:,} answers", started)
    everyone = f"{SEEN_LEVELS[-1]:,} seen, {Review.objects.count():,} answers in all"
    rows.append(measure_reader(everyone, Review))
    heavy = Review.objects.filter(user__username=HEAVY).count()
    return {"rows": rows, "seeding": seeding, "heavy": heavy, "heavy_ms": progress_ms(HEAVY)}


def note(seeding, step, started):
    seeding.append((step, time.perf_counter() - started))
    print(f"{seeding[-1][1]:7.1f} s  {step}", flush=True)


def measure_reader(label, review_model):
    answers = review_model.objects.filter(user__username=READER).count()
    return {"label": label, "answers": answers, "answer_ms": answer_step_ms(READER),
            "progress_ms": progress_ms(READER)}  # fmt: skip


# Over HTTP, in the parent: gunicorn serving the copy.


def http_medians(snapshot, env, log_path):
    """Median ms of the bare view and of the answer step, alternating, for one client."""
    server, port = app_copy.serve(snapshot, env, 1, log_path)
    try:
        reader = Learner(f"http://127.0.0.1:{port}", READER, [deck_slug(1)])
        if not reader.log_in():
            raise RuntimeError("the reader could not log in")
        rng, bare, answer = random.Random(SEED), [], []
        for _ in range(WARM_UP + HTTP_PAIRS):
            started = time.perf_counter()
            status, _ = reader.request("/bench/bare/")
            bare.append((time.perf_counter() - started) * 1000)
            fields = reader.card_on_screen()  # in hand but for the first: the answer's response
            started = time.perf_counter()
            answered, text = reader.post_answer(fields, rng.choices(RATINGS, RATING_WEIGHTS)[0])
            answer.append((time.perf_counter() - started) * 1000)
            reader.fragment = text
            if (status, answered) != (200, 200):
                raise RuntimeError(f"bare view {status}, answer {answered}: see {log_path}")
    finally:
        app_copy.stop_server(server)
    return statistics.median(bare[WARM_UP:]), statistics.median(answer[WARM_UP:])


def run_database(database, args):
    """Build, measure and report one database; return the report's text."""
    commit = app_copy.git_commit() if args.working_tree else "HEAD"
    with tempfile.TemporaryDirectory(prefix="flashcards-loop-") as tmp:
        tmp = Path(tmp)
        snapshot = tmp / "app"
        app_copy.copy_tree(snapshot, args.working_tree)
        (snapshot / "bench_urls.py").write_text(BENCH_URLS)
        (snapshot / "bench_settings.py").write_text(BENCH_SETTINGS)
        env = app_copy.app_environment(
            database, tmp, snapshot, args.postgres_database,
            settings_module="bench_settings", allowed_hosts="127.0.0.1,testserver",
        )  # fmt: skip
        if database == "postgres":
            app_copy.recreate_postgres_database(args.postgres_database)
        try:
            app_copy.manage(snapshot, env, "migrate", "--noinput")
            app_copy.manage(snapshot, env, "collectstatic", "--noinput")
            job = {"answers": args.answers}
            measured = app_copy.child_step(
                __file__, snapshot, env, "in-process", job, tmp / "job.json"
            )
            bare, answer = http_medians(snapshot, env, tmp / "gunicorn.log")
            setting = app_copy.machine(app_copy.database_version(database), commit)
        finally:
            if database == "postgres":
                app_copy.recreate_postgres_database(args.postgres_database, create=False)
    return report(database, measured, bare, answer, setting)


def report(database, measured, bare, answer, setting):
    rows = measured["rows"]
    medians = [row["answer_ms"] for row in rows]
    spread = max(medians) / min(medians) - 1
    ratio, limit = answer / bare, TARGET_HTTP_RATIO[database]
    seeding = "\n".join(f"  {seconds:7.1f} s  {step}" for step, seconds in measured["seeding"])
    table = "\n".join(
        f"  {row['label']:<48} {row['answers']:>9,} {row['answer_ms']:>10.2f} "
        f"{row['progress_ms']:>12.1f}"
        for row in rows
    )
    checks = [
        (f"HTTP answer step <= {limit}x the bare view", ratio <= limit,
         f"{answer:.2f} ms / {bare:.2f} ms = {ratio:.2f}x"),
        (f"answer step within {TARGET_SPREAD:.0%} from 0 seen to the full database",
         spread <= TARGET_SPREAD,
         f"spread {spread:.0%} ({min(medians):.2f} to {max(medians):.2f} ms)"),
        (f"/progress/ with {measured['heavy']:,} answers <= {TARGET_PROGRESS_MS} ms",
         measured["heavy_ms"] <= TARGET_PROGRESS_MS, f"median {measured['heavy_ms']:.1f} ms"),
    ]  # fmt: skip
    targets = "\n".join(
        f"  {'PASS' if ok else 'MISS'}  {name}: {figure}" for name, ok, figure in checks
    )
    return (
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  bench/loop.py {' '.join(sys.argv[1:])}\n"
        f"{setting}\n\n"
        f"Seeding (replayed by the app's scheduler, written in bulk)\n{seeding}\n\n"
        f"The reader's answer step and /progress/, in process (django.test.Client), median ms of "
        f"{TIMED_ANSWERS} answers and {PROGRESS_RENDERS} renders\n"
        f"  {'database':<48} {'answers':>9} {'answer ms':>10} {'progress ms':>12}\n{table}\n\n"
        f"Over HTTP (gunicorn, 1 sync worker, 1 client), median of {HTTP_PAIRS} of each, "
        f"alternating: bare view {bare:.2f} ms, answer step {answer:.2f} ms, ratio {ratio:.2f}x\n"
        f"/progress/ for the learner with {measured['heavy']:,} answers: median "
        f"{measured['heavy_ms']:.1f} ms of {PROGRESS_RENDERS} renders, in process\n\n"
        f"Targets\n{targets}\n"
    )


def main(args):
    date = f"{datetime.now(UTC):%Y-%m-%d}"
    for database in ["sqlite", "postgres"] if args.database == "both" else [args.database]:
        started = time.monotonic()
        text = run_database(database, args) + f"\nrun time {time.monotonic() - started:.0f} s\n"
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / f"loop-{database}-{date}.txt"
        path.write_text(text)
        print(text, f"written to {path.relative_to(app_copy.REPO)}", sep="\n", flush=True)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.step:
        app_copy.run_child_step(in_process, arguments.job)
    else:
        main(arguments)
