"""A hostile probe: worst-case inputs against a copy of the app, and what they cost it.

Run from the repository root:

    .venv/bin/python bench/hostile.py [--tree PATH] [--database sqlite|postgres] [--label NAME]
        [--quick] [--scenarios previews,freeze,amplification,leak] [--think 0.5]

The app (this checkout's files, or with --tree those of another folder, e.g. a worktree of an
older commit) is copied to a temporary directory as bench/load.py does, migrated, and seeded
with three users (two learners and a prober) and a curated deck of 200 cards. gunicorn serves
it with DEBUG off; when the copy's settings name django_tasks_db, `manage.py db_worker` runs
beside it. Scenarios, each a few bounded requests:

- previews: each pathological Markdown input POSTed to /markdown/preview/ (2 workers, 120 s
  worker timeout, 130 s client timeout): status, seconds, server CPU seconds and peak RSS growth
  of the workers (from /proc, peaks reset through clear_refs);
- freeze: 4 workers; two learners study (a think time between requests) while four worst-case
  previews run at once and a ~631 KB Anki package of 5,000 notes with 20 answers each is
  imported through /import/, following its pages until the deck is listed (or 300 s): the
  learners' longest and p99 wait, their failed answers, the import's time;
- amplification: small crafted packages uploaded to /import/ (a generated column, a 190 MB
  field, 1M notes, 2M answers): status or message, seconds, CPU and peak RSS of the workers and
  of the job runner, and growth of the database;
- leak: 16 previews of 11 MB, and the workers' RSS before and after.

With --quick, inputs are 1/8 of their size (for code that takes minutes on them). The table is
printed and written with the machine to bench/results/hostile-<database>-<date>-<label>.txt.
Only 127.0.0.1 is contacted, and every process started is stopped at the end, even on Ctrl-C.
"""

import argparse
import contextlib
import html
import io
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import app_copy
import requests
import zstandard
from load import PASSWORD, Learner, percentile, worker_pids

# Appended: in a child step, the copy's flashcards (on PYTHONPATH) comes first.
sys.path.append(str(app_copy.REPO))
from flashcards.anki import write_apkg  # noqa: E402 (pure: no Django in it)

RESULTS = app_copy.REPO / "bench" / "results"
HOSTILE_DATABASE = "flashcards_hostile"
DECK, LEARNERS, PROBER = "freeze-deck", ("learner-1", "learner-2"), "prober"
SCENARIOS = ("previews", "freeze", "amplification", "leak")
CLIENT_TIMEOUT = 130
FREEZE_SECONDS = 300
TICK = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
ERROR = re.compile(
    r'<ul class="error[^"]*"[^>]*>\s*<li>(.*?)</li>|role="alert">(.*?)</(?:div|p)>', re.S
)
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S)
ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')
COLUMNS = ("scenario", "case", "status", "wall s", "CPU s", "peak MB", "notes")


