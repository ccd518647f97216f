"""Load and fault harness: no answer acknowledged to a learner is lost under load and faults.

Run from the repository root:

    .venv/bin/python bench/load.py [--database sqlite|postgres|both] [--seconds 60]
        [--learners 20] [--workers 4] [--modes plain,double,kill]

For each database the working tree is copied to a temporary directory, so that STATIC_ROOT and
VAR_DIR are temporary and edits made during the run never reach the server. A fresh database is
prepared there (a SQLite file in VAR_DIR, or `flashcards_load` on the PostgreSQL server at
127.0.0.1, dropped at the end), migrated, given the source deck and a generated deck of 300
cards, and learners for each mode with unlimited new cards. Then for each mode gunicorn serves
the copy on a free loopback port, and the learners (bench/learner.py) study as the HTMX page
does (each answer's response is the next card, which holds its answer) for the given seconds:

- plain: each answer is posted once;
- double: each answer is posted twice at once (one time in five the second copy carries another
  rating, as from a second tab), and one time in ten a copy abandoned after a client timeout of
  a few milliseconds goes first;
- kill: a gunicorn worker is killed with SIGKILL at a third and at two thirds of the run.

In every mode an answer whose request failed (connection error, timeout, 5xx) is retried once.
After the server has stopped, the history in the database is checked against what the clients
were told. An answer is a (learner, card, number) with number = the reps shown + 1.

- acked: answers given a 2xx to a POST; unacked: answers tried but neither acknowledged nor
  refused (every copy failed); history: Review rows, so history = acked + recorded unacked;
- lost: acknowledged answers with no Review row, or a row with another rating;
- duplicated: answers with more than one row, plus rows no acknowledged or failed copy explains;
- inconsistent: Memory rows that differ from replaying their Reviews through the scheduler
  (or Reviews whose before/after fields differ from the replay);
- half-written: a Memory whose reps do not match its Reviews 1..n, or Reviews without a Memory.

The table is printed and written to bench/results/load-<database>-<date>.txt with the machine.
Only 127.0.0.1 is contacted, and every loop ends by its deadline or count.
"""

import argparse
import os
import random
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import app_copy
from learner import PASSWORD, REQUEST_TIMEOUT
from learner import Learner as HttpLearner

