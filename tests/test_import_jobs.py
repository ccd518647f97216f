"""Imports as background jobs: read once, previewed, written in short chunks, all or nothing."""

from datetime import timedelta

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flashcards import import_jobs, imports, scheduling
from flashcards.models import Card, Deck, Memory, PendingImport, Review
from tests.conftest import make_deck, make_user, run_worker

IMPORT_URL = reverse("flashcards:import_upload")
HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def csv_bytes(count, start=1):
    return "".join(f"Front {n},Back {n}\n" for n in range(start, start + count)).encode()


def upload(client, name, data, *, deck="", include_history=True):
    fields = {"file": SimpleUploadedFile(name, data), "deck": deck, "title": ""}
    if include_history:
        fields["include_history"] = "on"
    return client.post(IMPORT_URL, fields)


def visible_rows(user):
    """What a learner sees of their decks and progress."""
    decks = Deck.objects.listed_for(user)
    return {
        "decks": list(decks.values_list("title", flat=True)),
        "cards": Card.objects.filter(deck__in=decks).count(),
        "reviews": Review.objects.filter(user=user).count(),
        "memories": Memory.objects.filter(user=user).count(),
    }


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(import_jobs, "CHUNK_ROWS", 4)
    monkeypatch.setattr(import_jobs, "CHUNK_PAUSE", 0)


def history_file():
    """An Anki package as read: 6 notes, each answered 3 times."""
    start = timezone.now() - timedelta(days=30)
    answers = [(start + timedelta(days=day), scheduling.GOOD, 3000) for day in (0, 2, 9)]
    cards = [
        imports.ImportedCard(f"Question {n}", f"Answer {n}", "", list(answers)) for n in range(1, 7)
    ]
    return imports.ParsedFile("apkg", "History", cards)


def test_an_upload_is_read_by_a_job_and_its_page_says_so_until_then(learner):
    client = logged_in(learner)
    response = upload(client, "deck.csv", csv_bytes(3))
    pending = PendingImport.objects.get()
    assert response["Location"] == reverse("flashcards:import_preview", args=[pending.pk])

    page = client.get(response["Location"])
    assert pending.status == "reading"
    assert "Reading deck.csv" in page.text
    assert 'hx-trigger="every 1s"' in page.text
    assert f'<a href="{response["Location"]}">Refresh</a>' in page.text

    run_worker()

    fragment = client.get(response["Location"], **HTMX)
    assert "Preview: deck.csv" in fragment.text
    assert "<html" not in fragment.text
    assert "every 1s" not in fragment.text
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]


def test_the_preview_is_read_once_and_never_again_on_get(learner, monkeypatch):
    calls = []
    original = imports.parse_file

    def counting(*args, **kwargs):
        calls.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(imports, "parse_file", counting)
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(12))["Location"]
    run_worker()
    for _ in range(3):
        page = client.get(url)
        client.get(url, **HTMX)

    assert calls == ["deck.csv"]
    assert "12 cards" in page.text
    assert page.text.count("<tr><td>") == import_jobs.PREVIEW_ROWS
    assert "<strong>12</strong> new" in page.text


def test_a_confirmed_import_is_written_by_a_job_then_leads_to_the_deck(learner, small_chunks):
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(10))["Location"]
    run_worker()

    confirmed = client.post(url, {"title": "Numbers"})
    assert confirmed["Location"] == url
    writing = client.get(url)
    assert "Importing deck.csv" in writing.text
    assert visible_rows(learner)["decks"] == []

    run_worker()

    pending = PendingImport.objects.get()
    assert (pending.status, pending.written, pending.to_write) == ("done", 10, 10)
    assert bytes(pending.data) == b""
    deck = Deck.objects.get(title="Numbers")
    assert deck.owner == learner and not deck.hidden
    fragment = client.get(url, **HTMX)
    assert fragment["HX-Redirect"] == reverse("flashcards:deck_detail", args=[deck.slug])
    page = client.get(url, follow=True)
    assert "Imported 10 new and 0 updated cards." in page.text
    assert list(deck.cards.values_list("front", flat=True)) == [f"Front {n}" for n in range(1, 11)]


