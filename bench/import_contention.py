"""Imports beside learners on SQLite: how long two learners answering cards in a loop wait while
a large import is written, how many answers fail, and how long each write transaction holds
the lock.

    .venv/bin/python bench/import_contention.py [--repo PATH] [--kind apkg|csv]

--repo runs another checkout of the app (e.g. a worktree of an older commit) with this script.
The import is a 5,000-note Anki package with 20 answers per note (about 630 KB), or a CSV of
200,000 rows, written as the app writes a confirmed import: by the write job when there is one,
else by apply_import in one transaction as the old confirmation view did.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve()
LEARNERS = ("learner1", "learner2")


def setup_django(repo, var_dir):
    sys.path.insert(0, str(repo))
    os.environ.update(DJANGO_SETTINGS_MODULE="flashcards.settings", DEBUG="1", VAR_DIR=str(var_dir))
    os.chdir(repo)
    import django

    django.setup()


def anki_package(folder, notes=5000, answers=20):
    """An Anki package made by Anki itself, with `answers` answers on each note."""
    from anki.collection import Collection, ExportAnkiPackageOptions

    collection = Collection(str(folder / "collection.anki2"))
    basic = collection.models.by_name("Basic")
    deck_id = collection.decks.id("Big history")
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for n in range(notes):
        note = collection.new_note(basic)
        note["Front"], note["Back"] = f"Question {n}", f"Answer {n}"
        collection.add_note(note, deck_id)
        card_id = collection.card_ids_of_note(note.id)[0]
        for k in range(answers):
            at = start + timedelta(days=k * 15, seconds=n)
            rows.append((int(at.timestamp() * 1000), card_id, 3 if k % 7 else 1, 4000, 1))
    collection.db.executemany(
        "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
        " VALUES (?, ?, -1, ?, 1, 0, 2500, ?, ?)",
        rows,
    )
    path = folder / "big.apkg"
    collection.export_anki_package(
        out_path=str(path),
        options=ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=False, with_media=False, legacy=False
        ),
        limit=None,
    )
    collection.close()
    return path.name, path.read_bytes()


def csv_file(rows=200_000):
    return "deck.csv", "".join(f"Front {n},Back {n}\n" for n in range(rows)).encode()


def answer_loop(stop_file):
    """A learner answering new cards as fast as the server lets them, until told to stop."""
    from django.contrib.auth import get_user_model
    from django.db import OperationalError
    from django.utils import timezone

    from flashcards import answering, scheduling
    from flashcards.models import Card, profile_for

    user = get_user_model().objects.get(username=os.environ["LEARNER"])
    profile = profile_for(user)
    waits, failures = [], 0
    cards = iter(Card.objects.filter(deck__title="Study deck").select_related("deck"))
    while not Path(stop_file).exists():
        card = next(cards)
        started = time.perf_counter()
        try:
            answering.answer_card(
                user,
                card.deck.slug,
                card.pk,
                scheduling.GOOD,
                expected_reps=0,
                now=timezone.now(),
                duration_ms=3000,
                profile=profile,
            )
        except OperationalError as error:
            failures += 1
            if failures == 1:
                print(f"{user}: {error}", file=sys.stderr)
        waits.append((time.time(), time.perf_counter() - started))
        time.sleep(0.02)
    print(json.dumps({"answers": len(waits), "failures": failures, "waits": waits}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repo", type=Path, default=HERE.parent.parent)
    parser.add_argument("--kind", choices=["apkg", "csv"], default="apkg")
    parser.add_argument("--answer", metavar="STOP_FILE")
    parser.add_argument("--var-dir", type=Path)
    options = parser.parse_args()
    if options.answer:
        setup_django(options.repo.resolve(), options.var_dir)
        answer_loop(options.answer)
        return

    tmp = Path(tempfile.mkdtemp(prefix="import-contention-"))
    setup_django(options.repo.resolve(), tmp)
    from django.core.management import call_command
    from django.db import transaction

    from flashcards import imports
    from flashcards.models import Deck, PendingImport, profile_for
    from tests.conftest import make_deck, make_user

    try:
        from flashcards import import_jobs
    except ImportError:  # before imports were split by concept
        import_jobs = imports

    call_command("migrate", verbosity=0)
    importer = make_user("importer")
    for name in LEARNERS:
        profile = profile_for(make_user(name))
        profile.new_cards_per_day = 100_000
        profile.save()
    make_deck("Study deck", cards=20_000)
    filename, data = anki_package(tmp) if options.kind == "apkg" else csv_file()
    print(f"{options.repo.name}: {filename}, {len(data) / 1024:.0f} KB")

    chunk_times = []
    jobs = hasattr(import_jobs, "write_upload")
    if jobs:
        original_atomic = import_jobs.transaction.atomic

        class timed_atomic:
            def __init__(self, *args, **kwargs):
                self.inner = original_atomic(*args, **kwargs)

            def __enter__(self):
                self.started = time.perf_counter()
                return self.inner.__enter__()

            def __exit__(self, *exc):
                result = self.inner.__exit__(*exc)
                chunk_times.append(time.perf_counter() - self.started)
                return result

        # Only the import's own transactions: Django's nested ones inside them are not chunks.
        import_jobs.transaction = SimpleNamespace(atomic=timed_atomic)

    stop = tmp / "stop"
    env = {**os.environ, "LEARNER": ""}
    children = [
        subprocess.Popen(
            [sys.executable, str(HERE), "--repo", str(options.repo), "--var-dir", str(tmp)]
            + ["--answer", str(stop)],
            env={**env, "LEARNER": name},
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in LEARNERS
    ]
    time.sleep(3)  # the learners get going
    started, import_started = time.perf_counter(), time.time()
    if jobs:
        pending = PendingImport.objects.create(
            user=importer, filename=filename, data=data, size=len(data)
        )
        import_jobs.read_upload.call(pending.pk)
        read = time.perf_counter() - started
        PendingImport.objects.filter(pk=pending.pk).update(status="writing", title="Imported")
        import_jobs.write_upload.call(pending.pk)
        pending.refresh_from_db()
        assert pending.status == "done", pending.message
    else:
        parsed = imports.parse_file(filename, data)
        read = time.perf_counter() - started
        with transaction.atomic():
            import_jobs.apply_import(
                parsed, owner=importer, title="Imported", history_user=importer
            )
    total = time.perf_counter() - started
    time.sleep(2)
    stop.touch()
    results = [json.loads(child.communicate()[0]) for child in children]
    waits = [wait for result in results for _, wait in result["waits"]]
    slowest = sorted(
        ((wait, at - import_started) for result in results for at, wait in result["waits"]),
        reverse=True,
    )[:5]
    print(
        "slowest answers (s, s after the import started):",
        [(round(wait, 2), round(at, 1)) for wait, at in slowest],
    )
    deck = Deck.objects.get(title="Imported")
    print(
        f"import: {total:.1f} s in all ({read:.1f} s reading), {deck.cards.count()} cards, "
        f"{deck.cards.filter(reviews__isnull=False).distinct().count()} with history"
    )
    print(
        f"learners: {len(waits)} answers, {sum(r['failures'] for r in results)} failed; "
        f"longest wait {max(waits):.2f} s, median {statistics.median(waits) * 1000:.0f} ms, "
        f"waits over 1 s: {sum(wait > 1 for wait in waits)}"
    )
    if chunk_times:
        slow = [(n, round(t * 1000)) for n, t in enumerate(chunk_times) if t > 0.2]
        print(f"transactions over 200 ms (index, ms): {slow[:20]}")
        chunk_times.sort()
        median = statistics.median(chunk_times) * 1000
        print(
            f"write transactions: {len(chunk_times)}, median {median:.0f} ms, 99th percentile "
            f"{chunk_times[int(len(chunk_times) * 0.99)] * 1000:.0f} ms, "
            f"longest {chunk_times[-1] * 1000:.0f} ms"
        )


if __name__ == "__main__":
    main()
