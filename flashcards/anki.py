"""Reading and writing Anki packages (.apkg), with no Django and no clock in it.

A package is a zip holding an SQLite collection: `collection.anki21b` (zstd-compressed, what
current Anki writes), `collection.anki21` (the 2.1 legacy export) or `collection.anki2` (the
oldest, and a "please update Anki" stub beside the newer ones). Media are ignored.

A package comes from a stranger: the work of reading it is bounded as it is read (the limits
below), and a malformed value is refused with a message naming its row.
"""

import hashlib
import html
import io
import json
import re
import sqlite3
import tempfile
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import zstandard

# Newest first: a package from current Anki also holds an older stub that only says "update".
COLLECTION_NAMES = ("collection.anki21b", "collection.anki21", "collection.anki2")
REQUIRED_TABLES = ("col", "notes", "cards", "revlog")
FIELD_SEPARATOR = "\x1f"
DEFAULT_DECK_ID = 1
CHUNK_BYTES = 1024 * 1024
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Limits on reading a package. A real shared deck stays far below each (5,000 notes with 20
# answers each unpack to about 3 MB); each is checked while reading, so a small file that
# unpacks or computes into much more is stopped early.
# The collection is unpacked to a temporary file; SQLite text compresses about 5:1, so a 10 MB
# upload of real notes unpacks to well under this.
MAX_COLLECTION_BYTES = 100 * 1024 * 1024
# No value SQLite hands back may be larger (SQLITE_LIMIT_LENGTH): a note's fields together, or
# a legacy collection's deck list. A card side holds at most 10,000 characters.
MAX_VALUE_BYTES = 1024 * 1024
# As many notes as one import may hold cards.
MAX_NOTES = 100_000
# A note type may make several cards of a note (reversed, cloze); only the first is imported.
MAX_CARD_ROWS = 200_000
# Twice a real 5,000-card deck with 20 answers each; every answer is replayed by the scheduler.
MAX_REVIEW_ROWS = 200_000
# Every note's text together, in characters: what a 10 MB text file could hold.
MAX_TEXT_CHARS = 10_000_000
MAX_DECKS = 10_000
# An Anki collection has about 40 tables and indexes.
MAX_SCHEMA_ENTRIES = 1_000
# SQLite instructions for the whole read: a package at every limit above takes about 20
# million, so only a collection whose reading costs more than its rows stops here.
MAX_SQLITE_STEPS = 100_000_000
SQLITE_STEPS_PER_CHECK = 100_000
# A legacy deck list is three levels deep; json.loads recurses once per level.
MAX_JSON_DEPTH = 20
# Anki's answer ids are their times in milliseconds since 1970; later ones are damaged rows.
LAST_REVIEW = datetime(2100, 1, 1, tzinfo=UTC)
LAST_REVIEW_MS = int((LAST_REVIEW - EPOCH).total_seconds()) * 1000
JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', re.DOTALL)

# Written packages use fixed ids and times so that the same notes give the same bytes.
NOTETYPE_ID = 1_700_000_000_000
DECK_ID = 1_700_000_000_001
FIRST_NOTE_ID = 1_700_000_001_000
FIXED_TIME = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # NOTETYPE_ID, as a time
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
NOTETYPE_NAME = "Basic (flashcards)"


class AnkiPackageError(ValueError):
    """A file that cannot be read as an Anki package; the message is shown to the user."""


@dataclass(frozen=True, slots=True)
class AnkiNote:
    note_id: int
    guid: str
    # The first two fields, front and back: a note type's other fields are not imported.
    fields: list[str]
    tags: list[str]


@dataclass(frozen=True, slots=True)
class AnkiCard:
    card_id: int
    note_id: int
    ordinal: int


@dataclass(frozen=True, slots=True)
class AnkiReview:
    card_id: int
    reviewed_at: datetime
    rating: int
    duration_ms: int
    kind: int


@dataclass(frozen=True, slots=True)
class AnkiPackage:
    deck_name: str | None
    notes: list[AnkiNote]
    cards: list[AnkiCard]
    reviews: list[AnkiReview]


def read_apkg(data: bytes, *, max_uncompressed_bytes: int | None = None) -> AnkiPackage:
    """Read the notes, cards, answers and main deck name of an .apkg file's bytes."""
    limit = max_uncompressed_bytes or MAX_COLLECTION_BYTES
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        if data.startswith(b"PK"):
            raise AnkiPackageError(
                "The package is damaged or incomplete: its zip archive cannot be read."
            ) from error
        raise AnkiPackageError(
            "The file is not an Anki package (.apkg): it is not a zip file."
        ) from None
    with archive, tempfile.TemporaryDirectory(prefix="apkg-") as folder:
        member = _collection_member(archive)
        if member.file_size > limit:
            raise _too_large(limit)
        path = Path(folder) / "collection.sqlite"
        _extract(archive, member, path, limit)
        return _read_collection(path)


def _collection_member(archive):
    for info in archive.infolist():
        name = info.filename.replace("\\", "/")
        if name.startswith("/") or re.match(r"[A-Za-z]:", name) or ".." in name.split("/"):
            raise AnkiPackageError(
                f"The package is refused: it holds a file named {info.filename!r}, "
                "which points outside its folder."
            )
    members = {info.filename: info for info in archive.infolist()}
    for name in COLLECTION_NAMES:
        if name in members:
            return members[name]
    raise AnkiPackageError(
        "The zip file holds no Anki collection (collection.anki21b, collection.anki21 or "
        "collection.anki2): it is not an Anki package."
    )


def _extract(archive, member, path, limit):
    """Copy the collection out, unpacking zstd, and stop as soon as it passes the limit."""
    written = 0
    try:
        with archive.open(member) as raw, path.open("wb") as out:
            stream = raw
            if member.filename.endswith(".anki21b"):
                stream = zstandard.ZstdDecompressor().stream_reader(raw)
            while chunk := stream.read(CHUNK_BYTES):
                written += len(chunk)
                if written > limit:
                    raise _too_large(limit)
                out.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise AnkiPackageError(
            "The package is damaged or incomplete: its collection cannot be unpacked."
        ) from error
    except zstandard.ZstdError as error:
        raise AnkiPackageError(
            "The collection inside the package is damaged: it cannot be decompressed."
        ) from error
    except NotImplementedError as error:
        raise AnkiPackageError(
            "The package uses a zip compression method that cannot be read."
        ) from error
    except RuntimeError as error:  # zipfile's answer to an encrypted member
        raise AnkiPackageError("The package is password-protected and cannot be read.") from error


def _too_large(limit):
    return AnkiPackageError(
        f"The package is too large: its collection unpacks to more than {_size(limit)}."
    )


def _size(count):
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.0f} MB"
    if count >= 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count} bytes"


