"""Importing decks from files and exporting them: every bad file is refused whole with a message
naming the line or the problem, every format round-trips, a re-import updates cards in place and
an Anki package's answers become the learner's history."""

import csv
import io
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from django_tasks_db.models import DBTaskResult

from flashcards import anki, exports, import_jobs, imports, scheduling
from flashcards.models import (
    Card,
    Deck,
    Memory,
    PendingImport,
    Review,
    profile_for,
)
from flashcards.queue import study_queue
from flashcards.rendering import render_markdown
from tests import conftest
from tests.conftest import make_deck, make_user, run_worker

IMPORT_URL = reverse("flashcards:import_upload")
MONDAY = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
# Cards whose text trips up CSV quoting, the source format's layout and Anki's HTML fields.
TRICKY_CARDS = [
    ('Commas, "quotes" and semicolons; all here', "She said \"yes, 'maybe'\"; then left.", "q"),
    ("Café — naïve 日本語 😀", "Ünïcödé back: Δx → ∞, and “curly quotes”.", "unicode text"),
    ("A list of things", '- first, with a comma\n- second "quoted"\n- third', ""),
    ("Numbered steps", "1. open the lid\n2. close it again", ""),
    ("Two paragraphs", "First paragraph, short.\n\nSecond paragraph; after a blank line.", ""),
    ("x < y & z", "Tom's answer: x < y & z > w", ""),
    ("Escaped star", "a \\* b is not *emphasis*", ""),
    ("Costs $5 and $6", "**Bold**, *italic* and `code, with a comma`", "markdown"),
]


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def database_rows():
    """Every row an import could write, to compare before and after."""
    return {
        model.__name__: [
            {key: bytes(value) if key == "data" else value for key, value in row.items()}
            for row in model.objects.order_by("pk").values()
        ]
        for model in (Deck, Card, Memory, Review, PendingImport)
    }


def upload(client, name, data, *, deck="", title="", include_history=True):
    """Upload a file and let the worker read it."""
    fields = {"file": SimpleUploadedFile(name, data), "deck": deck, "title": title}
    if include_history:
        fields["include_history"] = "on"
    response = client.post(IMPORT_URL, fields)
    run_worker()
    return response


def confirm(client, url, data=None, **kwargs):
    """Confirm an import, let the worker write it, and open its page: the deck once written."""
    client.post(url, data or {})
    run_worker()
    return client.get(url, **kwargs)


def preview_url(pending):
    return reverse("flashcards:import_preview", args=[pending.pk])


def export_url(deck, fmt):
    return reverse("flashcards:deck_export", args=[deck.slug, fmt])


def csv_bytes(rows):
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def make_zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def answer(user, card, rating, now):
    return conftest.answer(user, card, rating, now, duration_ms=5000).review


def fronts_and_backs(deck):
    return list(deck.cards.order_by("position", "id").values_list("front", "back"))


@pytest.fixture
def private_deck(learner):
    return make_deck("Mine", cards=3, owner=learner)


@pytest.fixture
def studied_deck(learner, private_deck):
    """The learner's own deck with history on its first card and an import already waiting."""
    first = private_deck.cards.order_by("position").first()
    answer(learner, first, scheduling.GOOD, MONDAY)
    answer(learner, first, scheduling.GOOD, MONDAY + timedelta(minutes=10))
    PendingImport.objects.create(
        user=learner, deck=private_deck, filename="waiting.csv", data=b"Front 1,New back\n"
    )
    return private_deck


@pytest.fixture
def staff(db):
    return make_user(is_staff=True)


# The bad-file table: each file is refused whole, with the same message on every path.


def _collection():
    package = anki.write_apkg("Deck", [("g1", "Neural Networks", "Layers of neurons")])
    return zipfile.ZipFile(io.BytesIO(package)).read("collection.anki2")


