"""Reading and writing Anki packages (.apkg), with no Django and no clock in it.

A package is a zip holding an SQLite collection: `collection.anki21b` (zstd-compressed, what
current Anki writes), `collection.anki21` (the 2.1 legacy export) or `collection.anki2` (the
oldest, and a "please update Anki" stub beside the newer ones). Media are ignored.
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

# Written packages use fixed ids and times so that the same notes give the same bytes.
NOTETYPE_ID = 1_700_000_000_000
DECK_ID = 1_700_000_000_001
FIRST_NOTE_ID = 1_700_000_001_000
FIXED_TIME = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)  # NOTETYPE_ID, as a time
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
NOTETYPE_NAME = "Basic (flashcards)"


class AnkiPackageError(ValueError):
    """A file that cannot be read as an Anki package; the message is shown to the user."""


@dataclass(frozen=True)
class AnkiNote:
    note_id: int
    guid: str
    fields: list[str]
    tags: list[str]


@dataclass(frozen=True)
class AnkiCard:
    card_id: int
    note_id: int
    ordinal: int


@dataclass(frozen=True)
class AnkiReview:
    card_id: int
    reviewed_at: datetime
    rating: int
    duration_ms: int
    kind: int


@dataclass(frozen=True)
class AnkiPackage:
    deck_name: str | None
    notes: list[AnkiNote]
    cards: list[AnkiCard]
    reviews: list[AnkiReview]


def read_apkg(data: bytes, *, max_uncompressed_bytes: int = 200 * 1024 * 1024) -> AnkiPackage:
    """Read the notes, cards, answers and main deck name of an .apkg file's bytes."""
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
        if member.file_size > max_uncompressed_bytes:
            raise _too_large(max_uncompressed_bytes)
        path = Path(folder) / "collection.sqlite"
        _extract(archive, member, path, max_uncompressed_bytes)
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
    connection = sqlite3.connect(path)
    try:
        # The file comes from a stranger: no trigger or view in it may call functions.
        connection.execute("PRAGMA trusted_schema = OFF")
        tables = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        missing = [table for table in REQUIRED_TABLES if table not in tables]
        if missing:
            raise AnkiPackageError(
                "The collection inside the package is not an Anki collection: "
                f"it has no {', '.join(missing)} table."
            )
        return _read_tables(connection, tables)
    except sqlite3.DatabaseError as error:
        raise AnkiPackageError(
            "The collection inside the package is not an Anki database, or it is damaged."
        ) from error
    finally:
        connection.close()


def _read_tables(connection, tables):
    notes = [
        AnkiNote(
            note_id=note_id,
            guid=guid,
            fields=flds.split(FIELD_SEPARATOR),
            tags=tags.split(),
        )
        for note_id, guid, flds, tags in connection.execute(
            "SELECT id, guid, flds, tags FROM notes ORDER BY id"
        )
    ]
    if not notes:
        raise AnkiPackageError("The package holds no cards.")
    cards = [
        AnkiCard(card_id=card_id, note_id=note_id, ordinal=ordinal)
        for card_id, note_id, ordinal in connection.execute(
            "SELECT id, nid, ord FROM cards ORDER BY nid, ord, id"
        )
    ]
    # Ease 0 rows are not answers (a reset or a set due date); only answers 1-4 are kept.
    reviews = [
        AnkiReview(
            card_id=card_id,
            reviewed_at=EPOCH + timedelta(milliseconds=revlog_id),
            rating=ease,
            duration_ms=duration,
            kind=min(kind, 4),  # Anki 23.10 split "rescheduled" (5) from "manual" (4)
        )
        for revlog_id, card_id, ease, duration, kind in connection.execute(
            "SELECT id, cid, ease, time, type FROM revlog"
            " WHERE ease BETWEEN 1 AND 4 AND cid IN (SELECT id FROM cards) ORDER BY id"
        )
    ]
    return AnkiPackage(
        deck_name=_main_deck_name(connection, tables),
        notes=notes,
        cards=cards,
        reviews=reviews,
    )


def _main_deck_name(connection, tables):
    """The name of the deck holding most cards ("Parent::Child" for a nested one)."""
    if "decks" in tables:
        names = {
            deck_id: name.replace(FIELD_SEPARATOR, "::")
            for deck_id, name in connection.execute("SELECT id, name FROM decks")
        }
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
    try:
        decks = json.loads(row[0]) if row and row[0] else {}
        return {int(deck_id): deck["name"] for deck_id, deck in decks.items()}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


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