def _read_collection(path):
    # Read-only and immutable: nothing in the file, not even a journal, is written or replayed.
    connection = sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)
    interrupted = _bound_work(connection)
    try:
        tables = _tables_refusing_computed_values(connection)
        missing = [table for table in REQUIRED_TABLES if table not in tables]
        if missing:
            raise AnkiPackageError(
                "The collection inside the package is not an Anki collection: "
                f"it has no {', '.join(missing)} table."
            )
        return _read_tables(connection, tables)
    except sqlite3.OperationalError as error:
        if interrupted():
            raise AnkiPackageError(
                "The package is refused: reading its collection takes far more work than its "
                "notes and answers need."
            ) from error
        raise _damaged_database() from error
    except sqlite3.DataError as error:
        raise AnkiPackageError(
            f"The package is refused: it holds a value larger than {_size(MAX_VALUE_BYTES)}."
        ) from error
    except sqlite3.DatabaseError as error:
        raise _damaged_database() from error
    finally:
        connection.close()


def _damaged_database():
    return AnkiPackageError(
        "The collection inside the package is not an Anki database, or it is damaged."
    )


def _bound_work(connection):
    """Bound what SQLite may do for the file; return a function telling whether it stopped."""
    # The file comes from a stranger: no trigger or view in it may call functions.
    connection.setconfig(sqlite3.SQLITE_DBCONFIG_TRUSTED_SCHEMA, False)
    connection.setconfig(sqlite3.SQLITE_DBCONFIG_DEFENSIVE, True)
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
    checks = 0

    def over_budget():
        nonlocal checks
        checks += 1
        return checks * SQLITE_STEPS_PER_CHECK > MAX_SQLITE_STEPS

    connection.set_progress_handler(over_budget, SQLITE_STEPS_PER_CHECK)
    return lambda: checks * SQLITE_STEPS_PER_CHECK > MAX_SQLITE_STEPS