def test_the_progress_of_the_writing_is_kept_in_the_database_and_shown(learner):
    pending = PendingImport.objects.create(
        user=learner, filename="deck.csv", status="writing", written=400, to_write=1000
    )
    url = reverse("flashcards:import_preview", args=[pending.pk])

    fragment = logged_in(learner).get(url, **HTMX)

    assert '<progress aria-label="Import written" max="1000" value="400">' in fragment.text
    assert "400 of 1000 cards and answers written" in fragment.text
    assert 'hx-trigger="every 1s"' in fragment.text


def test_a_refused_file_shows_its_message_on_its_page_and_keeps_no_bytes(learner):
    client = logged_in(learner)
    url = upload(client, "deck.csv", b"front,back\nonly a front\n")["Location"]
    run_worker()

    page = client.get(url)

    pending = PendingImport.objects.get()
    assert pending.status == "refused" and bytes(pending.data) == b""
    assert "Line 2: expected a front and a back" in page.text
    assert "every 1s" not in page.text
    assert client.post(url, {"cancel": "1"})["Location"] == reverse("flashcards:deck_list")
    assert not PendingImport.objects.exists()


def test_an_import_cannot_be_cancelled_once_it_is_being_written(learner):
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(2))["Location"]
    run_worker()
    client.post(url)

    client.post(url, {"cancel": "1"})

    assert PendingImport.objects.get().status == "writing"
    run_worker()
    assert Deck.objects.filter(owner=learner, hidden=False).count() == 1


def test_a_double_confirmation_writes_the_import_once(learner):
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(2))["Location"]
    run_worker()

    client.post(url)
    client.post(url)
    run_worker()

    assert Deck.objects.filter(owner=learner).count() == 1


def test_each_chunk_is_its_own_short_transaction(learner, small_chunks, monkeypatch):
    atomics = []
    original = transaction.atomic

    def counting(*args, **kwargs):
        atomics.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(import_jobs.transaction, "atomic", counting)
    parsed = imports.parse_file("deck.csv", csv_bytes(10))

    deck, _ = import_jobs.apply_import(parsed, owner=learner)

    # Ten cards in chunks of four: three inserts, each in its own transaction.
    assert len(atomics) == 3
    assert deck.cards.count() == 10


def test_a_history_import_stays_invisible_until_its_last_step(learner, small_chunks):
    parsed = history_file()
    seen = []

    def progress(done, total):
        seen.append((done, total, visible_rows(learner)))

    deck, plan = import_jobs.apply_import(
        parsed, owner=learner, history_user=learner, progress=progress
    )

    # 6 cards, 18 answers and 6 memories staged, then 24 rows handed over to the learner.
    assert [done for done, _, _ in seen][-1] == seen[-1][1] == 6 + 2 * 24
    staged = [rows for done, _, rows in seen if done <= 6 + 24]
    assert all(rows == {"decks": [], "cards": 0, "reviews": 0, "memories": 0} for rows in staged)
    assert visible_rows(learner) == {
        "decks": ["History"],
        "cards": 6,
        "reviews": 18,
        "memories": 6,
    }
    assert plan.answers == 18
    assert not Deck.objects.filter(hidden=True).exists()
    assert not type(learner).objects.filter(username__startswith="(import").exists()


@pytest.mark.parametrize("failing_model", [Card, Review, Memory])
def test_a_failure_half_way_leaves_nothing_visible_and_removes_what_was_staged(
    learner, small_chunks, monkeypatch, failing_model
):
    existing = make_deck("Mine", cards=2, owner=learner)
    parsed = history_file()
    calls = []
    original = failing_model.objects.bulk_create

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(failing_model.objects, "bulk_create", failing)
    before = visible_rows(learner)
    decks_before = list(Deck.objects.values_list("pk", flat=True))

    for deck in (None, existing):
        with pytest.raises(RuntimeError, match="went away"):
            import_jobs.apply_import(parsed, deck=deck, owner=learner, history_user=learner)
        calls.clear()

    assert visible_rows(learner) == before
    assert list(Deck.objects.values_list("pk", flat=True)) == decks_before
    assert Card.objects.count() == 2 and Review.objects.count() == 0
    assert not type(learner).objects.filter(username__startswith="(import").exists()


def test_a_failed_write_job_says_so_and_keeps_no_bytes(learner, monkeypatch):
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(3))["Location"]
    run_worker()
    client.post(url)

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(import_jobs, "apply_import", failing)
    import_jobs.writing_given_up(PendingImport.objects.get().pk, RuntimeError("gave up"))
    page = client.get(url)

    assert "The import failed and nothing was changed" in page.text
    assert bytes(PendingImport.objects.get().data) == b""
    assert Deck.objects.filter(owner=learner).count() == 0