def previews(scale):
    """The pathological Markdown inputs, by name, at `scale` of their full size."""
    n = lambda count: max(1, int(count * scale))  # noqa: E731
    return {
        "<ul><li> x 80k": "<ul><li>" * n(80_000),
        "<div> x 100k": "<div>" * n(100_000),
        "&amp; x 1M": "&amp;" * n(1_000_000),
        "$$x$$ 1 MB": "$$x$$ " * n(1_048_576 // 6),
        "table 20k columns": "|a" * n(20_000) + "|\n" + "|-" * n(20_000) + "|\n",
        "* x 1M": "*" * n(1_000_000),
        "> x 50k": ">" * n(50_000) + " x",
    }


# Anki packages: write_apkg's notes, then the collection edited with SQL.


def edit_package(data, script, level=3):
    """The package with `script` run on its collection, as current Anki packs it (zstd)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        collection = archive.read("collection.anki2")
    connection = sqlite3.connect(":memory:")
    connection.deserialize(collection)
    indexes = connection.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    # The reader needs no index: without them the package holds more rows under 10 MB.
    drops = "".join(f"DROP INDEX {name};" for (name,) in indexes.fetchall())
    connection.executescript(drops + script + ";VACUUM;")
    collection = zstandard.ZstdCompressor(level=level).compress(connection.serialize())
    connection.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("collection.anki21b", collection)
        archive.writestr("media", "{}")
    return buffer.getvalue()


def real_history_package(notes=5_000, answers=20):
    """Notes with 20 answers each, a week apart, as Anki's revlog keeps them."""
    data = write_apkg(
        "Real history",
        [(f"h{n}", f"What is term {n}?", f"Term {n} means *this*.") for n in range(notes)],
    )
    return edit_package(
        data,
        f"""WITH RECURSIVE a(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM a WHERE k < {answers - 1})
        INSERT INTO revlog SELECT 1600000000000 + a.k * 604800000 + c.id % 10000 * 10000
            + a.k * 37, c.id, -1, 1 + (c.id * 7 + a.k) % 11 % 4, a.k, a.k, 2500,
            (c.id + a.k) % 9 * 1000 + 2000, CASE WHEN a.k = 0 THEN 0 ELSE 1 END
        FROM cards c, a""",
        level=19,
    )


def crafted_packages():
    """Small packages that cost the reader a great deal."""
    two = write_apkg("Crafted", [("g1", "front", "back"), ("g2", "front 2", "back 2")])
    return {
        "generated column 100 MB": edit_package(
            two,
            """ALTER TABLE notes RENAME TO old;
            CREATE TABLE notes (id integer PRIMARY KEY, guid text, mid integer, mod integer,
                usn integer, tags text, flds text GENERATED ALWAYS AS
                (printf('%.*c', 100000000, 'x')) VIRTUAL, sfld text, csum integer,
                flags integer, data text);
            INSERT INTO notes (id, guid, mid, mod, usn, tags, sfld, csum, flags, data)
                SELECT id, guid, mid, mod, usn, tags, sfld, csum, flags, data FROM old;
            DROP TABLE old""",
        ),
        "one field of 190 MB": edit_package(
            two, "UPDATE notes SET flds = printf('%.*c', 190000000, 'x') || char(31) || 'b'"
        ),
        "1M notes": edit_package(
            two,
            """WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 1000000)
            INSERT INTO notes SELECT 1700000002000 + k, k, 1700000000000, 0, -1, '',
                k || char(31) || 'a', k, 0, 0, '' FROM n""",
        ),
        "2M answers": edit_package(
            two,
            """WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 2000000)
            INSERT INTO revlog SELECT 1600000000000 + k * 1000, 1700000001001, -1, 1 + k % 4,
                1, 1, 2500, 5000, 1 FROM n""",
        ),
    }


# Processes: their CPU and memory from /proc.


def process_figures(pid):
    """(CPU seconds, RSS MB, peak RSS MB) of a process, or None once it has gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        status = dict(
            line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        )
    except OSError:
        return None
    kilobytes = lambda key: int(status[key].split()[0]) / 1024  # noqa: E731
    return (int(fields[11]) + int(fields[12])) / TICK, kilobytes("VmRSS"), kilobytes("VmHWM")


class Watch:
    """CPU used and RSS peak reached by some processes between start and stop."""

    def __init__(self, pids):
        for pid in pids:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak starts from now
        self.before = {pid: process_figures(pid) for pid in pids}

    def stop(self):
        after = {pid: process_figures(pid) for pid in self.before}
        alive = {pid: figures for pid, figures in after.items() if figures}
        cpu = sum(after[pid][0] - self.before[pid][0] for pid in alive)
        peak = max((after[pid][2] - self.before[pid][1] for pid in alive), default=0)
        return cpu, peak, len(self.before) - len(alive)


def settle(pids, limit=150):
    """Wait until the processes stop using CPU (a request abandoned by its client runs on)."""
    deadline = time.monotonic() + limit
    last = None
    while time.monotonic() < deadline:
        cpu = sum(figures[0] for pid in pids if (figures := process_figures(pid)))
        if last is not None and cpu - last < 0.05:
            return
        last = cpu
        time.sleep(1)


# Clients.


def client():
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: only 127.0.0.1
    return session


def log_in(base_url, username):
    session = client()
    page = session.get(base_url + "/accounts/login/", timeout=30).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    session.post(
        base_url + "/accounts/login/",
        {"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        timeout=30,
    )
    session.headers["X-CSRFToken"] = session.cookies["csrftoken"]
    return session


def timed(call):
    """(status, seconds, response); status is "timeout" or "error" when no response came."""
    started = time.perf_counter()
    try:
        response = call()
        status = response.status_code
    except requests.Timeout:
        response, status = None, "timeout"
    except requests.RequestException:
        response, status = None, "error"
    return status, time.perf_counter() - started, response


def preview(session, text, base_url):
    return timed(
        lambda: session.post(
            base_url + "/markdown/preview/",
            {"front": text, "back": ""},
            headers={"HX-Request": "true"},
            timeout=CLIENT_TIMEOUT,
        )
    )


def import_form(page):
    """The form that goes on with an import (not the header's, not a cancel): (action, fields)."""
    for attributes, body in FORM.findall(page):
        action = dict(ATTRIBUTE.findall(attributes)).get("action", "")
        if "post" not in attributes.lower() or not ("import" in action or action == ""):
            continue
        fields = {}
        for tag in re.findall(r"<input\b[^>]*>", body):
            attrs = dict(ATTRIBUTE.findall(tag))
            if "name" in attrs and (attrs.get("type") != "checkbox" or "checked" in tag):
                fields[attrs["name"]] = attrs.get("value", "")
        buttons = re.findall(r"<button\b([^>]*)>", body)
        if any('name="cancel"' not in button for button in buttons):
            return action, fields
    return None


def import_package(session, base_url, data, title, deadline):
    """Upload, go on through the import's pages, and wait for the deck: (outcome, seconds)."""
    started = time.perf_counter()
    page = session.get(base_url + "/import/", timeout=30)
    _, fields = import_form(page.text)
    fields.update(deck="", title=title, include_history="on")
    status, _, response = timed(
        lambda: session.post(
            base_url + "/import/",
            fields,
            files={"file": ("hostile.apkg", data)},
            timeout=CLIENT_TIMEOUT,
        )
    )
    submitted = set()
    while response is not None and time.monotonic() < deadline:
        # A refusal: an error status, or the import's own page saying why (background jobs).
        message = ERROR.search(response.text)
        if status >= 400 or message:
            text = message and (message[1] or message[2]) or ""
            outcome = re.sub(r"<[^>]+>|\s+", " ", html.unescape(text)).strip()
            return f"{status} {outcome}"[:120], time.perf_counter() - started
        if title in session.get(base_url + "/", timeout=30).text:
            return "imported", time.perf_counter() - started
        form = import_form(response.text)
        url = response.url
        if form and (url, form[0]) not in submitted:
            submitted.add((url, form[0]))
            target = requests.compat.urljoin(url, form[0]) if form[0] else url
            status, _, response = timed(
                lambda: session.post(target, form[1], timeout=CLIENT_TIMEOUT)  # noqa: B023
            )
        else:
            time.sleep(0.5)
            status, _, response = timed(lambda: session.get(url, timeout=CLIENT_TIMEOUT))  # noqa: B023
    return f"not imported ({status})", time.perf_counter() - started


class StopStudy(Exception):
    pass


class TimedLearner(Learner):
    """load.py's learner, pausing before each request and timing every one."""

    def __init__(self, base_url, username, think, stop):
        super().__init__(base_url, username, "plain", [DECK], random.Random(username))
        self.think, self.stop, self.waits = think, stop, []

    def request(self, path, data=None, **options):
        if self.stop.wait(self.think):
            raise StopStudy
        started = time.perf_counter()
        result = super().request(path, data, **options)
        self.waits.append(time.perf_counter() - started)
        return result

    def run(self, deadline):
        self.log_in(deadline)
        with contextlib.suppress(StopStudy):
            self.study(deadline)


# The copy of the app and its servers.


class App:
    """A copy of a tree, migrated and seeded, and the servers started on it."""

    def __init__(self, args, tmp):
        self.args, self.tmp, self.processes, self.log_seen = args, tmp, [], 0
        self.snapshot = tmp / "app"

    def prepare(self):
        args, tmp = self.args, self.tmp
        if args.tree:
            shutil.copytree(args.tree, self.snapshot, ignore=app_copy.SNAPSHOT_IGNORE)
        else:
            app_copy.copy_tree(self.snapshot, working_tree=True)
        self.env = app_copy.app_environment(args.database, tmp, self.snapshot, HOSTILE_DATABASE)
        if args.database == "postgres":
            app_copy.recreate_postgres_database(HOSTILE_DATABASE)
        app_copy.manage(self.snapshot, self.env, "migrate", "--noinput")
        app_copy.manage(self.snapshot, self.env, "collectstatic", "--noinput")
        app_copy.child_step(__file__, self.snapshot, self.env, "seed", {}, tmp / "seed.json")
        settings = (self.snapshot / "flashcards" / "settings.py").read_text()
        self.has_jobs = "django_tasks_db" in settings

    def start(self, workers):
        """gunicorn (and the job runner); return the base URL and the pids to watch."""
        log = self.tmp / "server.log"
        server, port = app_copy.serve(self.snapshot, self.env, workers, log, "--timeout", "120")
        self.processes.append(server)
        self.master, base_url = server.pid, f"http://127.0.0.1:{port}"
        probe = client()
        for _ in range(150):
            if timed(lambda: probe.get(base_url + "/accounts/login/", timeout=2))[0] == 200:
                break
            time.sleep(0.2)
        if self.has_jobs:
            with log.open("ab") as output:
                self.processes.append(
                    subprocess.Popen(
                        [app_copy.PYTHON, "manage.py", "db_worker"],
                        cwd=self.snapshot,
                        env=self.env,
                        stdout=output,
                        stderr=subprocess.STDOUT,
                    )
                )
        return base_url

    def errors(self):
        """The server's exceptions since the last call, each once."""
        log = (self.tmp / "server.log").read_text(errors="replace")
        new, self.log_seen = log[self.log_seen :], len(log)
        found = list(dict.fromkeys(re.findall(r"^[\w.]+(?:Error|Exception)\b.{0,80}", new, re.M)))
        if timeouts := new.count("WORKER TIMEOUT"):
            found.append(f"{timeouts} worker timeout(s)")
        return "; ".join(found)

    def pids(self):
        return worker_pids(self.master) + [p.pid for p in self.processes[1:]]

    def stop(self):
        while self.processes:
            app_copy.stop_server(self.processes.pop())

    def database_mb(self):
        if self.args.database == "postgres":
            with app_copy.postgres_server() as server:
                query = f"SELECT pg_database_size('{HOSTILE_DATABASE}')"
                return server.execute(query).fetchone()[0] / MB
        var = self.tmp / "var"
        return sum(path.stat().st_size for path in var.glob("db.sqlite3*")) / MB


def row(scenario, case, status, seconds, watch=None, notes=""):
    cpu, peak, killed = watch.stop() if watch else ("", "", 0)
    if killed:
        notes = f"{killed} process(es) killed; {notes}"
    figures = [f"{value:.1f}" if isinstance(value, float) else str(value) for value in (cpu, peak)]
    seconds = f"{seconds:.2f}" if isinstance(seconds, float) else seconds
    line = dict(zip(COLUMNS, (scenario, case, str(status), seconds, *figures, notes), strict=True))
    print(format_table([line]).splitlines()[-1], flush=True)
    return line


def run_previews(app, scale):
    base_url = app.start(workers=2)
    session, rows = log_in(base_url, PROBER), []
    for name, text in previews(scale).items():
        settle(app.pids())
        watch = Watch(app.pids())
        status, seconds, _ = preview(session, text, base_url)
        settle(app.pids())
        notes = f"{len(text) / 1024:.0f} KB {app.errors()}"
        rows.append(row("previews", name, status, seconds, watch, notes))
    app.stop()
    return rows


def run_freeze(app, scale, think):
    package, inputs = real_history_package(), list(previews(scale).values())
    base_url = app.start(workers=4)
    probers = [log_in(base_url, PROBER) for _ in range(5)]
    started = time.monotonic()
    deadline, stop = started + FREEZE_SECONDS, threading.Event()
    learners = [TimedLearner(base_url, name, think, stop) for name in LEARNERS]
    threads = [threading.Thread(target=learner.run, args=(deadline,)) for learner in learners]
    for thread in threads:
        thread.daemon = True  # Ctrl-C ends them with the run
        thread.start()
    time.sleep(3)  # the learners settle into their loop first
    texts = inputs[:2] + inputs[4:6]  # the lists, the divs, the table, the stars
    with ThreadPoolExecutor(5) as pool:
        statuses = pool.map(
            lambda pair: preview(*pair, base_url)[0], zip(probers, texts, strict=False)
        )
        imported = pool.submit(import_package, probers[4], base_url, package, "Real", deadline)
        outcome, import_seconds = imported.result()
        statuses = list(statuses)
    stop.set()
    for thread in threads:
        thread.join(CLIENT_TIMEOUT)
    waits = sorted(wait for learner in learners for wait in learner.waits)
    failed = sum(
        attempt["status"] is None or attempt["status"] >= 400
        for learner in learners
        for attempt in learner.attempts
    )
    answers = sum(len(learner.attempts) for learner in learners)
    app.stop()
    notes = (
        f"learners: {len(waits)} requests, max wait {max(waits, default=0):.2f} s, "
        f"p99 {percentile(waits, 99):.2f} s, {failed} of {answers} answers failed; "
        f"import of {len(package) / 1024:.0f} KB {outcome} in {import_seconds:.1f} s; "
        f"previews {', '.join(map(str, statuses))}; {app.errors()}"
    )
    seconds = time.monotonic() - started
    return [row("freeze", "2 learners, 4 previews, import", outcome, seconds, notes=notes)]


def run_amplification(app):
    base_url = app.start(workers=2)
    session, rows = log_in(base_url, PROBER), []
    for number, (name, data) in enumerate(crafted_packages().items()):
        settle(app.pids())
        size, watch = app.database_mb(), Watch(app.pids())
        deadline = time.monotonic() + CLIENT_TIMEOUT
        outcome, seconds = import_package(session, base_url, data, f"Crafted {number}", deadline)
        settle(app.pids())
        grown = f"{len(data) / 1024:.0f} KB package, database +{app.database_mb() - size:.1f} MB"
        grown += f" {app.errors()}"
        rows.append(row("amplification", name, outcome, seconds, watch, grown))
    app.stop()
    return rows


def run_leak(app):
    base_url = app.start(workers=2)
    session, text = log_in(base_url, PROBER), "lorem ipsum " * (11 * MB // 12)
    pids = app.pids()
    before = sum(figures[1] for pid in pids if (figures := process_figures(pid)))
    watch, started, statuses = Watch(pids), time.perf_counter(), set()
    for _ in range(16):
        statuses.add(preview(session, text, base_url)[0])
    after = sum(figures[1] for pid in pids if (figures := process_figures(pid)))
    notes = f"workers' RSS {before:.0f} -> {after:.0f} MB"
    seconds, statuses = time.perf_counter() - started, "/".join(map(str, statuses))
    line = row("leak", "16 previews of 11 MB", statuses, seconds, watch, notes)
    app.stop()
    return [line]


def format_table(rows):
    cells = [list(COLUMNS)] + [[row[column] for column in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(COLUMNS) - 1)] + [0]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in cells
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(args):
    rows = []
    with tempfile.TemporaryDirectory(prefix="flashcards-hostile-") as tmp:
        app = App(args, Path(tmp))
        scale = 1 / 8 if args.quick else 1
        try:
            app.prepare()
            for scenario in args.scenarios:
                if scenario == "previews":
                    rows += run_previews(app, scale)
                elif scenario == "freeze":
                    rows += run_freeze(app, scale, args.think)
                elif scenario == "amplification":
                    rows += run_amplification(app)
                else:
                    rows += run_leak(app)
        finally:
            app.stop()
            if args.database == "postgres":
                app_copy.recreate_postgres_database(HOSTILE_DATABASE, create=False)
    tree = args.tree or app_copy.REPO
    commit = subprocess.run(
        ["git", "-C", str(tree), "describe", "--always", "--dirty"], capture_output=True, text=True
    ).stdout.strip()
    setting = app_copy.machine(app_copy.database_version(args.database), commit)
    table = format_table(rows)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"hostile-{args.database}-{datetime.now(UTC):%Y-%m-%d}-{args.label}.txt"
    command = " ".join(["bench/hostile.py", *sys.argv[1:]])
    path.write_text(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  {command}\n{setting}\n\n{table}\n")
    print(f"\n{table}\n\nwritten to {path.relative_to(app_copy.REPO)}")


def seed(job):
    """Two learners and a prober with no daily limits, and a curated deck of 200 cards."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from flashcards.models import Card, Deck, Profile

    deck = Deck.objects.create(title="Freeze deck", slug=DECK, published=True)
    for number in range(1, 201):
        Card.objects.create(
            deck=deck, front=f"What is fact {number}?", back=f"Fact {number} is **this**."
        )
    password = make_password(PASSWORD)
    for name in (*LEARNERS, PROBER):
        user = get_user_model().objects.create(username=name, password=password)
        Profile.objects.update_or_create(
            user=user, defaults={"new_cards_per_day": 9999, "reviews_per_day": 99999}
        )
    return {}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tree", type=Path, help="copy the app from this folder")
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--label", default="run", help="ends the results file's name")
    parser.add_argument("--quick", action="store_true", help="inputs at 1/8 of their size")
    parser.add_argument("--think", type=float, default=0.5, help="learners' pause, seconds")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        type=lambda text: [name for name in text.split(",") if name],
        help="comma-separated, from " + ",".join(SCENARIOS),
    )
    parser.add_argument("--step", choices=["seed"], help=argparse.SUPPRESS)
    parser.add_argument("--job", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.step:
        app_copy.run_child_step(seed, arguments.job)
    else:
        main(arguments)