def _tables_refusing_computed_values(connection):
    """The collection's table names; a schema that computes values while it is read (a
    generated column, a trigger, a view, a virtual table), which Anki never writes, is refused."""
    tables = []
    for _, (kind, name, sql) in _rows(
        connection,
        "SELECT type, name, sql FROM sqlite_master",
        MAX_SCHEMA_ENTRIES,
        "tables and indexes",
    ):
        if kind in ("trigger", "view"):
            raise _computed(f"a {kind} ({name!r})")
        if kind == "table":
            if isinstance(sql, str) and re.match(r"\s*CREATE\s+VIRTUAL\b", sql, re.IGNORECASE):
                raise _computed(f"a virtual table ({name!r})")
            tables.append(name)
    for table in tables:
        for column, hidden in connection.execute(
            "SELECT name, hidden FROM pragma_table_xinfo(?)", (table,)
        ):
            if hidden:
                raise _computed(f"a generated column ({column!r} in table {table!r})")
    return set(tables)


def _computed(what):
    return AnkiPackageError(
        f"The package is refused: its collection holds {what}, which computes values while it "
        "is read; Anki never writes one."
    )


def _rows(connection, sql, limit, plural):
    """(number from 1, row) of a query, refused past `limit` rows or at a value too large."""
    try:
        for number, row in enumerate(connection.execute(sql), start=1):
            if number > limit:
                raise AnkiPackageError(
                    f"The package is refused: it holds more than {limit:,} {plural}."
                )
            yield number, row
    except sqlite3.DataError as error:
        # Python's cursor steps a row ahead, so the row at fault is not named.
        raise AnkiPackageError(
            f"The package is refused: one of its {plural} holds a value larger than "
            f"{_size(MAX_VALUE_BYTES)}."
        ) from error


def _damaged(where, column, value, kind):
    shown = "NULL" if value is None else repr(value)[:40]
    return AnkiPackageError(f"{where} is damaged: its {column} column holds {shown}, not {kind}.")


def _whole_number(where, column, value):
    if type(value) is not int:
        raise _damaged(where, column, value, "a whole number")
    return value


def _text(where, column, value):
    if type(value) is not str:
        raise _damaged(where, column, value, "text")
    return value


def _read_tables(connection, tables):
    notes, characters = [], 0
    for number, (note_id, guid, flds, tags) in _rows(
        connection,
        "SELECT id, guid, flds, tags FROM notes ORDER BY id",
        MAX_NOTES,
        "notes",
    ):
        where = f"Note {number}"
        text = {"flds": flds, "guid": guid, "tags": tags}
        characters += sum(len(_text(where, column, value)) for column, value in text.items())
        if characters > MAX_TEXT_CHARS:
            raise AnkiPackageError(
                f"The package is refused: its notes hold more than {MAX_TEXT_CHARS:,} "
                "characters of text together."
            )
        notes.append(
            AnkiNote(
                note_id=_whole_number(where, "id", note_id),
                guid=guid,
                fields=flds.split(FIELD_SEPARATOR, 2)[:2],
                tags=tags.split(),
            )
        )
    if not notes:
        raise AnkiPackageError("The package holds no cards.")
    cards = []
    for number, (card_id, note_id, ordinal) in _rows(
        connection, "SELECT id, nid, ord FROM cards", MAX_CARD_ROWS, "cards"
    ):
        where = f"Card {number}"
        cards.append(
            AnkiCard(
                card_id=_whole_number(where, "id", card_id),
                note_id=_whole_number(where, "nid", note_id),
                ordinal=_whole_number(where, "ord", ordinal),
            )
        )
    cards.sort(key=lambda card: (card.note_id, card.ordinal, card.card_id))
    return AnkiPackage(
        deck_name=_main_deck_name(connection, tables),
        notes=notes,
        cards=cards,
        reviews=_read_reviews(connection, {card.card_id for card in cards}),
    )


