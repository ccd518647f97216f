"""The review loop at scale: latency, throughput, queries, bytes and plans of answering a card.

Run from the repository root:

    .venv/bin/python bench/loop.py [--database sqlite|postgres|both] [--seconds 5] [--rounds 3]
        [--workers 2,4] [--caches file,redis] [--profile] [--working-tree]

For each database the committed tree (HEAD; with --working-tree, the files as they are) is
copied to a temporary directory, as bench/load.py does, and two bench-only modules are written
into the copy: bench_urls (the app's URLs plus /bench/bare/, a login_required view answering
"ok" through the same middleware) and bench_settings (the app's settings with
ROOT_URLCONF = "bench_urls"). DEBUG is off. A fresh database (a SQLite file, or
`flashcards_loop` on the PostgreSQL server at 127.0.0.1, dropped at the end) is migrated and
seeded from a fixed random seed: 1,000 learners with high daily limits, 20 published curated
decks of 500 cards, 100,000 Memory rows and 1,000,000 Review rows over the past year (COPY on
PostgreSQL, executemany on SQLite), of which the learner "heavy" holds 100,000; then ANALYZE
(VACUUM ANALYZE on PostgreSQL).

Then, in a child process on the app's settings, through django.test.Client:
- SQL statements per request of every page and fragment of the study loop and of /progress/,
  captured with CaptureQueriesContext; BEGIN/COMMIT/SAVEPOINT are counted apart;
- EXPLAIN QUERY PLAN (SQLite) or EXPLAIN (PostgreSQL) of each statement of the answer step, of
  the reveal page and of /progress/ for "heavy", flagging full scans of flashcards_review;
- the server time of /progress/ for "heavy": the median of several renders.

Then over HTTP, gunicorn (sync workers) serving the copy, for each number of workers and each
cache (the file cache; Redis at 127.0.0.1:6379/1 when the redis package is installed and the
server answers): with 1 and with 8 concurrent clients (threads, one learner each, on
http.client connections kept alive where the server allows), p50/p95 latency as the client and
as gunicorn's access log (%(D)s) see it, and requests/s, of the bare view, the study page, the
reveal page (the no-JS path) and the answer step (an HTMX POST whose response is the next card).
Each phase runs a few rounds and the best is reported, with the CPU that other work on the
machine used meanwhile. With the first setting: the bytes of a first visit to the study page and
of one answer step, gzip-compressed as served, and a check that every URL in the page is ours.

The tables and the targets (PASS/MISS; 1 KB = 1,000 bytes) are printed and written to
bench/results/loop-<database>-<date>.txt with the machine. With --profile (pyinstrument
installed in the venv), pyinstrument profiles of /progress/ for "heavy" and of 50 answers are
written beside it. Only 127.0.0.1 is contacted, and every loop ends by its deadline or count.
"""

import argparse
import gzip
import http.client
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import app_copy
from load import HIDDEN_FIELD, REVEAL_LINK, percentile

RESULTS = app_copy.REPO / "bench" / "results"
LOOP_DATABASE = "flashcards_loop"
REDIS_URL = "redis://127.0.0.1:6379/1"
PASSWORD = "loop-bench-password"
SEED = 20261127

DECKS = 20
CARDS_PER_DECK = 500
LEARNERS = 999  # besides "heavy"
MEMORIES = 100_000
REVIEWS = 1_000_000
HEAVY = "heavy"
HEAVY_ANSWERS_PER_CARD = 10  # on every card: 10,000 memories, 100,000 answers
DECKS_PER_LEARNER = 3
CLIENTS = 8
CONCURRENCY = (1, CLIENTS)
INSPECTED = "learner-0999"
PROFILED = "learner-0998"
BREAKDOWN = "learner-0997"
BREAKDOWN_ANSWERS = 40
BYTES_CLIENT = "learner-0009"
DASHBOARD_RENDERS = 7
PROFILED_ANSWERS = 50
WARM_UP_REQUESTS = 3
REQUEST_TIMEOUT = 30
# Far more than a client can send in a phase: a second bound beside the deadline.
MAX_REQUESTS_PER_CLIENT = 100_000
COPY_BATCH = 50_000

NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3
RATINGS = (1, 2, 3, 4)
# Again, Hard, Good, Easy as learners press them, roughly.
RATING_WEIGHTS = (0.08, 0.12, 0.7, 0.1)
FIRST_STABILITY = {1: 0.2, 2: 1.2, 3: 3.2, 4: 15.7}
EPOCH = datetime(1970, 1, 1)
DAY = 86400.0
MATURE_DAYS = 21  # scheduling.MATURE_INTERVAL
HTMX = {"HX-Request": "true"}
TRANSACTION_STATEMENTS = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
FIRST_VISIT = ("study page HTML", "stylesheet", "script")
ENDPOINTS = ("bare view", "study page", "reveal page", "answer step")

TARGET_PER_CARD = 1.5
TARGET_ANSWER_QUERIES = 6
TARGET_THROUGHPUT_SHARE = 0.6
TARGET_FIRST_VISIT = 30_000
TARGET_ANSWER_BYTES = 2_000
TARGET_DASHBOARD_MS = 100