def test_a_card_answered_while_its_history_was_staged_keeps_the_learners_own(learner, monkeypatch):
    deck = make_deck("History", cards=0, owner=learner)
    parsed = history_file()
    Card.objects.bulk_create(
        Card(deck=deck, front=card.front, back=card.back, position=n)
        for n, card in enumerate(parsed.cards, start=1)
    )
    first = deck.cards.get(position=1)
    original = import_jobs._hand_over_history

    def answer_first_then_hand_over(stand_in, user, card_ids):
        if not Memory.objects.filter(user=user).exists():
            memory = Memory(user=user, card=first, deck=deck)
            memory.set_from(
                scheduling.review(scheduling.Memory(), 3, timezone.now(), elapsed_days=None, seed=1)
            )
            memory.save()
        original(stand_in, user, card_ids)

    monkeypatch.setattr(import_jobs, "_hand_over_history", answer_first_then_hand_over)

    import_jobs.apply_import(parsed, deck=deck, history_user=learner)

    assert Memory.objects.get(user=learner, card=first).reps == 1
    assert Review.objects.filter(user=learner, card=first).count() == 0
    assert Review.objects.filter(user=learner).count() == 15


def test_a_fourth_waiting_upload_is_refused_saying_what_to_do(learner):
    client = logged_in(learner)
    for n in range(3):
        upload(client, f"deck{n}.csv", csv_bytes(2))

    refused = upload(client, "deck3.csv", csv_bytes(2))

    assert refused.status_code == 400
    assert "You already have 3 imports waiting. Import or cancel one of them" in refused.text
    assert 'href="/import/' in refused.text
    assert PendingImport.objects.count() == 3
    other = make_user()
    assert upload(logged_in(other), "deck.csv", csv_bytes(2)).status_code == 302


def test_uploads_over_the_waiting_bytes_are_refused(learner, monkeypatch):
    monkeypatch.setattr(import_jobs, "MAX_WAITING_BYTES", 100)
    client = logged_in(learner)
    upload(client, "deck.csv", csv_bytes(4))

    refused = upload(client, "more.csv", csv_bytes(4))

    assert refused.status_code == 400
    assert "over the 0 MB that may wait at once" in refused.text
    assert PendingImport.objects.count() == 1


def test_a_written_or_refused_import_no_longer_counts_against_the_quota(learner):
    client = logged_in(learner)
    for n in range(3):
        upload(client, f"bad{n}.csv", b"only a front\n")
    run_worker()

    assert upload(client, "good.csv", csv_bytes(2)).status_code == 302


def test_imports_untouched_for_a_day_expire_when_the_worker_reads_the_next_upload(learner):
    client = logged_in(learner)
    with time_machine.travel(timezone.now() - timedelta(hours=25), tick=False):
        upload(client, "old.csv", csv_bytes(2))
        stale = Deck.objects.create(title="Interrupted", owner=learner, hidden=True)
        Card.objects.create(deck=stale, front="f", back="b")
    run_worker()  # the old upload's own job
    PendingImport.objects.update(updated_at=timezone.now() - timedelta(hours=25))
    upload(client, "new.csv", csv_bytes(2))

    run_worker()

    assert list(PendingImport.objects.values_list("filename", flat=True)) == ["new.csv"]
    assert not Deck.objects.filter(pk=stale.pk).exists()


def test_a_hidden_deck_is_listed_for_nobody_and_opens_for_nobody(learner):
    hidden = Deck.objects.create(title="Being imported", owner=learner, hidden=True)
    superuser = make_user(is_staff=True, is_superuser=True)

    for user in (learner, superuser):
        assert hidden not in Deck.objects.listed_for(user)
        assert hidden not in Deck.objects.visible_to(user)
        assert not hidden.visible_to(user)
        response = logged_in(user).get(reverse("flashcards:deck_detail", args=[hidden.slug]))
        assert response.status_code == 404


def test_the_preview_reads_no_file_and_runs_a_fixed_number_of_queries(learner):
    client = logged_in(learner)
    url = upload(client, "deck.csv", csv_bytes(50))["Location"]
    run_worker()

    with CaptureQueriesContext(connection) as queries:
        client.get(url, **HTMX)

    assert not [q for q in queries.captured_queries if "flashcards_card" in q["sql"]]