def _truncated_package():
    package = anki.write_apkg("Deck", [("g1", "Neural Networks", "Layers of neurons")])
    return package[: len(package) // 2]


BAD_FILES = [
    pytest.param(
        "deck.txt",
        lambda: "Deep Learning\n\nCafé\nA coffee house.\n".encode("latin-1"),
        "Line 3: the file is not UTF-8 text (byte 0xe9 cannot be read). Save it as UTF-8 and "
        "upload it again.",
        id="latin-1 source document",
    ),
    pytest.param(
        "deck.csv",
        lambda: "front,back\nNeural Networks,Layers\nCafé,A coffee house\n".encode("latin-1"),
        "Line 3: the file is not UTF-8 text (byte 0xe9 cannot be read). Save it as UTF-8 and "
        "upload it again.",
        id="latin-1 csv",
    ),
    pytest.param(
        "deck.apkg",
        _truncated_package,
        "The package is damaged or incomplete: its zip archive cannot be read.",
        id="apkg cut in half",
    ),
    pytest.param(
        "deck.apkg",
        lambda: make_zip({"media": b"{}", "notes.txt": b"Neural Networks"}),
        "The zip file holds no Anki collection (collection.anki21b, collection.anki21 or "
        "collection.anki2): it is not an Anki package.",
        id="zip that is not an anki package",
    ),
    pytest.param(
        "deck.txt",
        lambda: b"Deep Learning\n",
        "Line 1: the document has a title but no cards.",
        id="title but no cards",
    ),
    pytest.param("deck.csv", lambda: b"", "The file is empty.", id="empty file"),
    pytest.param(
        "deck.txt",
        lambda: (b"Deep Learning\n\n" + b"Neural Networks\nLayers of neurons.\n\n" * 1_500_000)[
            : 50 * 1024 * 1024
        ],
        "The file is 50.0 MB; imports are limited to 10 MB.",
        id="50 MB of text",
    ),
    pytest.param(
        "deck.csv",
        lambda: b"front,back\nNeural Networks,Layers\nWeights\nBiases,Offsets\n",
        "Line 3: expected a front and a back, found 1 column.",
        id="csv missing a column",
    ),
    pytest.param(
        "deck.csv",
        lambda: b"Neural Networks,Layers\nWeights,Numbers,maths,extra\n",
        "Line 2: expected front, back and optional tags, found 4 columns.",
        id="csv with too many columns",
    ),
    pytest.param(
        "deck.csv",
        lambda: b"Neural Networks,Layers\n,Numbers\n",
        "Line 2: the front is empty.",
        id="empty front",
    ),
    pytest.param(
        "deck.csv",
        lambda: b"Neural Networks,Layers\nWeights,Numbers\nNeural Networks,Again\n",
        "Line 3: the front “Neural Networks” repeats line 1; cards are matched by their front, "
        "so each must be unique.",
        id="repeated fronts",
    ),
    pytest.param(
        "deck.apkg",
        lambda: anki.write_apkg("Deck", [("g1", "Weights", "One"), ("g2", "Weights", "Two")]),
        "note 2: the front “Weights” repeats note 1; cards are matched by their front, so each "
        "must be unique.",
        id="apkg with repeated fronts",
    ),
    pytest.param(
        "deck.apkg",
        lambda: anki.write_apkg("Empty", []),
        "The package holds no cards.",
        id="apkg with no notes",
    ),
    pytest.param(
        "deck.apkg",
        lambda: make_zip({"collection.anki2": _collection(), "../evil.sh": b"echo owned"}),
        "The package is refused: it holds a file named '../evil.sh', which points outside its "
        "folder.",
        id="apkg with a path-traversal member",
    ),
]
# Django refuses an empty upload before the import reads it.
VIEW_MESSAGES = {"The file is empty.": "The submitted file is empty."}


@pytest.mark.parametrize(("filename", "make_data", "message"), BAD_FILES)
def test_a_bad_file_is_refused_with_a_message_naming_the_line_or_problem(
    filename, make_data, message
):
    with pytest.raises(imports.ImportRefused) as refusal:
        imports.parse_file(filename, make_data())

    assert str(refusal.value) == message


@pytest.mark.parametrize(("filename", "make_data", "message"), BAD_FILES)
def test_a_bad_upload_is_refused_on_its_page_with_the_message_and_changes_nothing(
    learner, studied_deck, filename, make_data, message
):
    before = database_rows()
    client = logged_in(learner)

    data = make_data()

    response = upload(client, filename, data, deck=studied_deck.slug)

    after = database_rows()
    # An empty or oversized file is refused before it is kept.
    if message in VIEW_MESSAGES or len(data) > settings.MAX_IMPORT_BYTES:
        assert response.status_code == 400
        assert response.context["form"].errors["file"] == [VIEW_MESSAGES.get(message, message)]
        assert after == before
        return
    page = client.get(response["Location"])
    assert escape(message) in page.text
    refused = after.pop("PendingImport")[-1]
    assert (refused["status"], refused["message"], refused["data"]) == ("refused", message, b"")
    before.pop("PendingImport")
    assert after == before


@pytest.mark.parametrize(("filename", "make_data", "message"), BAD_FILES)
def test_a_bad_file_given_to_import_deck_stops_it_with_the_message_and_changes_nothing(
    learner, studied_deck, tmp_path, filename, make_data, message
):
    path = tmp_path / filename
    path.write_bytes(make_data())
    before = database_rows()

    with pytest.raises(CommandError) as error:
        call_command(
            "import_deck",
            str(path),
            deck=studied_deck.slug,
            history_of=learner.username,
            stdout=io.StringIO(),
        )

    assert str(error.value) == f"{path}: {message} Nothing was imported."
    assert database_rows() == before


@pytest.mark.parametrize("tsv", [False, True])
def test_a_tab_separated_file_is_read_by_its_suffix_or_its_first_line(tsv):
    data = b"Neural Networks\tLayers\nWeights\n"

    with pytest.raises(imports.ImportRefused, match=r"^Line 2: expected a front and a back"):
        imports.parse_file("deck.tsv" if tsv else "deck.csv", data)


def test_a_csv_with_an_unclosed_quote_is_refused_naming_the_line():
    with pytest.raises(imports.ImportRefused) as refusal:
        imports.parse_file("deck.csv", b'Neural Networks,Layers\n"Weights,Numbers\n')

    assert str(refusal.value) == "Line 2: unexpected end of data."


def test_a_csv_row_spanning_lines_is_named_by_the_line_it_starts_on():
    data = b'Neural Networks,Layers\n,"An answer\nover two lines"\n'

    with pytest.raises(imports.ImportRefused) as refusal:
        imports.parse_file("deck.csv", data)

    assert str(refusal.value) == "Line 2: the front is empty."


def test_semicolons_inside_a_quoted_first_front_do_not_change_the_delimiter():
    data = b'"Python: lists; tuples; sets",Containers\nWeights,Numbers\n'

    parsed = imports.parse_file("deck.csv", data)

    assert [(card.front, card.back) for card in parsed.cards] == [
        ("Python: lists; tuples; sets", "Containers"),
        ("Weights", "Numbers"),
    ]


# All or nothing: a failure half-way through an import leaves no trace.


def _fail_on_call(original, failing_call):
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == failing_call:
            raise RuntimeError("the database went away")
        return original(*args, **kwargs)

    return failing


@pytest.mark.parametrize(
    ("target", "name", "failing_call"),
    [
        pytest.param(lambda: Card.objects, "bulk_create", 1, id="Card bulk_create"),
        pytest.param(lambda: Card.objects, "bulk_update", 1, id="Card bulk_update"),
        pytest.param(lambda: Review.objects, "bulk_create", 1, id="Review bulk_create"),
        pytest.param(lambda: Memory.objects, "bulk_create", 1, id="Memory bulk_create"),
    ],
)
def test_a_failure_in_the_middle_of_an_import_leaves_the_database_as_it_was(
    learner, studied_deck, anki_package, monkeypatch, target, name, failing_call
):
    parsed = imports.parse_file("biology.apkg", anki_package)
    # The deck gets three new cards, two with history; its first card's back also changes.
    parsed.cards.insert(0, imports.ImportedCard("Front 1", "A rewritten back"))
    before = database_rows()
    monkeypatch.setattr(
        target(), name, _fail_on_call(getattr(target(), name), failing_call), raising=True
    )

    with pytest.raises(RuntimeError, match="the database went away"):
        import_jobs.apply_import(parsed, deck=studied_deck, history_user=learner)

    assert database_rows() == before


def test_a_failure_while_writing_an_upload_keeps_it_for_a_retry_and_changes_nothing(
    learner, studied_deck, monkeypatch
):
    data = csv_bytes([["Front 1", "Rewritten"], ["Fresh", "Card"], ["Another", "Card"]])
    client = logged_in(learner)
    response = upload(client, "deck.csv", data, deck=studied_deck.slug)
    pending = PendingImport.objects.get(filename="deck.csv")
    before = database_rows()
    before.pop("PendingImport")
    monkeypatch.setattr(
        Card.objects, "bulk_create", _fail_on_call(Card.objects.bulk_create, 1), raising=True
    )

    page = confirm(client, response["Location"])

    after = database_rows()
    after.pop("PendingImport")
    assert after == before
    pending.refresh_from_db()
    assert pending.status == "writing" and bytes(pending.data) == data
    assert "Importing deck.csv" in page.text
    retry = DBTaskResult.objects.get(status="READY")
    assert retry.args_kwargs == {"args": [pending.pk], "kwargs": {"attempt": 2}}


# Round trips: what is exported imports back as the same cards.


def _tricky_deck(owner):
    deck = make_deck("Tricky: commas, “quotes” & lists", cards=0, owner=owner)
    for position, (front, back, tags) in enumerate(TRICKY_CARDS, start=1):
        Card.objects.create(deck=deck, front=front, back=back, tags=tags, position=position)
    return deck


@pytest.mark.parametrize("fmt", ["txt", "csv", "apkg"])
@pytest.mark.parametrize("which", ["deep learning", "tricky"])
def test_an_exported_deck_imports_back_as_the_same_cards_in_the_same_order(
    learner, source_deck, fmt, which
):
    original = source_deck if which == "deep learning" else _tricky_deck(learner)
    client = logged_in(learner)

    exported = client.get(export_url(original, fmt))
    preview = upload(client, f"{original.slug}.{fmt}", exported.content, title="Round trip")
    confirmed = confirm(client, preview["Location"], {"title": "Round trip"})

    imported = Deck.objects.get(owner=learner, title="Round trip")
    assert exported.status_code == 200
    assert confirmed.status_code == 302
    before, after = fronts_and_backs(original), fronts_and_backs(imported)
    assert [front for front, _ in after] == [front for front, _ in before]
    if fmt == "apkg":
        # Anki fields hold HTML: a formatted back comes back as the HTML it renders to.
        assert [render_markdown(back).strip() for _, back in after] == [
            render_markdown(back).strip() for _, back in before
        ]
    else:
        assert after == before


@pytest.mark.parametrize("fmt", ["txt", "apkg"])
def test_an_exported_deck_keeps_its_title_when_imported_without_one(learner, source_deck, fmt):
    parsed = imports.parse_file(f"export.{fmt}", exports.EXPORTS[fmt][0](source_deck))

    deck, _ = import_jobs.apply_import(parsed, owner=learner)

    assert deck.title == source_deck.title


def test_a_csv_export_carries_the_tags_back(learner):
    original = _tricky_deck(learner)
    parsed = imports.parse_file("export.csv", exports.export_csv(original))

    deck, _ = import_jobs.apply_import(parsed, owner=learner)

    assert list(deck.cards.order_by("position").values_list("tags", flat=True)) == [
        tags for _, _, tags in TRICKY_CARDS
    ]


def test_a_csv_export_starts_with_a_header_and_quotes_what_needs_it(learner):
    original = _tricky_deck(learner)

    rows = list(csv.reader(io.StringIO(exports.export_csv(original).decode())))

    assert rows[0] == ["front", "back", "tags"]
    # A back starting with "-" would be a formula in a spreadsheet: it gets an apostrophe.
    assert rows[1:] == [[exports.spreadsheet_safe(cell) for cell in card] for card in TRICKY_CARDS]
    assert rows[3][1].startswith("'- first")


# Re-import: cards are matched by their front and updated in place.


def test_importing_the_same_csv_twice_creates_nothing_the_second_time(learner, private_deck):
    data = csv_bytes([["Front 1", "Back 1"], ["Front 2", "Back 2"], ["New card", "New back"]])
    _, first = import_jobs.apply_import(imports.parse_file("deck.csv", data), deck=private_deck)
    cards = list(private_deck.cards.order_by("pk").values("pk", "front", "back", "position"))

    _, second = import_jobs.apply_import(imports.parse_file("deck.csv", data), deck=private_deck)

    assert (first.created, first.updated, first.unchanged) == (1, 0, 2)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    assert list(private_deck.cards.order_by("pk").values("pk", "front", "back", "position")) == (
        cards
    )


def test_an_edited_back_updates_that_card_in_place_and_keeps_the_learners_history(
    learner, private_deck
):
    card = private_deck.cards.get(front="Front 2")
    answer(learner, card, scheduling.GOOD, MONDAY)
    answer(learner, card, scheduling.AGAIN, MONDAY + timedelta(minutes=1))
    history = list(Review.objects.filter(card=card).order_by("pk").values())
    memory = list(Memory.objects.filter(card=card).values())
    edited = csv_bytes(
        [["Front 1", "Back 1"], ["Front 2", "Back 2, edited"], ["Front 3", "Back 3"]]
    )

    plan = import_jobs.plan_import(private_deck, imports.parse_file("deck.csv", edited))
    import_jobs.apply_import(imports.parse_file("deck.csv", edited), deck=private_deck)

    card.refresh_from_db()
    assert (plan.created, plan.updated, plan.unchanged) == (0, 1, 2)
    assert private_deck.cards.count() == 3
    assert card.back == "Back 2, edited"
    assert list(Review.objects.filter(card=card).order_by("pk").values()) == history
    assert list(Memory.objects.filter(card=card).values()) == memory


def test_the_files_order_becomes_the_decks_order_and_cards_not_in_it_follow(learner, private_deck):
    data = csv_bytes([["Front 3", "Back 3"], ["Added", "Added back"], ["Front 1", "Back 1"]])

    import_jobs.apply_import(imports.parse_file("deck.csv", data), deck=private_deck)

    assert list(private_deck.cards.order_by("position").values_list("front", "position")) == [
        ("Front 3", 1),
        ("Added", 2),
        ("Front 1", 3),
        ("Front 2", 4),
    ]


def test_the_preview_shows_how_many_cards_are_new_updated_and_unchanged(learner, private_deck):
    data = csv_bytes(
        [["front", "back", "tags"], ["Front 1", "Back 1", ""], ["Front 2", "Changed", ""]]
        + [[f"Added {n}", f"Answer {n}", "new"] for n in range(1, 11)]
    )
    client = logged_in(learner)

    response = client.get(upload(client, "deck.csv", data, deck=private_deck.slug)["Location"])

    assert response.status_code == 200
    assert "<strong>10</strong> new, <strong>1</strong> updated, 1 unchanged" in response.text
    summary = response.context["summary"]
    assert summary["plan"] == {"created": 10, "updated": 1, "unchanged": 1, "answers": 0}
    assert [front for front, _, _ in summary["rows"]] == [
        "Front 1",
        "Front 2",
        *[f"Added {n}" for n in range(1, 9)],
    ]
    assert "Added 8" in response.text
    assert "Added 9" not in response.text
    assert "Import 12 cards" in response.text


def test_a_change_of_tags_alone_is_counted_as_an_update(learner, private_deck):
    data = csv_bytes([["Front 1", "Back 1", "renamed"]])

    plan = import_jobs.plan_import(private_deck, imports.parse_file("deck.csv", data))
    import_jobs.apply_import(imports.parse_file("deck.csv", data), deck=private_deck)

    assert private_deck.cards.get(front="Front 1").tags == "renamed"
    assert (plan.updated, plan.unchanged) == (1, 0)


# Anki history: a package's answers are replayed into the learner's reviews and memory.

# (card front, answered at, Anki ease, duration ms, revlog type) as Anki logs them.
ANKI_ANSWERS = [
    ("Ribosome", datetime(2026, 1, 1, 10, 0, tzinfo=UTC), 3, 4200, 0),
    ("Ribosome", datetime(2026, 1, 1, 10, 10, tzinfo=UTC), 3, 3100, 0),
    # Before 4 AM: still the study day of 2 January.
    ("Ribosome", datetime(2026, 1, 3, 2, 30, tzinfo=UTC), 1, 9000, 1),
    ("Ribosome", datetime(2026, 1, 3, 2, 45, tzinfo=UTC), 3, 120_000, 2),
    ("Ribosome", datetime(2026, 1, 10, 12, 0, tzinfo=UTC), 4, 1500, 1),
    ("Mitochondria", datetime(2026, 1, 10, 9, 0, tzinfo=UTC), 3, 2000, 0),
]
RIBOSOME_DAYS = ["2026-01-01", "2026-01-01", "2026-01-02", "2026-01-02", "2026-01-10"]


@pytest.fixture(scope="module")
def anki_package(tmp_path_factory):
    """A package exported by Anki itself, with answers on two of its three notes."""
    from anki.collection import Collection, ExportAnkiPackageOptions

    folder = tmp_path_factory.mktemp("anki-history")
    collection = Collection(str(folder / "collection.anki2"))
    basic = collection.models.by_name("Basic")
    biology = collection.decks.id("Biology")
    card_ids = {}
    for front, back in [
        ("Mitochondria", "Powerhouse &amp; <b>energy</b>"),
        ("Ribosome", "Makes proteins"),
        ("Nucleus", "Holds the DNA"),
    ]:
        note = collection.new_note(basic)
        note["Front"], note["Back"] = front, back
        collection.add_note(note, biology)
        card_ids[front] = collection.card_ids_of_note(note.id)[0]
    for front, at, ease, duration, kind in ANKI_ANSWERS:
        collection.db.execute(
            "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
            " VALUES (?, ?, -1, ?, 1, 0, 2500, ?, ?)",
            int(at.timestamp() * 1000),
            card_ids[front],
            ease,
            duration,
            kind,
        )
    # A reset (ease 0, manual) is no answer.
    collection.db.execute(
        "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
        " VALUES (?, ?, -1, 0, 0, 0, 0, 0, 4)",
        int(datetime(2026, 1, 11, tzinfo=UTC).timestamp() * 1000),
        card_ids["Nucleus"],
    )
    path = folder / "biology.apkg"
    collection.export_anki_package(
        out_path=str(path),
        options=ExportAnkiPackageOptions(
            with_scheduling=True, with_deck_configs=False, with_media=False, legacy=False
        ),
        limit=None,
    )
    collection.close()
    return path.read_bytes()


def import_history(anki_package, user, **kwargs):
    parsed = imports.parse_file("biology.apkg", anki_package)
    return import_jobs.apply_import(parsed, owner=user, history_user=user, **kwargs)


def reviews_of(user, front):
    return list(Review.objects.filter(user=user, card__front=front).order_by("number"))


def test_an_anki_package_s_answers_become_the_learners_reviews_in_time_order(learner, anki_package):
    deck, plan = import_history(anki_package, learner)

    reviews = reviews_of(learner, "Ribosome")
    expected = [answer for answer in ANKI_ANSWERS if answer[0] == "Ribosome"]
    assert deck.title == "Biology"
    assert plan.answers == 6
    assert [review.number for review in reviews] == [1, 2, 3, 4, 5]
    assert [review.reviewed_at for review in reviews] == [at for _, at, _, _, _ in expected]
    assert [review.rating for review in reviews] == [ease for _, _, ease, _, _ in expected]
    assert [review.duration_ms for review in reviews] == [4200, 3100, 9000, 60_000, 1500]
    assert {review.deck_id for review in reviews} == {deck.pk}
    assert not Review.objects.filter(card__front="Nucleus").exists()


def test_each_imported_review_starts_from_the_memory_the_one_before_left(learner, anki_package):
    import_history(anki_package, learner)

    reviews = reviews_of(learner, "Ribosome")

    first = reviews[0]
    assert (first.state_before, first.stability_before, first.due_before) == (
        scheduling.NEW,
        None,
        None,
    )
    for earlier, later in zip(reviews, reviews[1:], strict=False):
        assert (
            later.state_before,
            later.step_before,
            later.stability_before,
            later.difficulty_before,
            later.due_before,
            later.last_review_before,
        ) == (
            earlier.state_after,
            earlier.step_after,
            earlier.stability_after,
            earlier.difficulty_after,
            earlier.due_after,
            earlier.reviewed_at,
        )
    assert [review.state_after for review in reviews] == [
        scheduling.LEARNING,
        scheduling.REVIEW,
        scheduling.RELEARNING,
        scheduling.REVIEW,
        scheduling.REVIEW,
    ]
    assert [review.lapses_before for review in reviews] == [0, 0, 0, 1, 1]


def test_the_imported_memory_is_where_the_last_answer_left_the_card(learner, anki_package):
    import_history(anki_package, learner)

    last = reviews_of(learner, "Ribosome")[-1]
    memory = Memory.objects.get(user=learner, card__front="Ribosome")

    assert (
        memory.state,
        memory.step,
        memory.stability,
        memory.difficulty,
        memory.due,
        memory.last_review,
        memory.reps,
        memory.lapses,
    ) == (
        last.state_after,
        last.step_after,
        last.stability_after,
        last.difficulty_after,
        last.due_after,
        last.reviewed_at,
        5,
        1,
    )
    assert memory.deck_id == last.deck_id
    assert not Memory.objects.filter(card__front="Nucleus").exists()


def test_imported_reviews_fall_on_the_learners_study_days(learner, anki_package):
    import_history(anki_package, learner)

    days = [review.study_day.isoformat() for review in reviews_of(learner, "Ribosome")]

    assert days == RIBOSOME_DAYS


def test_the_study_queue_treats_an_imported_card_by_its_memory(learner, anki_package):
    deck, _ = import_history(anki_package, learner)
    ribosome = Memory.objects.get(user=learner, card__front="Ribosome")
    profile = profile_for(learner)

    soon = study_queue(learner, deck, ribosome.last_review + timedelta(hours=3), profile)
    later = study_queue(learner, deck, ribosome.due + timedelta(hours=1), profile)

    # Mitochondria is learning, Ribosome in review and Nucleus still new.
    assert soon.counts() == {
        "new": 1,
        "learning": 1,
        "due": 0,
        "more_new": False,
        "more_due": False,
    }
    assert not soon.is_available(ribosome.card, ribosome)
    assert later.counts() == {
        "new": 1,
        "learning": 1,
        "due": 1,
        "more_new": False,
        "more_due": False,
    }
    assert later.is_available(ribosome.card, ribosome)
    assert ribosome.due - ribosome.last_review > timedelta(days=5)


def test_importing_the_package_again_does_not_repeat_its_history(learner, anki_package):
    deck, _ = import_history(anki_package, learner)
    reviews = list(Review.objects.order_by("pk").values())
    memories = list(Memory.objects.order_by("pk").values())

    _, plan = import_jobs.apply_import(
        imports.parse_file("biology.apkg", anki_package), deck=deck, history_user=learner
    )

    assert (plan.created, plan.updated, plan.unchanged, plan.answers) == (0, 0, 3, 0)
    assert list(Review.objects.order_by("pk").values()) == reviews
    assert list(Memory.objects.order_by("pk").values()) == memories


def test_a_card_the_learner_already_studied_here_keeps_its_own_history(learner, anki_package):
    deck, _ = import_jobs.apply_import(
        imports.parse_file("biology.apkg", anki_package), owner=learner
    )
    ribosome = deck.cards.get(front="Ribosome")
    answer(learner, ribosome, scheduling.EASY, MONDAY)

    _, plan = import_jobs.apply_import(
        imports.parse_file("biology.apkg", anki_package), deck=deck, history_user=learner
    )

    assert plan.answers == 1
    assert [review.reviewed_at for review in reviews_of(learner, "Ribosome")] == [MONDAY]
    assert len(reviews_of(learner, "Mitochondria")) == 1


def test_without_a_history_user_nothing_of_the_history_is_written(learner, anki_package):
    deck, _ = import_jobs.apply_import(
        imports.parse_file("biology.apkg", anki_package), owner=learner
    )

    assert deck.cards.count() == 3
    assert not Review.objects.exists()
    assert not Memory.objects.exists()


@pytest.mark.parametrize("include_history", [True, False])
def test_an_uploaded_anki_package_brings_the_history_only_when_asked(
    learner, anki_package, include_history
):
    client = logged_in(learner)
    preview = upload(client, "biology.apkg", anki_package, include_history=include_history)

    page = client.get(preview["Location"])
    confirmed = confirm(client, preview["Location"], follow=True)

    deck = Deck.objects.get(owner=learner)
    assert [card.front for card in deck.cards.order_by("position")] == [
        "Mitochondria",
        "Ribosome",
        "Nucleus",
    ]
    assert deck.cards.get(front="Mitochondria").back == "Powerhouse &amp; <b>energy</b>"
    assert confirmed.redirect_chain[-1][0] == reverse("flashcards:deck_detail", args=[deck.slug])
    if include_history:
        assert "<strong>6</strong> answers of your history" in page.text
        assert Review.objects.filter(user=learner).count() == 6
        assert Memory.objects.filter(user=learner).count() == 2
        assert "Imported 3 new and 0 updated cards, and 6 answers of your history." in (
            confirmed.text
        )
    else:
        assert "answers of your history" not in page.text
        assert not Review.objects.exists()
        assert not Memory.objects.exists()


def test_the_preview_does_not_promise_history_that_was_already_imported(learner, anki_package):
    client = logged_in(learner)
    first = upload(client, "biology.apkg", anki_package)
    confirm(client, first["Location"])
    deck = Deck.objects.get(owner=learner)

    again = client.get(upload(client, "biology.apkg", anki_package, deck=deck.slug)["Location"])

    assert again.context["summary"]["plan"]["answers"] == 0
    # The first import's confirmation is still shown above; the preview itself promises none.
    lead = again.text.split('<p class="lead">', 1)[1].split("</p>", 1)[0]
    assert "answers of your history" not in lead


def test_the_confirmation_does_not_claim_history_that_was_left_out(learner, anki_package):
    client = logged_in(learner)
    preview = upload(client, "biology.apkg", anki_package, include_history=False)

    confirmed = confirm(client, preview["Location"], follow=True)

    assert not Review.objects.exists()
    assert [str(message) for message in confirmed.context["messages"]] == [
        "Imported 3 new and 0 updated cards."
    ]


def test_import_deck_without_history_of_reports_no_answers(db, anki_package, tmp_path):
    path = tmp_path / "biology.apkg"
    path.write_bytes(anki_package)
    out = io.StringIO()

    call_command("import_deck", str(path), stdout=out)

    assert not Review.objects.exists()
    assert out.getvalue() == (
        "Biology (biology): 3 new, 0 updated, 0 unchanged cards; 0 answers of history.\n"
    )


# Upload, preview and export pages: what each user's requests do. Who may open them is stated
# in the access matrix (tests/test_security.py).


def test_an_anonymous_upload_or_confirmation_changes_nothing(client, learner):
    pending = PendingImport.objects.create(user=learner, filename="deck.csv", data=b"a,b\n")
    before = database_rows()

    upload(client, "deck.csv", b"Neural Networks,Layers\n")
    client.post(preview_url(pending))

    assert database_rows() == before


def test_a_learner_imports_a_csv_into_a_new_deck_of_their_own(learner):
    client = logged_in(learner)
    data = b"front,back,tags\nNeural Networks,Layers of neurons,ml  basics\nWeights,Numbers,\n"

    preview = upload(client, "ml.csv", data, title="Machine learning")
    pending = PendingImport.objects.get()
    page = client.get(preview["Location"])
    confirmed = confirm(client, preview["Location"], {"title": "Machine learning"})

    deck = Deck.objects.get(title="Machine learning")
    assert preview["Location"] == preview_url(pending)
    assert page.status_code == 200
    assert 'value="Machine learning"' in page.text
    assert "CSV or TSV with 2 cards" in page.text
    assert confirmed["Location"] == reverse("flashcards:deck_detail", args=[deck.slug])
    assert (deck.owner, deck.published) == (learner, False)
    assert list(deck.cards.order_by("position").values_list("front", "back", "tags")) == [
        ("Neural Networks", "Layers of neurons", "ml basics"),
        ("Weights", "Numbers", ""),
    ]
    pending.refresh_from_db()
    assert (pending.status, bytes(pending.data)) == ("done", b"")


def test_the_import_form_offers_a_learner_only_their_own_decks(
    learner, other_learner, deck, private_deck
):
    theirs = make_deck("Theirs", owner=other_learner)

    response = logged_in(learner).get(IMPORT_URL)

    choices = dict(response.context["form"].fields["deck"].choices)
    assert response.status_code == 200
    assert choices == {"": "A new deck", private_deck.slug: "Mine"}
    assert deck.slug not in choices
    assert theirs.slug not in choices


@pytest.mark.parametrize("whose", ["curated", "another learner's"])
def test_a_learner_cannot_import_into_a_deck_they_do_not_own(learner, other_learner, deck, whose):
    target = deck if whose == "curated" else make_deck("Theirs", owner=other_learner)
    before = database_rows()

    response = upload(logged_in(learner), "deck.csv", b"Neural Networks,Layers\n", deck=target.slug)

    assert response.status_code == 400
    assert response.context["form"].errors["deck"] == [
        f"Select a valid choice. {target.slug} is not one of the available choices."
    ]
    assert database_rows() == before


def test_staff_import_into_a_curated_deck(staff, deck):
    client = logged_in(staff)
    data = b"Front 1,Back 1\nParis,Capital of France\n"

    choices = dict(client.get(IMPORT_URL).context["form"].fields["deck"].choices)
    preview = upload(client, "capitals.csv", data, deck=deck.slug)
    confirmed = confirm(client, preview["Location"])

    deck.refresh_from_db()
    assert choices[deck.slug] == "Capitals"
    assert confirmed["Location"] == reverse("flashcards:deck_detail", args=[deck.slug])
    assert deck.owner is None
    assert list(deck.cards.order_by("position").values_list("front", flat=True)) == [
        "Front 1",
        "Paris",
        "Front 2",
        "Front 3",
    ]


def test_a_new_deck_imported_by_staff_is_curated_and_unpublished(staff):
    client = logged_in(staff)

    preview = upload(client, "capitals.csv", b"Paris,Capital of France\n", title="Capitals 2")
    confirm(client, preview["Location"], {"title": "Capitals 2"})

    deck = Deck.objects.get(title="Capitals 2")
    assert (deck.owner, deck.published) == (None, False)


def test_a_title_with_an_ampersand_reaches_the_preview_whole(learner):
    client = logged_in(learner)

    preview = upload(client, "deck.csv", b"Neural Networks,Layers\n", title="Rock & Roll #1")
    page = client.get(preview["Location"])

    assert page.context["title"] == "Rock & Roll #1"


def test_cancelling_an_import_deletes_it_and_changes_nothing_else(learner, studied_deck):
    client = logged_in(learner)
    preview = upload(client, "deck.csv", b"Front 1,Changed\n", deck=studied_deck.slug)
    before = database_rows()

    response = client.post(preview["Location"], {"cancel": "1"})

    after = database_rows()
    assert response["Location"] == reverse("flashcards:deck_list")
    assert [row["filename"] for row in after.pop("PendingImport")] == ["waiting.csv"]
    assert {k: v for k, v in before.items() if k != "PendingImport"} == after
    assert studied_deck.cards.get(front="Front 1").back == "Back 1"


def test_another_users_pending_import_cannot_be_confirmed_or_cancelled(
    learner, other_learner, studied_deck, staff
):
    pending = PendingImport.objects.get(filename="waiting.csv")
    before = database_rows()

    for user in (other_learner, staff):
        client = logged_in(user)
        client.post(preview_url(pending))
        assert client.post(preview_url(pending), {"cancel": "1"}).status_code == 404

    assert database_rows() == before


def test_a_pending_import_into_a_deck_no_longer_editable_is_dropped(staff, deck):
    client = logged_in(staff)
    preview = upload(client, "capitals.csv", b"Paris,Capital of France\n", deck=deck.slug)
    staff.is_staff = False
    staff.save()

    response = logged_in(staff).post(preview["Location"])

    assert response["Location"] == IMPORT_URL
    assert not PendingImport.objects.exists()
    assert deck.cards.count() == 3


def test_the_upload_form_needs_a_csrf_token(learner):
    client = logged_in(learner, enforce_csrf_checks=True)
    token = client.get(IMPORT_URL).cookies["csrftoken"].value

    refused = upload(client, "deck.csv", b"Neural Networks,Layers\n")
    accepted = client.post(
        IMPORT_URL,
        {
            "file": SimpleUploadedFile("deck.csv", b"Neural Networks,Layers\n"),
            "deck": "",
            "csrfmiddlewaretoken": token,
        },
    )

    assert refused.status_code == 403
    assert accepted.status_code == 302
    assert PendingImport.objects.count() == 1


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("txt", "text/plain; charset=utf-8"),
        ("csv", "text/csv; charset=utf-8"),
        ("apkg", "application/octet-stream"),
    ],
)
def test_the_owner_exports_a_private_deck_in_each_format(learner, private_deck, fmt, content_type):
    mine = logged_in(learner).get(export_url(private_deck, fmt))

    assert mine["Content-Type"] == content_type
    assert mine["Content-Disposition"] == f'attachment; filename="mine.{fmt}"'
    assert mine.content == exports.EXPORTS[fmt][0](private_deck)