def _read_reviews(connection, card_ids):
    reviews = []
    for number, (revlog_id, card_id, ease, duration, kind) in _rows(
        connection,
        "SELECT id, cid, ease, time, type FROM revlog ORDER BY id",
        MAX_REVIEW_ROWS,
        "answer rows",
    ):
        # Ease 0 rows are not answers (a reset or a set due date); only answers 1-4 are kept.
        if type(ease) is not int or ease not in (1, 2, 3, 4) or card_id not in card_ids:
            continue
        where = f"Answer row {number}"
        if not 0 <= _whole_number(where, "id", revlog_id) < LAST_REVIEW_MS:
            raise _damaged(where, "id", revlog_id, "a time between 1970 and 2100")
        reviews.append(
            AnkiReview(
                card_id=card_id,
                reviewed_at=EPOCH + timedelta(milliseconds=revlog_id),
                rating=ease,
                duration_ms=_whole_number(where, "time", duration),
                # Anki 23.10 split "rescheduled" (5) from "manual" (4).
                kind=min(_whole_number(where, "type", kind), 4),
            )
        )
    return reviews


def _main_deck_name(connection, tables):
    """The name of the deck holding most cards ("Parent::Child" for a nested one)."""
    if "decks" in tables:
        names = {}
        for number, (deck_id, name) in _rows(
            connection, "SELECT id, name FROM decks", MAX_DECKS, "decks"
        ):
            names[deck_id] = _text(f"Deck {number}", "name", name).replace(FIELD_SEPARATOR, "::")
    else:
        names = _legacy_deck_names(connection.execute("SELECT decks FROM col").fetchone())
    # A card moved into a filtered deck still belongs to its original deck (odid).
    counts = Counter(
        dict(
            connection.execute(
                "SELECT CASE WHEN odid != 0 THEN odid ELSE did END, count(*) FROM cards GROUP BY 1"
            ).fetchall()
        )
    )
    candidates = [deck_id for deck_id in names if deck_id != DEFAULT_DECK_ID or counts[deck_id] > 0]
    if not candidates:
        return None
    return names[max(candidates, key=lambda deck_id: counts[deck_id])]


def _legacy_deck_names(row):
    """Deck names by id from a legacy collection's deck list (JSON in its col table)."""
    if not row or not row[0]:
        return {}
    damaged = AnkiPackageError(
        "The collection's deck list is damaged: it is not a list of named decks in JSON."
    )
    if type(row[0]) is not str:
        raise damaged
    if _json_depth(row[0]) > MAX_JSON_DEPTH:
        raise AnkiPackageError(
            f"The collection's deck list is refused: it nests deeper than {MAX_JSON_DEPTH} levels."
        )
    try:
        decks = json.loads(row[0])
        names = {int(deck_id): deck["name"] for deck_id, deck in decks.items()}
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise damaged from error
    if len(names) > MAX_DECKS or any(type(name) is not str for name in names.values()):
        raise damaged
    return names


def _json_depth(text):
    """How deep arrays and objects nest in JSON text, counted no further than the limit."""
    depth = 0
    for token in JSON_NESTING.finditer(text):
        opening = token[0]
        if opening in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                break
        elif opening in "]}":
            depth -= 1
    return depth