RESULTS = app_copy.REPO / "bench" / "results"
LOAD_DATABASE = "flashcards_load"
SOURCE_FIXTURE = "fixtures/deep-learning-flashcards.json"
SOURCE_DECK = "deep-learning-flashcards"
LOAD_DECK = "load-test-deck"
GENERATED_CARDS = 300
MODES = ("plain", "double", "kill")
# Far more than a learner can send in a run: a second bound beside the deadline.
MAX_REQUESTS_PER_LEARNER = 100_000
COLUMNS = ("database", "mode", "seconds", "learners", "requests", "acked", "history",
           "unacked", "5xx", "lost", "duplicated", "inconsistent", "half-written", "p50 ms",
           "p95 ms")  # fmt: skip


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=60, help="study time of each mode")
    parser.add_argument("--learners", type=int, default=20, help="concurrent learners")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        type=lambda text: [mode for mode in text.split(",") if mode],
        help="comma-separated, from plain,double,kill",
    )
    # Internal: the seed and verify steps run in a child process with the app's settings.
    parser.add_argument("--step", choices=["seed", "verify"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.modes) - set(MODES):
        parser.error(f"unknown modes: {', '.join(sorted(unknown))}")
    return args


# The learners' side: the shared HTTP learner, sending each answer as the mode says.


class Learner(HttpLearner):
    """The shared learner, with what it sent and what it was told."""

    def __init__(self, base_url, username, mode, decks, rng):
        super().__init__(base_url, username, decks)
        self.mode, self.rng = mode, rng
        self.attempts, self.latencies_ms = [], []

    def study(self, deadline):
        """Answer card after card until the deadline, resting when every deck is finished."""
        while time.monotonic() < deadline and self.requests < MAX_REQUESTS_PER_LEARNER:
            fields = self.card_on_screen()
            if fields is None:
                self.fragment = None
                time.sleep(0.5)
                continue
            self.fragment = self.answer_as_mode(fields)

    def answer_as_mode(self, fields):
        """Answer the card as the mode says; return the next card's fragment, or None."""
        rating, second = self.rng.randint(1, 4), None
        if self.mode == "double":
            if self.rng.random() < 0.1:
                self.recorded_post(fields, rating, timeout=self.rng.uniform(0.002, 0.02))
            other = rating
            if self.rng.random() < 0.2:
                other = self.rng.choice([r for r in range(1, 5) if r != rating])
            second = threading.Thread(target=self.recorded_post, args=(fields, other))
            second.start()
        status, body = self.recorded_post(fields, rating)
        if status is None or status >= 500:
            status, body = self.recorded_post(fields, rating)
        if second is not None:
            second.join(REQUEST_TIMEOUT + 5)
        return body if status in (200, 409) else None

    def recorded_post(self, fields, rating, timeout=REQUEST_TIMEOUT):
        started = time.perf_counter()
        status, body = self.post_answer(fields, rating, timeout=timeout)
        elapsed_ms = (time.perf_counter() - started) * 1000
        attempt = {
            "user": self.username,
            "card": int(fields["card"]),
            "number": int(fields["reps"]) + 1,
            "rating": rating,
            "status": status,
        }
        with self.lock:
            self.attempts.append(attempt)
            if status is not None and timeout == REQUEST_TIMEOUT:
                self.latencies_ms.append(elapsed_ms)
        return status, body


# The server's side: gunicorn serving the copy of the app.


def worker_pids(master_pid):
    """The gunicorn workers: the master's child processes, read from /proc."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master_pid:
            pids.append(int(stat.parent.name))
    return pids


def kill_workers(master_pid, start, seconds, rng, killed):
    """SIGKILL one worker at a third and at two thirds of the run."""
    for fraction in (1 / 3, 2 / 3):
        time.sleep(max(0.0, start + seconds * fraction - time.monotonic()))
        workers = worker_pids(master_pid)
        if workers:
            pid = rng.choice(workers)
            os.kill(pid, signal.SIGKILL)
            killed.append((pid, round(time.monotonic() - start, 1)))


# One run: one mode on one database.


def learner_names(mode, count):
    return [f"{mode}-{number:02d}" for number in range(1, count + 1)]


def run_mode(database, mode, args, snapshot, env, tmp):
    log_path = tmp / f"gunicorn-{mode}.log"
    server, port = app_copy.serve(snapshot, env, args.workers, log_path)
    base_url = f"http://127.0.0.1:{port}"
    rng = random.Random(f"{database}:{mode}")
    learners = [
        Learner(
            base_url,
            name,
            mode,
            [LOAD_DECK, SOURCE_DECK] if number % 2 else [SOURCE_DECK, LOAD_DECK],
            random.Random(f"{database}:{name}"),
        )
        for number, name in enumerate(learner_names(mode, args.learners))
    ]
    killed = []
    try:
        login_deadline = time.monotonic() + 120
        with ThreadPoolExecutor(args.learners) as pool:
            list(pool.map(lambda learner: learner.log_in(login_deadline), learners))
        start = time.monotonic()
        deadline = start + args.seconds
        threads = [threading.Thread(target=learner.study, args=(deadline,)) for learner in learners]
        if mode == "kill":
            threads.append(
                threading.Thread(
                    target=kill_workers, args=(server.pid, start, args.seconds, rng, killed)
                )
            )
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(max(0.0, deadline + 3 * REQUEST_TIMEOUT - time.monotonic()))
        elapsed = time.monotonic() - start
        workers_at_end = len(worker_pids(server.pid))
    finally:
        app_copy.stop_server(server)
    attempts = [attempt for learner in learners for attempt in learner.attempts]
    job = {"usernames": learner_names(mode, args.learners), "attempts": attempts}
    check = app_copy.child_step(__file__, snapshot, env, "verify", job, tmp / f"verify-{mode}.json")
    statuses = sum((learner.statuses for learner in learners), Counter())
    latencies = sorted(ms for learner in learners for ms in learner.latencies_ms)
    row = {
        "database": database,
        "mode": mode,
        "seconds": f"{elapsed:.1f}",
        "learners": args.learners,
        "requests": sum(learner.requests for learner in learners),
        "acked": check["acked"],
        "history": check["history"],
        "unacked": check["unacked"],
        "5xx": sum(
            n for status, n in statuses.items() if isinstance(status, int) and status >= 500
        ),
        "lost": check["lost"],
        "duplicated": check["duplicated"],
        "inconsistent": check["inconsistent"],
        "half-written": check["half_written"],
        "p50 ms": f"{percentile(latencies, 50):.0f}",
        "p95 ms": f"{percentile(latencies, 95):.0f}",
    }
    log = log_path.read_text(errors="replace")
    details = [
        f"{database}/{mode}: statuses "
        + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items(), key=str))
        + f"; logged in {sum(learner.logged_in for learner in learners)}/{len(learners)}"
        + f"; refused answers {check['refused']}; recorded but unacked {check['recorded_unacked']}"
        + f"; learners whose history != acked {check['learners_history_not_acked']}",
        f"  server log: {log.count('Traceback')} tracebacks, "
        + f"{log.count('WORKER TIMEOUT')} worker timeouts",
    ]
    if mode == "kill":
        details.append(
            "  workers killed: "
            + (", ".join(f"pid {pid} at {at} s" for pid, at in killed) or "none")
            + f"; {workers_at_end} of {args.workers} running before shutdown"
        )
    if "Traceback" in log:
        first = log[log.index("Traceback") :].splitlines()[:40]
        details += ["  first traceback:", *(f"    {line}" for line in first)]
    for name, value in check["examples"].items():
        if value:
            details.append(f"  {name}: {value}")
    return row, details


def percentile(values, percent):
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def run_database(database, args):
    """Run every mode on a fresh database; return the rows, their details and the setting."""
    rows, details = [], []
    commit = app_copy.git_commit()
    with tempfile.TemporaryDirectory(prefix="flashcards-load-") as tmp:
        tmp = Path(tmp)
        snapshot = tmp / "app"
        app_copy.copy_tree(snapshot, working_tree=True)
        env = app_copy.app_environment(database, tmp, snapshot, LOAD_DATABASE)
        if database == "postgres":
            app_copy.recreate_postgres_database(LOAD_DATABASE)
        try:
            app_copy.manage(snapshot, env, "migrate", "--noinput")
            app_copy.manage(snapshot, env, "collectstatic", "--noinput")
            app_copy.manage(snapshot, env, "loaddata", SOURCE_FIXTURE)
            usernames = [name for mode in args.modes for name in learner_names(mode, args.learners)]
            app_copy.child_step(
                __file__, snapshot, env, "seed", {"usernames": usernames}, tmp / "seed.json"
            )
            for mode in args.modes:
                row, lines = run_mode(database, mode, args, snapshot, env, tmp)
                rows.append(row)
                details += lines
                print(format_table([row]), *lines, sep="\n", flush=True)
            setting = app_copy.machine(app_copy.database_version(database), commit)
        finally:
            if database == "postgres":
                app_copy.recreate_postgres_database(LOAD_DATABASE, create=False)
    return rows, details, setting


def format_table(rows):
    cells = [list(COLUMNS)] + [[str(row[column]) for column in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS))]
    # Names to the left, figures to the right.
    lines = [
        "  ".join(
            cell.ljust(width) if i < 2 else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    return "\n".join([lines[0], "  ".join("-" * width for width in widths), *lines[1:]])


def write_results(database, args, table, details, setting):
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"load-{database}-{datetime.now(UTC):%Y-%m-%d}.txt"
    command = " ".join(["bench/load.py", *sys.argv[1:]])
    path.write_text(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {command}\n"
        f"{setting}\n"
        f"{args.learners} learners, {args.workers} gunicorn workers, "
        f"{args.seconds:g} s per mode\n\n"
        f"{table}\n\n" + "\n".join(details) + "\n"
    )
    return path


def main(args):
    started = time.monotonic()
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    all_rows = []
    for database in databases:
        rows, details, setting = run_database(database, args)
        all_rows += rows
        path = write_results(database, args, format_table(rows), details, setting)
        print(f"written to {path.relative_to(app_copy.REPO)}", flush=True)
    print()
    print(format_table(all_rows))
    print(f"\ntotal run time {time.monotonic() - started:.0f} s")


# The steps run in a child process whose settings point at the load database.


def seed(job):
    """The generated deck, and learners with one known password and no daily limits."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from flashcards.models import Card, Deck, Profile

    deck = Deck.objects.create(title="Load test deck", slug=LOAD_DECK, published=True)
    Card.objects.bulk_create(
        Card(
            deck=deck,
            front=f"What is load fact {number}?",
            back=f"Load fact {number} is **this**, with `code` and a [link](https://example.com).",
            position=number,
        )
        for number in range(1, GENERATED_CARDS + 1)
    )
    # One hash for all: hashing a password per learner would take most of the setup.
    password = make_password(PASSWORD)
    user_model = get_user_model()
    users = user_model.objects.bulk_create(
        user_model(username=name, password=password) for name in job["usernames"]
    )
    Profile.objects.bulk_create(
        Profile(user=user, new_cards_per_day=9999, reviews_per_day=99999) for user in users
    )
    return {"learners": len(users)}


def verify(job):
    """Compare the history with the clients' answers, and every memory with its history."""
    from flashcards import scheduling
    from flashcards.models import Memory, Review

    usernames = job["usernames"]
    acked, failed, refused = defaultdict(set), defaultdict(set), set()
    for attempt in job["attempts"]:
        key = (attempt["user"], attempt["card"], attempt["number"])
        status = attempt["status"]
        if status is not None and 200 <= status < 300:
            acked[key].add(attempt["rating"])
        elif status is None or status >= 500:
            failed[key].add(attempt["rating"])
        else:
            refused.add(key)
    reviews = list(
        Review.objects.filter(user__username__in=usernames)
        .select_related("user")
        .order_by("user", "card", "number")
    )
    rows = defaultdict(list)
    for review in reviews:
        rows[(review.user.username, review.card_id, review.number)].append(review)

    lost = [
        key
        for key, ratings in acked.items()
        if len(rows.get(key, ())) != 1 or ratings != {rows[key][0].rating}
    ]
    repeated = sum(len(found) - 1 for found in rows.values() if len(found) > 1)
    unexplained = [
        key
        for key, found in rows.items()
        if found[0].rating not in acked.get(key, set()) | failed.get(key, set())
    ]
    unacked = set(failed) - set(acked)
    recorded_unacked = [key for key in unacked if key in rows]
    acked_by_learner = Counter(user for user, _, _ in acked)
    history_by_learner = Counter(user for user, _, _ in rows)

    history = defaultdict(list)
    for review in reviews:
        history[(review.user_id, review.card_id)].append(review)
    memories = {
        (m.user_id, m.card_id): m for m in Memory.objects.filter(user__username__in=usernames)
    }
    inconsistent, half_written = [], []
    for key, memory in memories.items():
        answers = history.get(key, [])
        if [review.number for review in answers] != list(range(1, memory.reps + 1)):
            half_written.append(key)
            continue
        replayed, expected, chain_matches = scheduling.Memory(), Review(), True
        steps = [
            (r.rating, r.reviewed_at, r.study_day, r.state_before == scheduling.NEW)
            for r in answers
        ]
        seed_of = partial(scheduling.fuzz_seed, key[1])
        for review, (before, replayed) in zip(
            answers, scheduling.replay(steps, seed_of=seed_of), strict=True
        ):
            expected.set_memories(before, replayed)
            chain_matches &= all(
                getattr(review, name) == getattr(expected, name) for name in Review.MEMORY_FIELDS
            )
        if not chain_matches or memory.as_scheduling() != replayed:
            inconsistent.append(key)
    half_written += [key for key in history if key not in memories]

    return {
        "acked": len(acked),
        "history": len(reviews),
        "unacked": len(unacked),
        "refused": len(refused),
        "recorded_unacked": len(recorded_unacked),
        "lost": len(lost),
        "duplicated": repeated + len(unexplained),
        "inconsistent": len(inconsistent),
        "half_written": len(half_written),
        "learners_history_not_acked": sum(
            history_by_learner[name] != acked_by_learner[name] for name in usernames
        ),
        "examples": {
            "lost (user, card, number)": lost[:10],
            "unexplained rows": unexplained[:10],
            "inconsistent (user id, card id)": inconsistent[:10],
            "half-written (user id, card id)": half_written[:10],
        },
    }


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.step:
        steps = {"seed": seed, "verify": verify}
        app_copy.run_child_step(steps[arguments.step], arguments.job)
    else:
        main(arguments)