def test_any_learner_exports_a_published_curated_deck(learner, deck):
    published = logged_in(learner).get(export_url(deck, "csv"))

    assert published.content.decode().splitlines() == [
        "front,back,tags",
        "Front 1,Back 1,",
        "Front 2,Back 2,",
        "Front 3,Back 3,",
    ]


# Management commands.


def test_import_deck_makes_a_new_deck_for_an_owner(learner, tmp_path):
    path = tmp_path / "ml.csv"
    path.write_bytes(b"Neural Networks,Layers of neurons\nWeights,Numbers\n")
    out = io.StringIO()

    call_command(
        "import_deck", str(path), title="Machine learning", owner=learner.username, stdout=out
    )

    deck = Deck.objects.get(title="Machine learning")
    assert deck.owner == learner
    assert fronts_and_backs(deck) == [
        ("Neural Networks", "Layers of neurons"),
        ("Weights", "Numbers"),
    ]
    assert out.getvalue() == (
        f"Machine learning ({deck.slug}): 2 new, 0 updated, 0 unchanged cards; "
        "0 answers of history.\n"
    )


def test_import_deck_updates_a_deck_in_place(learner, private_deck, tmp_path):
    card = private_deck.cards.get(front="Front 2")
    answer(learner, card, scheduling.GOOD, MONDAY)
    path = tmp_path / "mine.txt"
    path.write_bytes(b"Anything\n\nFront 2\nA new answer.\n\nFront 9\nAnother.\n")
    out = io.StringIO()

    call_command("import_deck", str(path), deck=private_deck.slug, stdout=out)

    card.refresh_from_db()
    assert card.back == "A new answer."
    assert Review.objects.filter(card=card).count() == 1
    assert private_deck.cards.count() == 4
    assert out.getvalue() == (
        f"Mine ({private_deck.slug}): 1 new, 1 updated, 0 unchanged cards; 0 answers of history.\n"
    )