def write_apkg(
    deck_name: str, notes: list[tuple[str, str, str]], *, now: datetime | None = None
) -> bytes:
    """An .apkg of new Front/Back cards in one deck, from (guid, front, back) in order."""
    # Anki matches notes by guid and updates one only when the package's copy is newer:
    # without `now`, a second export of the same guids leaves the notes in Anki as they were.
    guids = [guid for guid, _, _ in notes]
    if any(not guid for guid in guids) or len(set(guids)) != len(guids):
        raise ValueError("Every note needs a guid of its own.")
    stamp = int(((now or FIXED_TIME) - EPOCH).total_seconds())
    connection = sqlite3.connect(":memory:")
    try:
        connection.executescript(SCHEMA_11)
        connection.execute(
            "INSERT INTO col VALUES (1, ?, ?, ?, 11, 0, 0, 0, ?, ?, ?, ?, '{}')",
            (
                stamp,
                stamp * 1000,
                stamp * 1000,
                json.dumps(_collection_config(len(notes))),
                json.dumps({str(NOTETYPE_ID): _notetype(stamp)}),
                json.dumps(
                    {
                        "1": _deck(DEFAULT_DECK_ID, "Default", 0),
                        str(DECK_ID): _deck(DECK_ID, deck_name, stamp),
                    }
                ),
                json.dumps({"1": DECK_CONFIG}),
            ),
        )
        for position, (guid, front, back) in enumerate(notes, start=1):
            note_id = FIRST_NOTE_ID + position
            # The separator cannot stand inside a field: it would split it in two.
            fields = [front.replace(FIELD_SEPARATOR, " "), back.replace(FIELD_SEPARATOR, " ")]
            sort_field = _strip_html(fields[0])
            checksum = int(hashlib.sha1(sort_field.encode()).hexdigest()[:8], 16)
            connection.execute(
                "INSERT INTO notes VALUES (?, ?, ?, ?, -1, '', ?, ?, ?, 0, '')",
                (
                    note_id,
                    guid,
                    NOTETYPE_ID,
                    stamp,
                    FIELD_SEPARATOR.join(fields),
                    sort_field,
                    checksum,
                ),
            )
            connection.execute(
                "INSERT INTO cards VALUES (?, ?, ?, 0, ?, -1, 0, 0, ?, 0, 0, 0, 0, 0, 0, 0, 0, '')",
                (note_id, note_id, DECK_ID, stamp, position),
            )
        connection.commit()
        collection = connection.serialize()
    finally:
        connection.close()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in (("collection.anki2", collection), ("media", b"{}")):
            # A fixed date: zipfile would otherwise stamp each member with the clock.
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _strip_html(field):
    return html.unescape(re.sub(r"<[^>]*>", "", field)).strip()


def _collection_config(note_count):
    return {
        "nextPos": note_count + 1,
        "estTimes": True,
        "activeDecks": [DEFAULT_DECK_ID],
        "sortType": "noteFld",
        "timeLim": 0,
        "sortBackwards": False,
        "addToCur": True,
        "curDeck": DEFAULT_DECK_ID,
        "newSpread": 0,
        "dueCounts": True,
        "curModel": NOTETYPE_ID,
        "collapseTime": 1200,
        "schedVer": 2,
    }


def _notetype(stamp):
    return {
        "id": NOTETYPE_ID,
        "name": NOTETYPE_NAME,
        "type": 0,
        "mod": stamp,
        "usn": -1,
        "sortf": 0,
        "did": DECK_ID,
        "tmpls": [
            {
                "name": "Card 1",
                "ord": 0,
                "qfmt": "{{Front}}",
                "afmt": "{{FrontSide}}\n\n<hr id=answer>\n\n{{Back}}",
                "bqfmt": "",
                "bafmt": "",
                "did": None,
                "bfont": "",
                "bsize": 0,
            }
        ],
        "flds": [
            {
                "name": name,
                "ord": ordinal,
                "sticky": False,
                "rtl": False,
                "font": "Arial",
                "size": 20,
                "media": [],
            }
            for ordinal, name in enumerate(("Front", "Back"))
        ],  # fmt: skip
        "css": (
            ".card {\n font-family: arial;\n font-size: 20px;\n text-align: center;\n"
            " color: black;\n background-color: white;\n}\n"
        ),
        "latexPre": (
            "\\documentclass[12pt]{article}\n\\special{papersize=3in,5in}\n"
            "\\usepackage[utf8]{inputenc}\n\\usepackage{amssymb,amsmath}\n"
            "\\pagestyle{empty}\n\\setlength{\\parindent}{0in}\n\\begin{document}\n"
        ),
        "latexPost": "\\end{document}",
        "latexsvg": False,
        "req": [[0, "any", [0]]],
        "tags": [],
        "vers": [],
    }


def _deck(deck_id, name, stamp):
    return {
        "id": deck_id,
        "name": name,
        "mod": stamp,
        "usn": -1,
        "desc": "",
        "dyn": 0,
        "conf": 1,
        "collapsed": False,
        "browserCollapsed": False,
        "extendNew": 0,
        "extendRev": 0,
        "newToday": [0, 0],
        "revToday": [0, 0],
        "lrnToday": [0, 0],
        "timeToday": [0, 0],
    }