MEMORY_COLUMNS = (
    "user_id",
    "card_id",
    "deck_id",
    "state",
    "step",
    "stability",
    "difficulty",
    "due",
    "last_review",
    "reps",
    "lapses",
)
REVIEW_COLUMNS = (
    "reviewed_at",  # first: the rows are sorted by it
    "user_id",
    "card_id",
    "deck_id",
    "rating",
    "study_day",
    "first_of_day",
    "duration_ms",
    "number",
    "state_before",
    "step_before",
    "stability_before",
    "difficulty_before",
    "due_before",
    "last_review_before",
    "lapses_before",
    "mature_before",
    "state_after",
    "step_after",
    "stability_after",
    "difficulty_after",
    "due_after",
)

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
    parser.add_argument("--seconds", type=float, default=5, help="length of a timed round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of each phase; the best is reported"
    )
    parser.add_argument(
        "--workers",
        default=[2, 4],
        type=lambda text: [int(n) for n in text.split(",") if n],
        help="gunicorn worker counts, comma-separated; the first is the one of the targets",
    )
    parser.add_argument(
        "--caches",
        default=["file", "redis"],
        type=lambda text: [name for name in text.split(",") if name],
        help="from file,redis; the first is the one of the targets",
    )
    parser.add_argument("--profile", action="store_true", help="write pyinstrument profiles")
    parser.add_argument(
        "--working-tree",
        action="store_true",
        help="measure the files as they are, not the committed HEAD",
    )
    # Internal: the seed and inspect steps run in a child process with the app's settings.
    parser.add_argument("--step", choices=["seed", "inspect"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.caches) - {"file", "redis"}:
        parser.error(f"unknown caches: {', '.join(sorted(unknown))}")
    return args


def learner_names():
    return [f"learner-{number:04d}" for number in range(1, LEARNERS + 1)]


def client_names():
    return learner_names()[:CLIENTS]


# The seed: a year of history for a thousand learners, written in bulk.


def seed(job):
    """Users, decks, cards, then Memory and Review rows in bulk; return names and timings."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.db import connection

    from flashcards.models import Card, Deck, Profile
    from flashcards.rendering import render_markdown

    timings = {}
    started = time.perf_counter()
    rng = random.Random(SEED)
    now = job["now"]
    decks = Deck.objects.bulk_create(
        Deck(title=f"Bench deck {number:02d}", slug=f"bench-deck-{number:02d}", published=True)
        for number in range(1, DECKS + 1)
    )
    cards = [
        Card(
            deck=deck,
            front=f"What does **fact {position}** of {deck.title.lower()} say about `x`?",
            back=(
                f"Fact {position} says that *x* grows with the square of `n`, as the second "
                "chapter shows; see the [notes](/decks/) and the example below.\n\n"
                f"- first, when n = {position}\n- then, when n doubles"
            ),
            position=position,
        )
        for deck in decks
        for position in range(1, CARDS_PER_DECK + 1)
    ]
    for card in cards:
        # What Card.save() stores, which bulk_create skips.
        card.front_html, card.back_html = render_markdown(card.front), render_markdown(card.back)
    cards = Card.objects.bulk_create(cards)
    # One hash for all: hashing a password per learner would take most of the setup.
    password = make_password(PASSWORD)
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=name, password=password) for name in [HEAVY, *learner_names()]
    )
    Profile.objects.bulk_create(
        Profile(user=user, new_cards_per_day=9999, reviews_per_day=99999) for user in users
    )
    timings["users, profiles, decks, cards"] = time.perf_counter() - started

    started = time.perf_counter()
    heavy, learners = users[0], users[1:]
    by_deck = {deck.pk: [card for card in cards if card.deck_id == deck.pk] for deck in decks}
    plan = [(heavy.pk, card.pk, card.deck_id, HEAVY_ANSWERS_PER_CARD) for card in cards]
    learner_memories = MEMORIES - len(plan)
    learner_answers = REVIEWS - len(plan) * HEAVY_ANSWERS_PER_CARD
    per_learner, extra = divmod(learner_memories, len(learners))
    studied = {}
    for index, user in enumerate(learners):
        chosen = rng.sample(decks, DECKS_PER_LEARNER)
        studied[user.username] = [deck.slug for deck in chosen]
        count = per_learner + (1 if index < extra else 0)
        for n in range(count):
            # New cards are learned in position order: a learner knows the first of each deck.
            deck = chosen[n % DECKS_PER_LEARNER]
            card = by_deck[deck.pk][n // DECKS_PER_LEARNER]
            plan.append((user.pk, card.pk, deck.pk, 0))
    # Answers per memory vary around the mean, in pairs so that the total is exact.
    mean, heavy_rows = learner_answers // learner_memories, len(cards)
    for index in range(heavy_rows, len(plan) - 1, 2):
        spread = rng.randint(0, mean - 2)
        plan[index] = (*plan[index][:3], mean + spread)
        plan[index + 1] = (*plan[index + 1][:3], mean - spread)
    vendor = connection.vendor
    memories, reviews = history(plan, now, rng, vendor)
    reviews.sort(key=lambda row: row[0])
    timings["history generated"] = time.perf_counter() - started

    started = time.perf_counter()
    insert_rows(connection, "flashcards_memory", MEMORY_COLUMNS, memories)
    timings[f"{len(memories):,} Memory rows inserted"] = time.perf_counter() - started
    started = time.perf_counter()
    insert_rows(connection, "flashcards_review", REVIEW_COLUMNS, reviews)
    timings[f"{len(reviews):,} Review rows inserted"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if vendor == "postgresql" else "ANALYZE")
    timings["ANALYZE" if vendor == "sqlite" else "VACUUM ANALYZE"] = time.perf_counter() - started
    return {"timings": timings, "studied": studied}


def history(plan, now, rng, vendor):
    """Memory and Review rows for (user, card, deck, answers), with answers over the past year
    ending at a due date spread around now; times as the database stores them."""
    stamp = timestamp_text(vendor)
    memories, reviews = [], []
    for user_id, card_id, deck_id, count in plan:
        ratings = rng.choices(RATINGS, RATING_WEIGHTS, k=count)
        chain, state, stability, difficulty, lapses = [], NEW, None, None, 0
        for rating in ratings:
            if state == NEW:
                after = LEARNING if rating <= 2 else REVIEW
                new_stability = FIRST_STABILITY[rating]
            elif rating == 1:
                after, new_stability = RELEARNING, max(0.1, stability * 0.3)
            else:
                after, new_stability = REVIEW, min(stability * rng.uniform(1.3, 2.6), 400.0)
            new_difficulty = min(10.0, max(1.0, (difficulty or 5.0) + (3 - rating) * 0.6))
            # Learning steps bring a card back in minutes; a review in about its stability.
            interval = 600.0 if after != REVIEW else new_stability * DAY
            chain.append(
                (rating, state, stability, difficulty, lapses, after, new_stability,
                 new_difficulty, interval)
            )  # fmt: skip
            lapses += 1 if state == REVIEW and rating == 1 else 0
            state, stability, difficulty = after, new_stability, new_difficulty
        # A sixth of the cards are due by now; the rest within seven weeks.
        due = now + rng.uniform(-10, 50) * DAY
        last = min(due - chain[-1][-1], now - rng.uniform(60, 3 * DAY))
        last = max(last, now - 360 * DAY)
        first = max(now - 365 * DAY, last - count * rng.uniform(3, 30) * DAY)
        times = sorted(rng.uniform(first, last) for _ in range(count - 1)) + [last]
        due_before, last_before, previous_day = None, None, None
        for number, (moment, link) in enumerate(zip(times, chain, strict=True), start=1):
            rating, before, s_before, d_before, lapses_before, after, s_after, d_after, gap = link
            due_after, day = moment + gap, study_day(moment)
            # As scheduling.is_mature: in review with an interval of 21 days or more.
            mature = before == REVIEW and due_before - last_before >= MATURE_DAYS * DAY
            reviews.append(
                (
                    stamp(moment), user_id, card_id, deck_id, rating,
                    day, day != previous_day, rng.randint(1500, 20000), number,
                    before, step_of(before), s_before, d_before,
                    stamp(due_before), stamp(last_before), lapses_before, mature,
                    after, step_of(after), s_after, d_after, stamp(due_after),
                )
            )  # fmt: skip
            due_before, last_before, previous_day = due_after, moment, day
        memories.append(
            (user_id, card_id, deck_id, state, step_of(state), stability, difficulty,
             stamp(due_before), stamp(last_before), count, lapses)
        )  # fmt: skip
    return memories, reviews


def step_of(state):
    return 0 if state in (LEARNING, RELEARNING) else None


def timestamp_text(vendor):
    """Seconds since 1970 as the backend stores a DateTimeField: naive UTC text on SQLite."""
    suffix = "+00" if vendor == "postgresql" else ""

    def stamp(seconds):
        if seconds is None:
            return None
        return (EPOCH + timedelta(seconds=seconds)).isoformat(" ", "microseconds") + suffix

    return stamp


def study_day(seconds):
    """The learner's study day in UTC, the zone of every seeded learner: it starts at 4 AM."""
    return (EPOCH + timedelta(seconds=seconds - 4 * 3600)).date().isoformat()


def insert_rows(connection, table, columns, rows):
    """COPY on PostgreSQL, executemany in one transaction on SQLite."""
    names = ", ".join(columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for start in range(0, len(rows), COPY_BATCH):
                    copy.write(
                        "".join(
                            "\t".join(r"\N" if value is None else str(value) for value in row)
                            + "\n"
                            for row in rows[start : start + COPY_BATCH]
                        )
                    )
            return
        # The seed is thrown away on failure: no need to wait for the disk.
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-1000000")
        placeholders = ", ".join(["%s"] * len(columns))
        cursor.execute("BEGIN")
        for start in range(0, len(rows), COPY_BATCH):
            cursor.executemany(
                f"INSERT INTO {table} ({names}) VALUES ({placeholders})",
                rows[start : start + COPY_BATCH],
            )
        cursor.execute("COMMIT")


# The inspection: statements, plans and the dashboard's time, in process.


def inspect(job):
    """Count the statements of each page, explain those of the answer step and /progress/."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from flashcards.models import Memory, Profile, Review

    user_model = get_user_model()
    learner = user_model.objects.get(username=INSPECTED)
    heavy = user_model.objects.get(username=HEAVY)
    studied = job["studied"][INSPECTED]
    fresh = next(slug for slug in all_slugs() if slug not in studied)
    client = Client()
    client.force_login(learner)
    rows, captures = [], {}
    htmx = {"HX-Request": "true"}

    def measure(label, method, path, data=None, headers=None, on=client):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            if method == "post":
                response = on.post(path, data, headers=headers or {})
            else:
                response = on.get(path, headers=headers or {})
            elapsed = time.perf_counter() - started
        statements = [query["sql"] for query in captured.captured_queries]
        transaction = [sql for sql in statements if is_transaction(sql)]
        rows.append(
            {
                "request": label,
                "status": response.status_code,
                "statements": len(statements) - len(transaction),
                "transaction": len(transaction),
                "ms": elapsed * 1000,
            }
        )
        captures[label] = captured.captured_queries
        return response.content.decode()

    # The first render of each template compiles it: warm up before counting.
    client.get(f"/decks/{studied[0]}/study/")
    client.get("/progress/")
    # The deck whose next card is one the learner has seen, a review card if one is.
    shown = {}
    for slug in studied:
        fragment = client.get(f"/decks/{slug}/study/", headers=htmx).content.decode()
        fields = dict(HIDDEN_FIELD.findall(fragment))
        if fields.get("reps", "0") != "0":
            memory = Memory.objects.get(user=learner, card_id=fields["card"])
            shown[slug] = "review" if memory.state == REVIEW else "learning/relearning"
    review_deck = next((slug for slug, kind in shown.items() if kind == "review"), None)
    review_deck = review_deck or next(iter(shown))
    study_path = f"/decks/{review_deck}/study/"
    measure("study page (full)", "get", study_path)
    fragment = measure("study fragment (HTMX)", "get", study_path, headers=htmx)
    reveal_path = REVEAL_LINK.search(fragment)[1]
    measure("reveal (full page, no JS)", "get", reveal_path)
    measure("reveal (HTMX)", "get", reveal_path, headers=htmx)
    fields = dict(HIDDEN_FIELD.findall(fragment))
    answer_review = f"answer POST ({shown[review_deck]} card, HTMX)"
    after = measure(
        answer_review, "post", f"/decks/{review_deck}/study/answer/", {**fields, "rating": 3}, htmx
    )
    new_fragment = client.get(f"/decks/{fresh}/study/", headers=htmx).content.decode()
    new_fields = dict(HIDDEN_FIELD.findall(new_fragment))
    answer_new = "answer POST (new card, HTMX)"
    after_new = measure(
        answer_new, "post", f"/decks/{fresh}/study/answer/", {**new_fields, "rating": 3}, htmx
    )
    undo_id = re.search(r'name="review" value="(\d+)"', after_new)[1]
    measure("undo POST (HTMX)", "post", f"/decks/{fresh}/study/undo/", {"review": undo_id}, htmx)
    measure(
        "answer POST (no JS: 302 to the study page)",
        "post",
        f"/decks/{review_deck}/study/answer/",
        {**dict(HIDDEN_FIELD.findall(after)), "rating": 3},
    )
    # The finished screen: today's limits reached, as a learner sees it at the end of a day.
    Profile.objects.filter(user=learner).update(new_cards_per_day=0, reviews_per_day=0)
    for slug in [*studied, *all_slugs()]:
        path = f"/decks/{slug}/study/"
        if 'class="finished"' in client.get(path, headers=htmx).content.decode():
            measure(f"finished screen (HTMX, {slug})", "get", path, headers=htmx)
            break
    Profile.objects.filter(user=learner).update(new_cards_per_day=9999, reviews_per_day=99999)
    answers = Review.objects.filter(user=learner).count()
    measure(f"/progress/ (learner with {answers:,} answers)", "get", "/progress/")

    dashboard = Client()
    dashboard.force_login(heavy)
    dashboard.get("/progress/")
    heavy_answers = Review.objects.filter(user=heavy).count()
    heavy_label = f"/progress/ (heavy, {heavy_answers:,} answers)"
    measure(heavy_label, "get", "/progress/", on=dashboard)
    renders = []
    cpu_before, started_all = cpu_seconds_by_process(), time.perf_counter()
    for _ in range(DASHBOARD_RENDERS):
        started = time.perf_counter()
        dashboard.get("/progress/")
        renders.append((time.perf_counter() - started) * 1000)
    others = others_cpu(cpu_before, cpu_seconds_by_process())
    others /= time.perf_counter() - started_all

    explained = (answer_review, answer_new, "reveal (full page, no JS)", heavy_label)
    plans = {label: explain(connection, captures[label]) for label in explained}
    output = {
        "rows": rows,
        "plans": plans,
        "dashboard": {
            "answers": heavy_answers,
            "renders_ms": renders,
            "others_cpus": others,
            "queries": sorted(
                ((item["ms"], summarize(item["sql"])) for item in plans[heavy_label]),
                reverse=True,
            ),
        },
        "answer_queries": {
            label: [summarize(query["sql"]) for query in captures[label]]
            for label in (answer_review, answer_new)
        },
    }
    output["breakdown"] = breakdown(job["studied"])
    if job["profile"]:
        output["profiles"] = profile(job, dashboard, studied)
    return output


def profile(job, dashboard, studied):
    """pyinstrument profiles of /progress/ for "heavy" and of answers; return the file names."""
    from pyinstrument import Profiler

    written = []
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(3):
            dashboard.get("/progress/")
    written.append(write_profile(job, "progress", profiler))

    learner = InProcessLearner(PROFILED, job["studied"][PROFILED])
    learner.next_form()
    profiler = Profiler(interval=0.0002)
    with profiler:
        for _ in range(PROFILED_ANSWERS):
            learner.answer(*learner.next_form())
    written.append(write_profile(job, "answer", profiler))
    return written


class InProcessLearner:
    """A learner answering through django.test.Client as the HTMX page does."""

    def __init__(self, username, studied):
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.client = Client()
        self.client.force_login(get_user_model().objects.get(username=username))
        self.slugs = [*studied, *other_slugs(studied)]
        self.deck, self.fragment = 0, None

    def next_form(self):
        """The path and fields of the next answer, fetching a fragment when none is at hand."""
        for _ in range(len(self.slugs)):
            slug = self.slugs[self.deck % len(self.slugs)]
            if self.fragment is None:
                response = self.client.get(f"/decks/{slug}/study/", headers=HTMX)
                self.fragment = response.content.decode()
            fields = dict(HIDDEN_FIELD.findall(self.fragment))
            if "card" in fields:
                return f"/decks/{slug}/study/answer/", {**fields, "rating": 3}
            self.deck, self.fragment = self.deck + 1, None
        raise RuntimeError("nothing left to answer in any deck")

    def answer(self, path, form):
        self.fragment = self.client.post(path, form, headers=HTMX).content.decode()


def breakdown(studied):
    """Where an answer's time goes in process: medians over answers of the whole request, of
    SQL execution and commits, and of the app's functions (each including what it calls)."""
    from django.db import connections

    from flashcards import auth, models, scheduling
    from flashcards.views import study

    spent = Counter()
    connection = connections["default"]

    def timed(label, function):
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - started

        return wrapper

    def timed_execute(execute, sql, params, many, context):
        return timed("SQL statements (execution)", execute)(sql, params, many, context)

    targets = [
        (auth.ProfileBackend, "get_user", "auth.ProfileBackend.get_user() (learner)"),
        (models, "card_in_deck", "models.card_in_deck() (card answered, queue counts)"),
        (models, "insert", "models.insert() (memory of a new card, review)"),
        (models.StudyQueue, "next_card", "StudyQueue.next_card()"),
        (study, "render_study", "views.study.render_study() (template)"),
        (models, "render_markdown", "rendering.render_markdown() (card stored without HTML)"),
        (scheduling, "review", "scheduling.review() (1 answer + 4 previews)"),
        (connection, "_commit", "COMMIT"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in targets]
    for owner, name, label in targets:
        setattr(owner, name, timed(label, getattr(owner, name)))
    learner = InProcessLearner(BREAKDOWN, studied[BREAKDOWN])
    samples = {"answer step": [], "bare view": []}
    try:
        with connection.execute_wrapper(timed_execute):
            for _ in range(BREAKDOWN_ANSWERS):
                request = learner.next_form()
                spent.clear()
                started = time.perf_counter()
                learner.answer(*request)
                samples["answer step"].append({"total": time.perf_counter() - started, **spent})
            for _ in range(BREAKDOWN_ANSWERS):
                spent.clear()
                started = time.perf_counter()
                learner.client.get("/bench/bare/")
                samples["bare view"].append({"total": time.perf_counter() - started, **spent})
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    labels = ["total", "SQL statements (execution)", *(label for _, _, label in targets)]
    return {
        name: {
            label: statistics.median(sample.get(label, 0.0) for sample in rows) * 1000
            for label in labels
        }
        for name, rows in samples.items()
    }


def write_profile(job, name, profiler):
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"loop-{job['database']}-{job['date']}-profile-{name}.txt"
    tree = profiler.output_text(unicode=False, color=False, show_all=False)
    flat = profiler.output_text(unicode=False, color=False, flat=True).splitlines()
    path.write_text(
        tree + "\nSelf time by function (pyinstrument --flat):\n" + "\n".join(flat[:70])
    )
    return str(path.relative_to(app_copy.REPO))


def all_slugs():
    return [f"bench-deck-{number:02d}" for number in range(1, DECKS + 1)]


def is_transaction(sql):
    return sql.lstrip().upper().startswith(TRANSACTION_STATEMENTS)


def summarize(sql, width=150):
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 3] + "..."


def explain(connection, queries):
    """[(statement, plan lines, flags)] for each statement that is not transaction control."""
    explained = []
    with connection.cursor() as cursor:
        for query in queries:
            sql = query["sql"]
            if is_transaction(sql):
                continue
            if connection.vendor == "sqlite":
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                nodes = cursor.fetchall()
                depth = {0: -1}
                lines = []
                for node_id, parent, _, detail in nodes:
                    depth[node_id] = depth.get(parent, -1) + 1
                    lines.append("  " * depth[node_id] + detail)
                full_scans = [
                    line.strip() for line in lines if re.match(r"\s*SCAN flashcards_review\b", line)
                ]
            else:
                cursor.execute("EXPLAIN " + sql)
                lines = [row[0] for row in cursor.fetchall()]
                full_scans = [
                    line.strip() for line in lines if "Seq Scan on flashcards_review" in line
                ]
            indexed = any(
                re.search(r"USING (COVERING )?INDEX|USING (INTEGER )?PRIMARY KEY", line)
                or re.search(r"Index (Only )?Scan|Bitmap Index Scan", line)
                for line in lines
            )
            explained.append(
                {
                    "sql": summarize(sql, 400),
                    "ms": rerun_ms(cursor, sql) or float(query["time"]) * 1000,
                    "plan": lines,
                    "index_used": indexed,
                    "full_scans_of_review": full_scans,
                }
            )
    return explained


def rerun_ms(cursor, sql, times=3):
    """The median time of a SELECT run again (the captured times are whole milliseconds)."""
    if not sql.lstrip().upper().startswith("SELECT") or "FOR UPDATE" in sql.upper():
        return None
    durations = []
    for _ in range(times):
        started = time.perf_counter()
        cursor.execute(sql)
        cursor.fetchall()
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.median(durations)


# The HTTP side: learners on kept-alive connections, and gunicorn.


class Connection(http.client.HTTPConnection):
    """An HTTP connection that counts how often it had to connect: keep-alive held if once."""

    opened = 0

    def connect(self):
        super().connect()
        self.opened += 1


@dataclass
class Reply:
    status: int | None
    raw: bytes = b""
    text: str = ""
    headers: dict = field(default_factory=dict)
    seconds: float = 0.0


class Learner:
    """One learner's HTTP client, with its cookies and its place in the study loop."""

    def __init__(self, port, username, slugs):
        self.connection = Connection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
        self.username = username
        self.slugs = slugs
        self.deck = 0
        self.cookies = {}
        self.fragment = None
        self.reveal_path = None
        self.answered = Counter()
        self.rng = random.Random(f"{SEED}:{username}")

    @property
    def slug(self):
        return self.slugs[self.deck % len(self.slugs)]

    def request(self, method, path, form=None, *, htmx=False):
        headers = {"Accept-Encoding": "gzip"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if htmx:
            headers["HX-Request"] = "true"
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body, headers)
            response = self.connection.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()
            return Reply(None, seconds=time.perf_counter() - started)
        seconds = time.perf_counter() - started
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = cookie.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        body = gzip.decompress(raw) if response.getheader("Content-Encoding") == "gzip" else raw
        return Reply(
            response.status, raw, body.decode(errors="replace"), dict(response.headers), seconds
        )

    def log_in(self):
        for _ in range(3):
            page = self.request("GET", "/accounts/login/")
            token = dict(HIDDEN_FIELD.findall(page.text)).get("csrfmiddlewaretoken")
            if page.status != 200 or not token:
                continue
            form = {"username": self.username, "password": PASSWORD, "csrfmiddlewaretoken": token}
            if self.request("POST", "/accounts/login/", form).status == 302:
                return True
        return False

    def bare(self):
        return self.request("GET", "/bench/bare/")

    def study_page(self):
        return self.request("GET", f"/decks/{self.slug}/study/")

    def reveal(self):
        """The no-JS path's second request: the same page with the answer shown."""
        for _ in range(len(self.slugs)):
            if self.reveal_path is not None:
                break
            link = REVEAL_LINK.search(self.study_page().text)
            if link is None:
                self.deck += 1
                continue
            self.reveal_path = link[1]
        return self.request("GET", self.reveal_path)

    def answer(self):
        """One answer as the HTMX page sends it; its response is the next card's fragment."""
        for _ in range(len(self.slugs)):
            if self.fragment is None:
                reply = self.request("GET", f"/decks/{self.slug}/study/", htmx=True)
                self.fragment = reply.text if reply.status == 200 else ""
            fields = dict(HIDDEN_FIELD.findall(self.fragment))
            if {"card", "reps", "shown_at", "csrfmiddlewaretoken"} <= fields.keys():
                break
            # Finished for now: on to the next deck.
            self.deck, self.fragment = self.deck + 1, None
        else:
            return Reply(None)
        form = {**fields, "rating": self.rng.choices(RATINGS, RATING_WEIGHTS)[0]}
        reply = self.request("POST", f"/decks/{self.slug}/study/answer/", form, htmx=True)
        self.answered["new" if fields["reps"] == "0" else "seen before"] += 1
        self.fragment = reply.text if reply.status in (200, 409) else None
        return reply


ACTIONS = {
    "bare view": Learner.bare,
    "study page": Learner.study_page,
    "reveal page": Learner.reveal,
    "answer step": Learner.answer,
}
# The access log's lines of each endpoint's timed request (the answer step also fetches a
# fragment when it changes deck; that GET is not its own).
ACCESS_LINES = {
    "bare view": re.compile(r"GET /bench/bare/ "),
    "study page": re.compile(r"GET /decks/[\w-]+/study/ "),
    "reveal page": re.compile(r"GET /decks/[\w-]+/study/\d+/reveal/ "),
    "answer step": re.compile(r"POST /decks/[\w-]+/study/answer/ "),
}


def start_gunicorn(snapshot, env, workers, log_path, access_path):
    """gunicorn with sync workers and an access log of each request's time in microseconds."""
    server, port = app_copy.serve(
        snapshot,
        env,
        workers,
        log_path,
        "--access-logfile",
        str(access_path),
        "--access-logformat",
        "%(m)s %(U)s %(s)s %(D)s",
    )
    for _ in range(150):
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            probe.request("GET", "/accounts/login/")
            probe.getresponse().read()
            return server, port
        except (OSError, http.client.HTTPException):
            if server.poll() is not None:
                break
            time.sleep(0.2)
        finally:
            probe.close()
    app_copy.stop_server(server)
    raise RuntimeError(f"gunicorn did not start; see {log_path}:\n{log_path.read_text()[-3000:]}")


def run_phase(learners, endpoint, seconds, rounds, access_path, server):
    """Every learner repeats the endpoint's action for a few rounds; return the best round."""
    action = ACTIONS[endpoint]
    for learner in learners:
        for _ in range(WARM_UP_REQUESTS):
            action(learner)
    time.sleep(0.2)
    figures = [
        run_round(learners, endpoint, action, seconds, access_path, server) for _ in range(rounds)
    ]
    # Other work on this machine comes and goes: the best round is the one it hindered least.
    best = max(figures, key=lambda round_: round_["req/s"])
    best["rounds req/s"] = "/".join(f"{round_['req/s']:.0f}" for round_ in figures)
    return best


def run_round(learners, endpoint, action, seconds, access_path, server):
    opened = sum(learner.connection.opened for learner in learners)
    log_start = access_path.stat().st_size
    cpu_before = cpu_seconds_by_process()
    start = time.monotonic()
    deadline = start + seconds

    def work(learner):
        replies = []
        while time.monotonic() < deadline and len(replies) < MAX_REQUESTS_PER_CLIENT:
            replies.append(action(learner))
        return replies

    with ThreadPoolExecutor(len(learners)) as pool:
        replies = [reply for batch in pool.map(work, learners) for reply in batch]
    elapsed = time.monotonic() - start
    others = others_cpu(cpu_before, cpu_seconds_by_process(), server.pid) / elapsed
    # The workers write a request's line after its response: give the last ones a moment.
    time.sleep(0.3)
    with access_path.open("rb") as log:
        log.seek(log_start)
        lines = log.read().decode(errors="replace").splitlines()
    server_ms = sorted(
        int(line.rsplit(" ", 1)[1]) / 1000 for line in lines if ACCESS_LINES[endpoint].match(line)
    )
    latencies = sorted(reply.seconds * 1000 for reply in replies if reply.status is not None)
    return {
        "clients": len(learners),
        "requests": len(replies),
        "not 2xx": sum(1 for reply in replies if reply.status is None or reply.status >= 300),
        "p50 ms": percentile(latencies, 50),
        "p95 ms": percentile(latencies, 95),
        "server p50": percentile(server_ms, 50),
        "server p95": percentile(server_ms, 95),
        "req/s": len(replies) / elapsed,
        "connections": sum(learner.connection.opened for learner in learners) - opened,
        "others' CPUs": others,
    }


def cpu_seconds_by_process():
    """{pid: (parent pid, command line, CPU seconds so far)} of every process, from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        found[int(stat.parent.name)] = (
            int(fields[1]),
            command,
            (int(fields[11]) + int(fields[12])) / ticks,
        )
    return found


def others_cpu(before, after, server_pid=None):
    """CPU seconds spent between two snapshots by processes that are not this benchmark's:
    not this process, nor gunicorn and its workers, nor PostgreSQL's shared processes and
    backends of the bench database, nor Redis."""
    total = 0.0
    for pid, (parent, command, seconds) in after.items():
        if pid == os.getpid() or server_pid in (pid, parent) or "redis-server" in command:
            continue
        if command.startswith("postgres"):
            # A backend reads "postgres: 15/main: user database host ..."; others are shared.
            words = command.split(": ", 2)[-1].split()
            if len(words) < 3 or words[1] == LOOP_DATABASE:
                continue
        total += seconds - before.get(pid, (0, "", 0.0))[2]
    return total


def run_setting(database, workers, cache, args, snapshot, env, tmp, studied, with_bytes):
    """Serve with one setting, time each endpoint with 1 and 8 clients; return the figures."""
    if cache == "redis":
        env = {**env, "REDIS_URL": REDIS_URL}
    name = f"{workers}w-{cache}"
    log_path, access_path = tmp / f"gunicorn-{name}.log", tmp / f"access-{name}.log"
    access_path.touch()
    server, port = start_gunicorn(snapshot, env, workers, log_path, access_path)
    figures, wire = {}, None
    try:
        learners = [
            Learner(port, username, studied[username] + other_slugs(studied[username]))
            for username in client_names()
        ]
        with ThreadPoolExecutor(len(learners)) as pool:
            logged_in = list(pool.map(Learner.log_in, learners))
        if not all(logged_in):
            raise RuntimeError(f"{logged_in.count(False)} clients could not log in")
        if with_bytes:
            wire = wire_bytes(port, studied[BYTES_CLIENT])
        for endpoint in ENDPOINTS:
            for clients in CONCURRENCY:
                figures[(endpoint, clients)] = run_phase(
                    learners[:clients], endpoint, args.seconds, args.rounds, access_path, server
                )
        answered = sum((learner.answered for learner in learners), Counter())
    finally:
        app_copy.stop_server(server)
    log = log_path.read_text(errors="replace")
    notes = [
        f"{database}, {workers} workers, {cache} cache: cards answered "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(answered.items()))
        + f"; server log: {log.count('Traceback')} tracebacks, "
        + f"{log.count('WORKER TIMEOUT')} worker timeouts"
    ]
    if "Traceback" in log:
        notes += [f"    {line}" for line in log[log.index("Traceback") :].splitlines()[:30]]
    return figures, wire, notes


def other_slugs(studied):
    return [slug for slug in all_slugs() if slug not in studied]


def wire_bytes(port, slugs):
    """Bytes of a first visit to the study page and of one answer step, compressed as served."""
    learner = Learner(port, BYTES_CLIENT, slugs + other_slugs(slugs))
    if not learner.log_in():
        raise RuntimeError("the bytes client could not log in")
    page = learner.study_page()
    rows = [("study page HTML", f"/decks/{learner.slug}/study/", page)]
    stylesheets = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.text)
    scripts = re.findall(r'<script[^>]* src="([^"]+)"', page.text)
    for url in stylesheets + scripts:
        rows.append(
            ("stylesheet" if url in stylesheets else "script", url, learner.request("GET", url))
        )
    others = re.findall(r'<link rel="(?:manifest|icon|apple-touch-icon)" href="([^"]+)"', page.text)
    extras = [("other (not render-blocking)", url, learner.request("GET", url)) for url in others]
    answer = learner.answer()
    answer_row = ("answer step response", f"/decks/{learner.slug}/study/answer/", answer)

    # Every URL the page names must be ours: a path, or this very host.
    ours = f"127.0.0.1:{port}"
    named = re.findall(r'\b(?:src|href|action|hx-get|hx-post|srcset|poster)="([^"]*)"', page.text)
    for _, url, reply in rows:
        if url.endswith(".css"):
            named += re.findall(r"url\(\s*['\"]?([^'\")]+)", reply.text)
            named += re.findall(r"@import\s+['\"]([^'\"]+)", reply.text)
    foreign = sorted(
        {
            url
            for url in named
            if urllib.parse.urlsplit(url).netloc not in ("", ours)
            or urllib.parse.urlsplit(url).scheme not in ("", "http", "data")
        }
    )
    return {
        "rows": [
            {
                "what": what,
                "url": url,
                "status": reply.status,
                "encoding": reply.headers.get("Content-Encoding", "identity"),
                "bytes": len(reply.raw),
                "uncompressed": len(reply.text.encode()),
                "headers": sum(len(k) + len(v) + 4 for k, v in reply.headers.items()),
            }
            for what, url, reply in [*rows, *extras, answer_row]
        ],
        "named_urls": len(named),
        "foreign": foreign,
        "csp": page.headers.get("Content-Security-Policy", "none"),
    }


# One database: the copy, the seed, the inspection and the HTTP settings.


def head_commit():
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=app_copy.REPO, capture_output=True, text=True
    ).stdout.strip()


def redis_available():
    try:
        import redis
    except ImportError:
        return None
    try:
        return redis.Redis.from_url(REDIS_URL, socket_timeout=2).info("server")["redis_version"]
    except (redis.RedisError, OSError):
        return None


def run_database(database, args, date):
    """Seed, inspect and serve one database; return the report's text and the targets."""
    commit = app_copy.git_commit() if args.working_tree else "HEAD " + head_commit()
    sections = []
    with tempfile.TemporaryDirectory(prefix="flashcards-loop-") as tmp:
        tmp = Path(tmp)
        snapshot = tmp / "app"
        app_copy.copy_tree(snapshot, args.working_tree)
        (snapshot / "bench_urls.py").write_text(BENCH_URLS)
        (snapshot / "bench_settings.py").write_text(BENCH_SETTINGS)
        env = app_copy.app_environment(
            database,
            tmp,
            snapshot,
            LOOP_DATABASE,
            settings_module="bench_settings",
            allowed_hosts="127.0.0.1,testserver",
        )
        if database == "postgres":
            app_copy.recreate_postgres_database(LOOP_DATABASE)
        try:
            started = time.monotonic()
            app_copy.manage(snapshot, env, "migrate", "--noinput")
            app_copy.manage(snapshot, env, "collectstatic", "--noinput")
            setup_seconds = time.monotonic() - started
            seeded = app_copy.child_step(
                __file__, snapshot, env, "seed", {"now": time.time()}, tmp / "seed.json"
            )
            sections.append(seed_section(seeded, setup_seconds))
            print(sections[-1], flush=True)
            job = {
                "studied": seeded["studied"],
                "profile": args.profile,
                "database": database,
                "date": date,
            }
            inspected = app_copy.child_step(
                __file__, snapshot, env, "inspect", job, tmp / "inspect.json"
            )
            sections += inspect_sections(inspected)
            print(*sections[-5:], sep="\n\n", flush=True)

            redis_version = redis_available() if "redis" in args.caches else None
            settings, wire, notes = [], None, []
            for workers in args.workers:
                for cache in args.caches:
                    if cache == "redis" and redis_version is None:
                        notes.append("redis: skipped (no redis package or no server)")
                        continue
                    figures, measured, lines = run_setting(
                        database, workers, cache, args, snapshot, env, tmp, seeded["studied"],
                        with_bytes=wire is None,
                    )  # fmt: skip
                    wire = wire or measured
                    notes += lines
                    settings.append((workers, cache, figures))
                    sections.append(http_section(database, workers, cache, figures, args))
                    print(sections[-1], *lines, sep="\n", flush=True)
            sections.append(bytes_section(wire))
            sections.append("\n".join(notes))
            targets = target_lines(settings[0][2], inspected, wire)
            sections.append(targets)
            print(*sections[-3:], sep="\n\n", flush=True)
            server = app_copy.database_version(database)
            if redis_version:
                server += f", Redis {redis_version}"
            setting = app_copy.machine(server, commit).replace(
                "working tree of HEAD", "committed tree, HEAD"
            )
        finally:
            if database == "postgres":
                app_copy.recreate_postgres_database(LOOP_DATABASE, create=False)
    return sections, setting


# The report.


def table(columns, rows, names=1):
    """Rows as aligned text: names to the left, figures to the right."""
    cells = [list(columns)] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.ljust(width) if i < names else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    ]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def seed_section(seeded, setup_seconds):
    rows = [("migrate + collectstatic", f"{setup_seconds:.1f}")]
    rows += [(step, f"{seconds:.1f}") for step, seconds in seeded["timings"].items()]
    total = setup_seconds + sum(seeded["timings"].values())
    rows.append(("total", f"{total:.1f}"))
    return "Database build\n" + table(("step", "seconds"), rows)


def inspect_sections(inspected):
    queries = table(
        ("request (in process, django.test.Client)", "status", "SQL statements", "BEGIN/COMMIT",
         "ms"),
        [
            (row["request"], row["status"], row["statements"], row["transaction"],
             f"{row['ms']:.1f}")
            for row in inspected["rows"]
        ],
    )  # fmt: skip
    statements = ["Statements of the answer step, in order:"]
    for label, sqls in inspected["answer_queries"].items():
        statements.append(f"  {label}:")
        statements += [f"    {n}. {sql}" for n, sql in enumerate(sqls, start=1)]
    dashboard = inspected["dashboard"]
    renders = dashboard["renders_ms"]
    slowest = dashboard["queries"]
    dashboard_text = (
        f"/progress/ for the learner with {dashboard['answers']:,} answers, in process: "
        f"median {statistics.median(renders):.1f} ms of {len(renders)} renders "
        f"(min {min(renders):.1f}, max {max(renders):.1f}; other work used "
        f"{dashboard['others_cpus']:.1f} of {os.cpu_count()} CPUs meanwhile); "
        f"its {len(slowest)} statements, run again one by one, took "
        f"{sum(ms for ms, _ in slowest):.1f} ms. Slowest statements:\n"
        + "\n".join(f"  {ms:7.1f} ms  {sql}" for ms, sql in slowest[:8])
    )
    plans = ["Plans (EXPLAIN QUERY PLAN on SQLite, EXPLAIN on PostgreSQL):"]
    for label, explained in inspected["plans"].items():
        full = sum(1 for item in explained if item["full_scans_of_review"])
        plans.append(
            f"  {label}: {len(explained)} statements, "
            f"{sum(item['index_used'] for item in explained)} using an index, "
            f"{full} with a full scan of flashcards_review"
        )
        for n, item in enumerate(explained, start=1):
            flag = "  << FULL SCAN OF flashcards_review" if item["full_scans_of_review"] else ""
            plans.append(f"    {n}. [{item['ms']:.1f} ms] {item['sql']}{flag}")
            plans += [f"         {line}" for line in item["plan"]]
    breakdown_rows = [
        (label, *(f"{inspected['breakdown'][name][label]:.2f}" for name in inspected["breakdown"]))
        for label in inspected["breakdown"]["answer step"]
    ]
    breakdown_text = (
        "Where the time goes, in process (django.test.Client, the connection kept open), median "
        f"ms of {BREAKDOWN_ANSWERS} requests; functions include what they call, SQL included\n"
        + table(("part", *inspected["breakdown"]), breakdown_rows)
    )
    profiles = inspected.get("profiles")
    if profiles:
        dashboard_text += "\npyinstrument profiles written: " + ", ".join(profiles)
    return [
        "SQL statements per request (BEGIN/COMMIT/SAVEPOINT counted apart, not in "
        "'SQL statements')\n" + queries,
        "\n".join(statements),
        breakdown_text,
        dashboard_text,
        "\n".join(plans),
    ]


def http_section(database, workers, cache, figures, args):
    columns = ("endpoint", "clients", "requests", "not 2xx", "p50 ms", "p95 ms",
               "server p50", "server p95", "req/s", "rounds req/s", "others' CPUs",
               "connections")  # fmt: skip
    rows = [
        (endpoint, *(format_figure(phase[column]) for column in columns[1:]))
        for (endpoint, _), phase in figures.items()
    ]
    bare1, answer1 = figures[("bare view", 1)], figures[("answer step", 1)]
    bare8, answer8 = figures[("bare view", CLIENTS)], figures[("answer step", CLIENTS)]
    reveal1, study1 = figures[("reveal page", 1)], figures[("study page", 1)]
    summary = (
        f"answer step p50 / bare view p50 (1 client): {answer1['p50 ms'] / bare1['p50 ms']:.2f}x "
        f"(server side {answer1['server p50'] / bare1['server p50']:.2f}x); "
        f"answer req/s / bare req/s ({CLIENTS} clients): "
        f"{answer8['req/s'] / bare8['req/s']:.0%}\n"
        f"no-JS path per card (reveal page + answer + study page after the redirect), p50 sum: "
        f"{reveal1['p50 ms'] + answer1['p50 ms'] + study1['p50 ms']:.1f} ms "
        f"= {(reveal1['p50 ms'] + answer1['p50 ms'] + study1['p50 ms']) / bare1['p50 ms']:.1f}x "
        f"the bare view"
    )
    title = (
        f"HTTP, {database}, gunicorn {workers} sync workers, {cache} cache: the best of "
        f"{args.rounds} rounds of {args.seconds:g} s (by req/s; each round's req/s listed). "
        f"others' CPUs: CPUs used meanwhile by other work on the machine (of {os.cpu_count()}); "
        "connections: TCP connections opened (one per request: gunicorn's sync workers close "
        "each connection)"
    )
    return f"{title}\n{table(columns, rows)}\n{summary}"


def format_figure(value):
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def bytes_section(wire):
    rows = [
        (row["what"], row["url"], row["status"], row["encoding"], row["bytes"],
         row["uncompressed"], row["headers"])
        for row in wire["rows"]
    ]  # fmt: skip
    first = [
        row for row in wire["rows"] if row["what"] in ("study page HTML", "stylesheet", "script")
    ]
    foreign = ", ".join(wire["foreign"]) or "none"
    return (
        "Bytes over the wire (Accept-Encoding: gzip; bytes = body as sent)\n"
        + table(
            ("what", "url", "status", "encoding", "bytes", "uncompressed", "header bytes"),
            rows,
            names=2,
        )
        + f"\nfirst visit (HTML + CSS + JS): {sum(row['bytes'] for row in first):,} bytes "
        f"compressed, {sum(row['bytes'] + row['headers'] for row in first):,} with headers; "
        f"{sum(row['uncompressed'] for row in first):,} uncompressed"
        + f"\nURLs named by the page and its stylesheets: {wire['named_urls']}, "
        f"on another host: {foreign}\nContent-Security-Policy: {wire['csp']}"
    )


def target_lines(figures, inspected, wire):
    bare1, answer1 = figures[("bare view", 1)], figures[("answer step", 1)]
    bare8, answer8 = figures[("bare view", CLIENTS)], figures[("answer step", CLIENTS)]
    ratio = answer1["p50 ms"] / bare1["p50 ms"]
    answer_rows = [row for row in inspected["rows"] if row["request"].startswith("answer POST (")]
    answer_rows = [row for row in answer_rows if "HTMX" in row["request"]]
    most = max(row["statements"] for row in answer_rows)
    share = answer8["req/s"] / bare8["req/s"]
    first = sum(row["bytes"] for row in wire["rows"] if row["what"] in FIRST_VISIT)
    answer_bytes = next(row["bytes"] for row in wire["rows"] if row["what"].startswith("answer"))
    dashboard = statistics.median(inspected["dashboard"]["renders_ms"])
    checks = [
        (f"per card <= {TARGET_PER_CARD}x the bare view's median (1 client)",
         ratio <= TARGET_PER_CARD,
         f"{answer1['p50 ms']:.1f} ms / {bare1['p50 ms']:.1f} ms = {ratio:.2f}x"),
        (f"answer step <= {TARGET_ANSWER_QUERIES} queries", most <= TARGET_ANSWER_QUERIES,
         f"{most} statements (+ BEGIN/COMMIT), the most of "
         + ", ".join(f"{row['statements']}" for row in answer_rows)),
        (f"{CLIENTS}-client answer throughput >= {TARGET_THROUGHPUT_SHARE:.0%} of the bare view's",
         share >= TARGET_THROUGHPUT_SHARE,
         f"{answer8['req/s']:.1f} / {bare8['req/s']:.1f} req/s = {share:.0%}"),
        (f"first visit < {TARGET_FIRST_VISIT // 1000} KB compressed", first < TARGET_FIRST_VISIT,
         f"{first:,} bytes"),
        (f"answer step < {TARGET_ANSWER_BYTES // 1000} KB", answer_bytes < TARGET_ANSWER_BYTES,
         f"{answer_bytes:,} bytes"),
        (f"dashboard, {inspected['dashboard']['answers']:,} answers < {TARGET_DASHBOARD_MS} ms",
         dashboard < TARGET_DASHBOARD_MS,
         f"median {dashboard:.1f} ms (min {min(inspected['dashboard']['renders_ms']):.1f})"),
    ]  # fmt: skip
    return "Targets (HTTP figures from the first setting)\n" + table(
        ("target", "result", "measured"),
        [(name, "PASS" if passed else "MISS", measured) for name, passed, measured in checks],
        names=3,
    )


def write_results(database, date, sections, setting):
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"loop-{database}-{date}.txt"
    command = " ".join(["bench/loop.py", *sys.argv[1:]])
    header = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {command}\n{setting}\n"
    path.write_text(header + "\n" + "\n\n".join(sections) + "\n")
    return path


def main(args):
    started = time.monotonic()
    date = f"{datetime.now(UTC):%Y-%m-%d}"
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    for database in databases:
        database_started = time.monotonic()
        sections, setting = run_database(database, args, date)
        sections.append(f"run time for {database}: {time.monotonic() - database_started:.0f} s")
        path = write_results(database, date, sections, setting)
        print(setting, f"written to {path.relative_to(app_copy.REPO)}", sep="\n", flush=True)
    print(f"\ntotal run time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.step:
        steps = {"seed": seed, "inspect": inspect}
        app_copy.run_child_step(steps[arguments.step], arguments.job)
    else:
        main(arguments)