def test_import_deck_publishes_a_curated_deck_and_replays_history(learner, anki_package, tmp_path):
    path = tmp_path / "biology.bin"
    path.write_bytes(anki_package)
    out = io.StringIO()

    call_command(
        "import_deck",
        str(path),
        format="apkg",
        history_of=learner.username,
        publish=True,
        stdout=out,
    )

    deck = Deck.objects.get(title="Biology")
    assert (deck.owner, deck.published) == (None, True)
    assert Review.objects.filter(user=learner, deck=deck).count() == 6
    assert out.getvalue() == (
        "Biology (biology): 3 new, 0 updated, 0 unchanged cards; 6 answers of history.\n"
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deck": "no-such-deck"}, "Deck matching query does not exist."),
        ({"owner": "nobody"}, "User matching query does not exist."),
        ({"history_of": "nobody"}, "User matching query does not exist."),
    ],
)
def test_import_deck_refuses_an_unknown_deck_or_user(db, tmp_path, options, message):
    path = tmp_path / "deck.csv"
    path.write_bytes(b"Neural Networks,Layers\n")

    with pytest.raises(CommandError, match=f"^{message}$"):
        call_command("import_deck", str(path), **options)

    assert not Deck.objects.exists()


def test_import_deck_refuses_a_missing_file(db, tmp_path):
    path = tmp_path / "missing.csv"

    with pytest.raises(CommandError, match=f"^{path}: No such file or directory$"):
        call_command("import_deck", str(path))


@pytest.mark.parametrize(("suffix", "fmt"), [("txt", None), ("csv", None), ("bin", "apkg")])
def test_export_deck_writes_the_same_bytes_as_the_download(source_deck, tmp_path, suffix, fmt):
    path = tmp_path / f"deck.{suffix}"
    out = io.StringIO()

    call_command("export_deck", source_deck.slug, str(path), format=fmt, stdout=out)

    export = exports.EXPORTS[fmt or suffix][0]
    assert path.read_bytes() == export(source_deck)
    count = source_deck.cards.count()
    assert out.getvalue() == f"Wrote {count} cards of “{source_deck.title}” to {path}\n"


def test_export_deck_refuses_an_unknown_deck_or_format(deck, tmp_path):
    with pytest.raises(CommandError, match="^No deck with the slug “nope”.$"):
        call_command("export_deck", "nope", str(tmp_path / "deck.csv"))
    with pytest.raises(CommandError, match="^Say --format apkg, csv, txt.$"):
        call_command("export_deck", deck.slug, str(tmp_path / "deck.xlsx"))
    assert list(tmp_path.iterdir()) == []