DECK_CONFIG = {
    "id": 1,
    "name": "Default",
    "mod": 0,
    "usn": 0,
    "maxTaken": 60,
    "autoplay": True,
    "timer": 0,
    "replayq": True,
    "dyn": False,
    "new": {
        "bury": False,
        "delays": [1.0, 10.0],
        "initialFactor": 2500,
        "ints": [1, 4, 0],
        "order": 1,
        "perDay": 20,
    },
    "rev": {"bury": False, "ease4": 1.3, "ivlFct": 1.0, "maxIvl": 36500, "perDay": 200},
    "lapse": {"delays": [10.0], "leechAction": 1, "leechFails": 8, "minInt": 1, "mult": 0.0},
}

# The classic collection layout (schema 11), which every Anki since 2.1 imports.
SCHEMA_11 = """
CREATE TABLE col (
    id integer PRIMARY KEY, crt integer NOT NULL, mod integer NOT NULL,
    scm integer NOT NULL, ver integer NOT NULL, dty integer NOT NULL, usn integer NOT NULL,
    ls integer NOT NULL, conf text NOT NULL, models text NOT NULL, decks text NOT NULL,
    dconf text NOT NULL, tags text NOT NULL
);
CREATE TABLE notes (
    id integer PRIMARY KEY, guid text NOT NULL, mid integer NOT NULL, mod integer NOT NULL,
    usn integer NOT NULL, tags text NOT NULL, flds text NOT NULL, sfld integer NOT NULL,
    csum integer NOT NULL, flags integer NOT NULL, data text NOT NULL
);
CREATE TABLE cards (
    id integer PRIMARY KEY, nid integer NOT NULL, did integer NOT NULL, ord integer NOT NULL,
    mod integer NOT NULL, usn integer NOT NULL, type integer NOT NULL, queue integer NOT NULL,
    due integer NOT NULL, ivl integer NOT NULL, factor integer NOT NULL, reps integer NOT NULL,
    lapses integer NOT NULL, left integer NOT NULL, odue integer NOT NULL,
    odid integer NOT NULL, flags integer NOT NULL, data text NOT NULL
);
CREATE TABLE revlog (
    id integer PRIMARY KEY, cid integer NOT NULL, usn integer NOT NULL, ease integer NOT NULL,
    ivl integer NOT NULL, lastIvl integer NOT NULL, factor integer NOT NULL,
    time integer NOT NULL, type integer NOT NULL
);
CREATE TABLE graves (usn integer NOT NULL, oid integer NOT NULL, type integer NOT NULL);
CREATE INDEX ix_notes_usn ON notes (usn);
CREATE INDEX ix_cards_usn ON cards (usn);
CREATE INDEX ix_revlog_usn ON revlog (usn);
CREATE INDEX ix_cards_nid ON cards (nid);
CREATE INDEX ix_cards_sched ON cards (did, queue, due);
CREATE INDEX ix_revlog_cid ON revlog (cid);
CREATE INDEX ix_notes_csum ON notes (csum);
"""

BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A <br> closing a <div> draws no extra line: the div already ends it.
BREAK_ENDING_DIV = re.compile(r"<br\s*/?>(?=</div>)", re.IGNORECASE)
DIV_OPEN = re.compile(r"<div>", re.IGNORECASE)
DIV_CLOSE = re.compile(r"</div>", re.IGNORECASE)
TAG = re.compile(r"<[A-Za-z/!?]")


def html_to_text(field: str) -> str:
    """An Anki field as card text: plain text when it is only lines, else the HTML unchanged."""
    text = BREAK_ENDING_DIV.sub("", field)
    text = DIV_CLOSE.sub("", DIV_OPEN.sub("\n", BREAK.sub("\n", text)))
    if TAG.search(text):
        return field.strip()
    # Anki's editor types &nbsp; for many spaces; as text they are plain spaces.
    return html.unescape(text).replace("\xa0", " ").strip()


def text_to_field(markdown_source: str, rendered_html: str) -> str:
    """What goes into an Anki field: escaped source for one plain paragraph, else the HTML."""
    source = markdown_source.strip()
    rendered = rendered_html.strip()
    paragraph = re.fullmatch(r"<p>([^<]*)</p>", rendered)
    # Only when Markdown changed nothing (no backslash escape, no entity) is the source exact.
    if paragraph and html.unescape(paragraph[1]) == source:
        return html.escape(source, quote=False)
    return rendered
