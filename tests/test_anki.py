"""Anki packages are read and written without a database; the real Anki library checks both ends.

The `anki` package (a test-only dependency) builds packages with review history, as Anki itself
exports them, and imports the packages we write, as Anki itself would.
"""

import io
import sqlite3
import zipfile
from datetime import UTC, datetime

import pytest
import zstandard

from flashcards.anki import (
    AnkiCard,
    AnkiPackageError,
    AnkiReview,
    html_to_text,
    read_apkg,
    text_to_field,
    write_apkg,
)
from flashcards.rendering import render_markdown

DEEP_LEARNING = [
    ("dl-1", "Neural Networks", "<p>Layers of <strong>neurons</strong>.</p>"),
    ("dl-2", "Transformers &amp; attention", "<ul>\n<li>encoder</li>\n<li>decoder</li>\n</ul>"),
    ("dl-3", "Weights", "<p>Learned numbers.</p>"),
]
NEW_YEAR_MS = 1_767_225_600_000  # 2026-01-01 00:00 UTC
DAY_MS = 86_400_000


def make_zip(members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def make_sqlite(tmp_path, *statements):
    path = tmp_path / "made.sqlite"
    connection = sqlite3.connect(path)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    connection.close()
    return path.read_bytes()


def import_into_anki(collection, data, tmp_path, name="deck.apkg"):
    from anki.collection import ImportAnkiPackageOptions, ImportAnkiPackageRequest

    path = tmp_path / name
    path.write_bytes(data)
    collection.import_anki_package(
        ImportAnkiPackageRequest(package_path=str(path), options=ImportAnkiPackageOptions())
    )


def cards_in_anki(collection):
    """(deck name, guid, fields) of every card, in the order Anki shows new cards."""
    return [
        (collection.decks.name(deck_id), guid, fields.split("\x1f"))
        for deck_id, guid, fields in collection.db.all(
            "SELECT c.did, n.guid, n.flds FROM cards c JOIN notes n ON n.id = c.nid"
            " ORDER BY c.due, n.id"
        )
    ]


@pytest.fixture
def anki_collection(tmp_path):
    from anki.collection import Collection

    collection = Collection(str(tmp_path / "collection.anki2"))
    yield collection
    collection.close()


@pytest.fixture(scope="module")
def exported_by_anki(tmp_path_factory):
    """Packages that Anki exported, modern and legacy, from a collection with answers in it."""
    from anki.collection import Collection, ExportAnkiPackageOptions

    folder = tmp_path_factory.mktemp("anki-export")
    collection = Collection(str(folder / "collection.anki2"))
    basic = collection.models.by_name("Basic")
    cells = collection.decks.id("Biology::Cells")
    chemistry = collection.decks.id("Chemistry")
    note_ids, guids = [], []
    for front, back, deck in [
        ("Mitochondria", "Powerhouse &amp; <b>energy</b>", cells),
        ("Ribosome", "Makes proteins", cells),
        ("Nucleus", "Holds the DNA", cells),
        ("Ion", "A charged atom", chemistry),
    ]:
        note = collection.new_note(basic)
        note["Front"], note["Back"] = front, back
        note.tags = ["biology", "cells"] if deck == cells else ["chemistry"]
        collection.add_note(note, deck)
        note_ids.append(note.id)
        guids.append(note.guid)
    card_ids = [collection.card_ids_of_note(note_id)[0] for note_id in note_ids]

    card = collection.get_card(card_ids[0])
    card.start_timer()
    collection.sched.answerCard(card, 3)
    # History with known times: a review, a relapse, a filtered-deck answer, and a reset.
    for revlog_id, ease, duration, kind in [
        (NEW_YEAR_MS, 3, 4200, 1),
        (NEW_YEAR_MS + DAY_MS, 1, 9000, 2),
        (NEW_YEAR_MS + 2 * DAY_MS, 4, 1500, 3),
        (NEW_YEAR_MS + 3 * DAY_MS, 0, 0, 4),
    ]:
        collection.db.execute(
            "INSERT INTO revlog (id, cid, usn, ease, ivl, lastIvl, factor, time, type)"
            " VALUES (?, ?, -1, ?, 1, 0, 2500, ?, ?)",
            revlog_id,
            card_ids[1],
            ease,
            duration,
            kind,
        )

    packages = {}
    for style, legacy in [("modern", False), ("legacy", True)]:
        path = folder / f"{style}.apkg"
        collection.export_anki_package(
            out_path=str(path),
            options=ExportAnkiPackageOptions(
                with_scheduling=True, with_deck_configs=False, with_media=False, legacy=legacy
            ),
            limit=None,
        )
        packages[style] = path.read_bytes()
    collection.close()
    return {"packages": packages, "note_ids": note_ids, "guids": guids, "card_ids": card_ids}


# Reading packages that Anki exported


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_a_package_exported_by_anki_gives_its_notes_fields_and_tags_in_order(
    exported_by_anki, style
):
    package = read_apkg(exported_by_anki["packages"][style])

    assert [note.note_id for note in package.notes] == exported_by_anki["note_ids"]
    assert [note.fields for note in package.notes] == [
        ["Mitochondria", "Powerhouse &amp; <b>energy</b>"],
        ["Ribosome", "Makes proteins"],
        ["Nucleus", "Holds the DNA"],
        ["Ion", "A charged atom"],
    ]
    assert package.notes[0].tags == ["biology", "cells"]
    assert package.notes[3].tags == ["chemistry"]
    assert [note.guid for note in package.notes] == exported_by_anki["guids"]


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_a_package_exported_by_anki_gives_one_card_per_basic_note(exported_by_anki, style):
    package = read_apkg(exported_by_anki["packages"][style])

    assert package.cards == [
        AnkiCard(card_id=card_id, note_id=note_id, ordinal=0)
        for card_id, note_id in zip(
            exported_by_anki["card_ids"], exported_by_anki["note_ids"], strict=True
        )
    ]


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_the_deck_name_is_the_nested_deck_holding_most_cards(exported_by_anki, style):
    package = read_apkg(exported_by_anki["packages"][style])

    assert package.deck_name == "Biology::Cells"


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_answers_keep_their_time_rating_duration_and_kind(exported_by_anki, style):
    reviewed_card = exported_by_anki["card_ids"][1]

    package = read_apkg(exported_by_anki["packages"][style])

    assert [review for review in package.reviews if review.card_id == reviewed_card] == [
        AnkiReview(reviewed_card, datetime(2026, 1, 1, tzinfo=UTC), 3, 4200, 1),
        AnkiReview(reviewed_card, datetime(2026, 1, 2, tzinfo=UTC), 1, 9000, 2),
        AnkiReview(reviewed_card, datetime(2026, 1, 3, tzinfo=UTC), 4, 1500, 3),
    ]


@pytest.mark.parametrize("style", ["modern", "legacy"])
def test_an_answer_given_through_anki_s_scheduler_is_read_as_a_learning_step(
    exported_by_anki, style
):
    answered_card = exported_by_anki["card_ids"][0]

    package = read_apkg(exported_by_anki["packages"][style])

    [review] = [review for review in package.reviews if review.card_id == answered_card]
    assert (review.rating, review.kind) == (3, 0)
    assert review.reviewed_at.tzinfo is UTC
    assert review.reviewed_at.microsecond % 1000 == 0


def test_a_reset_with_no_rating_is_not_read_as_an_answer(exported_by_anki):
    package = read_apkg(exported_by_anki["packages"]["modern"])

    assert len(package.reviews) == 4
    assert all(1 <= review.rating <= 4 for review in package.reviews)


def test_the_modern_package_is_read_from_its_zstd_collection_not_the_update_anki_stub(
    exported_by_anki,
):
    data = exported_by_anki["packages"]["modern"]
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()

    package = read_apkg(data)

    assert {"collection.anki21b", "collection.anki2"} <= set(names)
    assert not any("Please update" in note.fields[0] for note in package.notes)


def test_a_package_holding_only_the_oldest_collection_format_is_read(exported_by_anki):
    legacy = zipfile.ZipFile(io.BytesIO(exported_by_anki["packages"]["legacy"]))
    oldest = make_zip({"collection.anki2": legacy.read("collection.anki21"), "media": b"{}"})

    package = read_apkg(oldest)

    assert package.deck_name == "Biology::Cells"
    assert len(package.notes) == 4
    assert len(package.reviews) == 4


# Writing packages that Anki imports


def test_anki_imports_a_written_package_with_its_notes_in_order_in_the_named_deck(
    anki_collection, tmp_path
):
    import_into_anki(anki_collection, write_apkg("Deep Learning", DEEP_LEARNING), tmp_path)

    assert cards_in_anki(anki_collection) == [
        ("Deep Learning", guid, [front, back]) for guid, front, back in DEEP_LEARNING
    ]


def test_a_written_card_is_new_and_shows_the_front_then_the_back_in_anki(anki_collection, tmp_path):
    import_into_anki(anki_collection, write_apkg("Deep Learning", DEEP_LEARNING), tmp_path)

    card = anki_collection.get_card(anki_collection.find_cards('"deck:Deep Learning"')[0])
    notetype = card.note_type()
    assert (card.type, card.queue) == (0, 0)
    assert notetype["name"] == "Basic (flashcards)"
    assert [field["name"] for field in notetype["flds"]] == ["Front", "Back"]
    assert card.question().endswith("Neural Networks")
    assert card.answer().endswith(
        "Neural Networks\n\n<hr id=answer>\n\n<p>Layers of <strong>neurons</strong>.</p>"
    )


def test_anki_updates_its_notes_from_a_later_export_and_adds_the_new_ones(
    anki_collection, tmp_path
):
    import_into_anki(anki_collection, write_apkg("Deep Learning", DEEP_LEARNING), tmp_path)
    later = [
        ("dl-0", "Deep Learning", "<p>Many layers.</p>"),
        ("dl-1", "Neural Networks", "<p>Rewritten.</p>"),
        *DEEP_LEARNING[1:],
    ]

    import_into_anki(
        anki_collection,
        write_apkg("Deep Learning", later, now=datetime(2026, 5, 1, tzinfo=UTC)),
        tmp_path,
        name="later.apkg",
    )

    fields_by_guid = {guid: fields for _, guid, fields in cards_in_anki(anki_collection)}
    assert fields_by_guid == {guid: [front, back] for guid, front, back in later}


def test_two_written_decks_sit_side_by_side_in_anki(anki_collection, tmp_path):
    import_into_anki(anki_collection, write_apkg("Deep Learning", DEEP_LEARNING), tmp_path)
    roman = [("rome-1", "Augustus", "<p>First emperor.</p>")]

    import_into_anki(anki_collection, write_apkg("Roman History", roman), tmp_path, "rome.apkg")

    decks = [deck for deck, _, _ in cards_in_anki(anki_collection)]
    assert sorted(decks) == ["Deep Learning"] * 3 + ["Roman History"]


def test_a_written_package_reads_back_with_the_same_guids_fields_and_order():
    package = read_apkg(write_apkg("Deep Learning", DEEP_LEARNING))

    assert package.deck_name == "Deep Learning"
    assert [(note.guid, *note.fields) for note in package.notes] == DEEP_LEARNING
    assert [card.note_id for card in package.cards] == [note.note_id for note in package.notes]
    assert package.reviews == []


def test_the_same_notes_give_the_same_package_bytes():
    assert write_apkg("Deep Learning", DEEP_LEARNING) == write_apkg("Deep Learning", DEEP_LEARNING)


def test_a_written_package_holds_the_classic_collection_and_an_empty_media_list():
    archive = zipfile.ZipFile(io.BytesIO(write_apkg("Deep Learning", DEEP_LEARNING)))

    assert archive.namelist() == ["collection.anki2", "media"]
    assert archive.read("media") == b"{}"
    assert archive.read("collection.anki2").startswith(b"SQLite format 3\x00")


def test_the_field_separator_never_splits_a_written_field():
    package = read_apkg(write_apkg("Deck", [("g", "one\x1ftwo", "back")]))

    assert package.notes[0].fields == ["one two", "back"]


@pytest.mark.parametrize("guids", [["a", "a"], ["a", ""]])
def test_notes_without_a_guid_of_their_own_are_refused(guids):
    with pytest.raises(ValueError, match="guid of its own"):
        write_apkg("Deck", [(guid, "front", "back") for guid in guids])


# Packages that cannot be read


def test_bytes_that_are_not_a_zip_file_are_refused():
    with pytest.raises(AnkiPackageError, match=r"^The file is not an Anki package \(\.apkg\)"):
        read_apkg(b"Front,Back\nNeural Networks,Layers of neurons\n")


def test_a_truncated_package_is_refused_as_damaged():
    data = write_apkg("Deep Learning", DEEP_LEARNING)

    with pytest.raises(AnkiPackageError, match="^The package is damaged or incomplete"):
        read_apkg(data[: len(data) // 2])


def test_a_package_whose_collection_bytes_are_corrupt_is_refused_as_damaged():
    data = bytearray(write_apkg("Deep Learning", DEEP_LEARNING))
    start = 30 + len("collection.anki2")  # past the first local header and its name
    data[start + 100 : start + 140] = bytes(40)

    with pytest.raises(AnkiPackageError, match="^The package is damaged or incomplete"):
        read_apkg(bytes(data))


def test_a_zip_without_a_collection_is_refused():
    with pytest.raises(AnkiPackageError, match="^The zip file holds no Anki collection"):
        read_apkg(make_zip({"media": b"{}", "notes.txt": b"Neural Networks"}))


@pytest.mark.parametrize(
    "name", ["../evil.sh", "/etc/cron.d/evil", "media/../../evil", "..\\evil.bat", "C:/evil"]
)
def test_a_package_with_a_file_named_outside_its_folder_is_refused_whole(tmp_path, name):
    collection = zipfile.ZipFile(io.BytesIO(write_apkg("Deck", DEEP_LEARNING))).read(
        "collection.anki2"
    )

    with pytest.raises(AnkiPackageError, match="^The package is refused") as refusal:
        read_apkg(make_zip({"collection.anki2": collection, name: b"echo owned"}))
    assert repr(name) in str(refusal.value)


def test_a_collection_that_is_not_sqlite_is_refused():
    with pytest.raises(AnkiPackageError, match="^The collection inside the package is not an Anki"):
        read_apkg(make_zip({"collection.anki2": b"Neural Networks\x1fLayers of neurons"}))


def test_a_modern_collection_that_is_not_zstd_is_refused():
    with pytest.raises(AnkiPackageError, match="cannot be decompressed"):
        read_apkg(make_zip({"collection.anki21b": b"SQLite format 3\x00 but not zstd"}))


def test_an_sqlite_file_without_anki_s_tables_is_refused(tmp_path):
    database = make_sqlite(tmp_path, "CREATE TABLE notes (id integer, flds text)")

    with pytest.raises(
        AnkiPackageError, match="is not an Anki collection: it has no col, cards, revlog table"
    ):
        read_apkg(make_zip({"collection.anki2": database}))


def test_a_collection_larger_than_the_limit_is_refused_from_its_zip_entry():
    bomb = make_zip({"collection.anki2": bytes(100_000)})

    with pytest.raises(AnkiPackageError, match="^The package is too large: .* more than 50 KB"):
        read_apkg(bomb, max_uncompressed_bytes=50 * 1024)


def test_a_zstd_collection_growing_past_the_limit_is_stopped_while_unpacking():
    zeros = zstandard.ZstdCompressor().compress(bytes(10 * 1024 * 1024))
    bomb = make_zip({"collection.anki21b": zeros})

    assert zipfile.ZipFile(io.BytesIO(bomb)).getinfo("collection.anki21b").file_size < 1024
    with pytest.raises(AnkiPackageError, match="^The package is too large: .* more than 1 MB"):
        read_apkg(bomb, max_uncompressed_bytes=1024 * 1024)


def test_a_package_with_no_notes_is_refused():
    with pytest.raises(AnkiPackageError, match=r"^The package holds no cards\.$"):
        read_apkg(write_apkg("Empty", []))


# Fields and card text


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("Neural Networks", "Neural Networks"),
        ("a &amp; b &lt; c", "a & b < c"),
        ("Neural&nbsp;Networks", "Neural Networks"),
        ("  Weights \n", "Weights"),
        ("line one<br>line two<br />line three", "line one\nline two\nline three"),
        ("<div>one</div><div>two</div>", "one\ntwo"),
        ("one<div>two</div><div><br></div><div>four</div>", "one\ntwo\n\nfour"),
    ],
)
def test_a_field_of_plain_lines_becomes_plain_text(field, text):
    assert html_to_text(field) == text


@pytest.mark.parametrize(
    "field",
    [
        "<b>Bold</b> move",
        "one<br><i>two</i>",
        '<div class="note">kept</div>',
        '<img src="cell.png">',
        "<p>Learned numbers.</p>",
    ],
)
def test_a_field_with_markup_stays_html(field):
    assert html_to_text(f" {field} ") == field


@pytest.mark.parametrize(
    "source",
    ["Neural Networks", "a & b < c", 'Tom\'s "quote"', "line one\nline two", "Costs $5 and $6"],
)
def test_a_plain_front_round_trips_exactly_through_an_anki_field(source):
    field = text_to_field(source, render_markdown(source))

    assert html_to_text(field) == source


def test_a_plain_front_is_written_as_escaped_text_without_a_paragraph():
    assert text_to_field("a & b", "<p>a &amp; b</p>\n") == "a &amp; b"


@pytest.mark.parametrize(
    "source",
    ["**bold** text", "one\n\ntwo", "- encoder\n- decoder", "a \\* b", "&copy; 2026", "$x^2$"],
)
def test_a_formatted_card_is_written_as_its_rendered_html(source):
    rendered = render_markdown(source)

    assert text_to_field(source, rendered) == rendered.strip()


def test_a_password_protected_package_is_refused():
    data = bytearray(write_apkg("Deep Learning", DEEP_LEARNING))
    directory = data.index(b"PK\x01\x02")  # the first central directory entry
    data[directory + 8] |= 0x01  # the "encrypted" flag

    with pytest.raises(AnkiPackageError, match="^The package is password-protected"):
        read_apkg(bytes(data))
