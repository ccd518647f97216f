"""Files to import are read with bounded work: a small hostile file is refused with a message
before it can expand into much more, and a malformed value is refused naming its row."""

import io
import sqlite3
import zipfile

import pytest
import zstandard
from django.core.management import CommandError, call_command

from flashcards import anki, exports, imports, rendering
from flashcards.models import Card, Deck, Review

SCHEMA = """
CREATE TABLE col (id integer PRIMARY KEY, decks text);
CREATE TABLE notes (id integer PRIMARY KEY, guid text, tags text, flds text);
CREATE TABLE cards (id integer PRIMARY KEY, nid integer, did integer, ord integer, odid integer);
CREATE TABLE revlog (
    id integer PRIMARY KEY, cid integer, ease integer, time integer, type integer
);
"""
DECKS = '{"1": {"id": 1, "name": "Default"}, "2": {"id": 2, "name": "Probe"}}'
SEPTEMBER_2020_MS = 1_600_000_000_000


def package(
    notes=((1, "g1", "", "Front\x1fBack"),),
    reviews=(),
    *,
    schema=SCHEMA,
    decks=DECKS,
    statements=(),
    member="collection.anki21b",
):
    """An .apkg of a collection with these notes (one card each) and revlog rows."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(schema)
    connection.execute("INSERT INTO col VALUES (1, ?)", (decks,))
    if notes:
        connection.executemany("INSERT INTO notes VALUES (?, ?, ?, ?)", notes)
    connection.execute("INSERT INTO cards SELECT id, id, 2, 0, 0 FROM notes")
    connection.executemany("INSERT INTO revlog VALUES (?, ?, ?, ?, ?)", reviews)
    for statement in statements:
        connection.execute(statement)
    connection.commit()
    collection = connection.serialize()
    connection.close()
    if member.endswith(".anki21b"):
        collection = zstandard.ZstdCompressor().compress(collection)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, collection)
    return buffer.getvalue()


def notes(count):
    return [(n, f"g{n}", "", f"Front {n}\x1fBack {n}") for n in range(1, count + 1)]


def answers(count, card_id=1):
    return [(SEPTEMBER_2020_MS + n * 1000, card_id, 3, 4000, 1) for n in range(count)]


def refusal(filename, data):
    with pytest.raises(imports.ImportRefused) as refused:
        imports.parse_file(filename, data)
    return str(refused.value)


# Packages whose reading would compute or expand far beyond their bytes


def test_a_generated_column_computing_a_huge_field_is_refused_before_it_is_read():
    generated = SCHEMA.replace(
        "flds text", "flds text GENERATED ALWAYS AS (printf('%.*c', 100000000, 'x')) VIRTUAL"
    )
    data = package([], schema=generated, statements=["INSERT INTO notes VALUES (1, 'g', '')"])

    assert len(data) < 1024
    assert refusal("probe.apkg", data) == (
        "The package is refused: its collection holds a generated column ('flds' in table "
        "'notes'), which computes values while it is read; Anki never writes one."
    )


@pytest.mark.parametrize(
    ("statement", "what"),
    [
        ("CREATE TRIGGER grow AFTER INSERT ON notes BEGIN SELECT 1; END", "a trigger ('grow')"),
        ("CREATE VIEW every_note AS SELECT * FROM notes", "a view ('every_note')"),
    ],
)
def test_a_collection_with_a_trigger_or_a_view_is_refused(statement, what):
    message = refusal("probe.apkg", package(statements=[statement]))

    assert message.startswith(f"The package is refused: its collection holds {what}, ")


def test_a_field_larger_than_sqlite_may_hand_back_is_refused():
    huge = "Front\x1f" + "x" * (anki.MAX_VALUE_BYTES + 1)

    data = package([(1, "g1", "", "A\x1fB"), (2, "g2", "", huge)])

    assert len(data) < 2048
    assert refusal("probe.apkg", data) == (
        "The package is refused: one of its notes holds a value larger than 1 MB."
    )


def test_a_side_longer_than_a_card_may_hold_is_refused_naming_its_note():
    long_back = "word " * (rendering.MAX_SIDE_CHARS // 5 + 1)

    message = refusal("probe.apkg", package([*notes(2), (3, "g3", "", f"Front\x1f{long_back}")]))

    assert message.startswith("Note 3: the back is ")
    assert message.endswith(f"a card side may hold at most {rendering.MAX_SIDE_CHARS:,}.")


def test_notes_past_the_limit_are_refused_as_they_are_read(monkeypatch):
    monkeypatch.setattr(anki, "MAX_NOTES", 3)

    assert len(imports.parse_file("probe.apkg", package(notes(3))).cards) == 3
    assert refusal("probe.apkg", package(notes(4))) == (
        "The package is refused: it holds more than 3 notes."
    )


def test_answer_rows_past_the_limit_are_refused_as_they_are_read(monkeypatch):
    monkeypatch.setattr(anki, "MAX_REVIEW_ROWS", 5)

    assert imports.parse_file("probe.apkg", package(reviews=answers(5))).answers == 5
    assert refusal("probe.apkg", package(reviews=answers(6))) == (
        "The package is refused: it holds more than 5 answer rows."
    )


def test_card_rows_past_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(anki, "MAX_CARD_ROWS", 2)

    assert refusal("probe.apkg", package(notes(3))) == (
        "The package is refused: it holds more than 2 cards."
    )


def test_notes_holding_more_text_together_than_the_limit_are_refused(monkeypatch):
    monkeypatch.setattr(anki, "MAX_TEXT_CHARS", 100)

    message = refusal("probe.apkg", package(notes(10)))

    assert message == (
        "The package is refused: its notes hold more than 100 characters of text together."
    )


def test_a_read_that_costs_more_sqlite_work_than_the_budget_is_stopped(monkeypatch):
    monkeypatch.setattr(anki, "MAX_SQLITE_STEPS", 200_000)
    monkeypatch.setattr(anki, "SQLITE_STEPS_PER_CHECK", 1_000)

    message = refusal("probe.apkg", package(notes(20_000)))

    assert message == (
        "The package is refused: reading its collection takes far more work than its notes "
        "and answers need."
    )


def test_a_deck_list_nested_a_hundred_thousand_levels_deep_is_refused_before_json_reads_it():
    data = package(decks="[" * 100_000 + "]" * 100_000, member="collection.anki2")

    assert len(data) < 2048
    assert refusal("probe.apkg", data) == (
        "The collection's deck list is refused: it nests deeper than 20 levels."
    )


@pytest.mark.parametrize(
    "decks", ["{not json", '{"2": {"id": 2, "name": 12345}}', "[1, 2]", '{"x": {"name": "A"}}']
)
def test_a_legacy_deck_list_that_is_not_named_decks_in_json_is_refused(decks):
    assert refusal("probe.apkg", package(decks=decks, member="collection.anki2")) == (
        "The collection's deck list is damaged: it is not a list of named decks in JSON."
    )


def test_a_deck_named_by_a_number_is_refused_naming_its_row():
    modern = SCHEMA + "CREATE TABLE decks (id integer PRIMARY KEY, name integer);"

    data = package(schema=modern, statements=["INSERT INTO decks VALUES (2, 12345)"])

    assert refusal("probe.apkg", data) == (
        "Deck 1 is damaged: its name column holds 12345, not text."
    )


# Malformed values, each refused naming its row


@pytest.mark.parametrize(
    ("note", "message"),
    [
        ((1, "g1", None, "Front\x1fBack"), "its tags column holds NULL, not text."),
        ((1, "g1", "", None), "its flds column holds NULL, not text."),
        ((1, "g1", "", b"\x00\x01"), "its flds column holds b'\\x00\\x01', not text."),
        ((1, None, "", "Front\x1fBack"), "its guid column holds NULL, not text."),
    ],
)
def test_a_note_with_a_value_of_the_wrong_kind_is_refused_naming_it(note, message):
    assert refusal("probe.apkg", package([note])) == f"Note 1 is damaged: {message}"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            (SEPTEMBER_2020_MS, 1, 3, 4000, None),
            "Answer row 2 is damaged: its type column holds NULL, not a whole number.",
        ),
        (
            (SEPTEMBER_2020_MS, 1, 3, "slow", 1),
            "Answer row 2 is damaged: its time column holds 'slow', not a whole number.",
        ),
        (
            (2**63 - 1, 1, 3, 4000, 1),
            "Answer row 2 is damaged: its id column holds 9223372036854775807, "
            "not a time between 1970 and 2100.",
        ),
        (
            (-5, 1, 3, 4000, 1),
            "Answer row 1 is damaged: its id column holds -5, not a time between 1970 and 2100.",
        ),
    ],
)
def test_an_answer_row_with_a_value_of_the_wrong_kind_is_refused_naming_it(row, message):
    assert refusal("probe.apkg", package(reviews=[(1000, 1, 3, 4000, 1), row])) == message


def test_rows_that_are_not_answers_are_skipped_whatever_they_hold():
    rows = [(SEPTEMBER_2020_MS, 1, 0, None, None), (SEPTEMBER_2020_MS + 1, 99, 3, "x", None)]

    assert imports.parse_file("probe.apkg", package(reviews=rows)).answers == 0


@pytest.mark.parametrize(
    "filename",
    ["generated.apkg", "null-tags.apkg", "deep.apkg", "too-many.csv", "long-side.csv"],
)
def test_a_refused_file_given_to_import_deck_writes_nothing(db, tmp_path, filename):
    generated = SCHEMA.replace("flds text", "flds text GENERATED ALWAYS AS (zeroblob(1e9))")
    one_note = ["INSERT INTO notes VALUES (1, 'g', '')"]
    files = {
        "generated.apkg": package([], schema=generated, statements=one_note),
        "null-tags.apkg": package([(1, "g1", None, "Front\x1fBack")]),
        "deep.apkg": package(decks="{" * 50_000, member="collection.anki2"),
        "too-many.csv": "".join(f"Front {n},Back\n" for n in range(imports.MAX_CARDS + 1)).encode(),
        "long-side.csv": f"Front,{'x' * (rendering.MAX_SIDE_CHARS + 1)}\n".encode(),
    }  # fmt: skip
    path = tmp_path / filename
    path.write_bytes(files[filename])

    with pytest.raises(CommandError, match="Nothing was imported"):
        call_command("import_deck", str(path))

    assert (Deck.objects.count(), Card.objects.count(), Review.objects.count()) == (0, 0, 0)


def test_a_real_sized_package_of_five_thousand_notes_with_twenty_answers_each_is_read():
    rows = [
        (SEPTEMBER_2020_MS + (note * 20 + n) * 60_000, note, 1 + (note + n) % 4, 5000, 1)
        for note in range(1, 5001)
        for n in range(20)
    ]

    parsed = imports.parse_file("real.apkg", package(notes(5000), rows))

    assert (len(parsed.cards), parsed.answers) == (5000, 100_000)


# CSV and source documents


def test_csv_rows_past_the_card_limit_are_refused_as_they_are_read(monkeypatch):
    monkeypatch.setattr(imports, "MAX_CARDS", 3)
    rows = "".join(f"Front {n},Back {n}\n" for n in range(4))

    assert refusal("deck.csv", rows.encode()) == (
        "The file is refused: it holds more than 3 cards, the most one import may hold."
    )


def test_a_csv_of_as_many_rows_as_an_import_may_hold_is_read():
    rows = "".join(f"Front {n},Back {n},tag\n" for n in range(imports.MAX_CARDS))

    assert len(imports.parse_file("deck.csv", rows.encode()).cards) == imports.MAX_CARDS


def test_a_csv_side_longer_than_a_card_may_hold_is_refused_naming_its_line():
    data = f"front,back\nOne,1\nTwo,{'x' * (rendering.MAX_SIDE_CHARS + 1)}\n".encode()

    assert refusal("deck.csv", data).startswith("Line 3: the back is ")


def test_csv_tags_longer_than_a_card_holds_are_refused_naming_the_line():
    data = f"One,1,{'tag ' * 200}\n".encode()

    assert refusal("deck.csv", data) == (
        "Line 1: the tags are 799 characters long; a card's tags may hold at most 500."
    )


def test_a_source_document_of_more_lines_than_the_limit_is_refused_before_it_is_parsed():
    data = ("Title\nHeading\n" + "a\n" * imports.MAX_SOURCE_LINES).encode()

    assert refusal("deck.txt", data) == (
        f"The document has {imports.MAX_SOURCE_LINES + 3:,} lines; "
        f"a source document may have at most {imports.MAX_SOURCE_LINES:,}."
    )


def test_a_source_document_side_longer_than_a_card_may_hold_is_refused_naming_its_line():
    data = f"Title\n\nShort front\n{'word ' * rendering.MAX_SIDE_CHARS}\n".encode()

    assert refusal("deck.txt", data).startswith("Line 3: the back is ")


# Spreadsheet formulas in CSV exports


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1 is negative", "'-1 is negative"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTabbed", "'\tTabbed"),
        ("\rReturn", "'\rReturn"),
        ("'=already quoted", "''=already quoted"),
        ("Plain", "Plain"),
        ("It's fine", "It's fine"),
        ("'quoted", "'quoted"),
        (3, 3),
    ],
)
def test_a_cell_a_spreadsheet_would_read_as_a_formula_gets_an_apostrophe(cell, written):
    assert exports.spreadsheet_safe(cell) == written


@pytest.mark.parametrize(
    ("front", "back", "tags"),
    [
        ("-1 is negative", "=SUM(A1:A3)", "@mention"),
        ("'=quoted already", "+1 more", "-tag"),
        ("'plain apostrophe", "It's fine", ""),
    ],
)
def test_a_csv_export_with_formula_like_cells_imports_back_unchanged(learner, front, back, tags):
    deck = Deck.objects.create(title="Formulas", owner=learner)
    Card.objects.create(deck=deck, front=front, back=back, tags=tags, position=1)

    data = exports.export_csv(deck)

    assert data.decode().splitlines()[1].startswith(exports.spreadsheet_safe(front))
    (card,) = imports.parse_file("formulas.csv", data).cards
    assert (card.front, card.back, card.tags) == (front, back, tags)
