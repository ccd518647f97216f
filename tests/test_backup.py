import errno
import gzip
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from flashcards.models import Card, Deck, Memory, Profile, Review, profile_for
from flashcards.simulation import simulate
from tests.conftest import make_deck, make_user

END = datetime(2026, 6, 1, 12, tzinfo=UTC)
MODELS = (get_user_model(), Deck, Card, Profile, Memory, Review)


def snapshot():
    return {
        model.__name__: sorted(model.objects.values_list(), key=lambda row: row[0])
        for model in MODELS
    }


@pytest.fixture
def studied_database(db):
    learner = make_user(is_staff=True)
    profile = profile_for(learner)
    profile.timezone = "Europe/Paris"
    profile.save()
    make_deck("Private", cards=5, owner=learner)
    deck = make_deck("Curated", cards=40)
    simulate(learner, deck.cards.all(), profile, end=END, days=30, answers=300, seed=4)
    assert Review.objects.count() > 150


@pytest.mark.django_db(transaction=True)
def test_a_backup_restores_every_user_deck_card_memory_and_answer(studied_database, tmp_path):
    before = snapshot()
    path = tmp_path / "backup.xml.gz"
    call_command("backup", path)
    call_command("restore", path, replace=True, interactive=False)
    assert snapshot() == before
    user = get_user_model().objects.get()
    assert user.check_password("correct horse 42")


@pytest.mark.django_db(transaction=True)
def test_a_backup_fills_an_empty_database(studied_database, tmp_path):
    before = snapshot()
    path = tmp_path / "backup.xml.gz"
    call_command("backup", path)
    call_command("flush", interactive=False, verbosity=0)
    assert not Review.objects.exists()
    call_command("restore", path)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_a_backup_from_before_answers_kept_their_cards_maturity_restores_it(
    studied_database, tmp_path
):
    # Four months of study: long enough for cards to become mature.
    veteran = make_user()
    deck = make_deck("Long studied", cards=40)
    simulate(veteran, deck.cards.all(), profile_for(veteran), end=END, days=120, answers=400)
    assert Review.objects.filter(mature_before=True).count() > 10
    before = snapshot()
    path = tmp_path / "backup.xml.gz"
    call_command("backup", path)
    with gzip.open(path, "rt", encoding="utf-8") as backup:
        text = backup.read()
    older = re.sub(r'<field name="mature_before" type="BooleanField">\w+</field>\s*', "", text)
    assert "mature_before" in text and "mature_before" not in older
    with gzip.open(path, "wt", encoding="utf-8") as backup:
        backup.write(older)

    call_command("restore", path, replace=True, interactive=False)

    assert snapshot() == before


def test_restore_refuses_to_overwrite_a_database_by_accident(studied_database, tmp_path):
    path = tmp_path / "backup.xml.gz"
    call_command("backup", path)
    before = snapshot()
    with pytest.raises(CommandError, match="not empty"):
        call_command("restore", path)
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
def test_a_broken_backup_changes_nothing(studied_database, tmp_path):
    before = snapshot()
    path = tmp_path / "broken.xml.gz"
    with gzip.open(path, "wt") as broken:
        broken.write('<?xml version="1.0"?><django-objects><object model="flashcards.deck">')
    with pytest.raises(CommandError, match="not a whole backup"):
        call_command("restore", path, replace=True, interactive=False)
    assert snapshot() == before


def gzipped(data):
    return gzip.compress(data)


NOT_BACKUPS = {
    "empty file": (b"", "not a whole backup"),
    "empty gzip": (gzipped(b""), "not a whole backup"),
    "not gzip": (b"<django-objects></django-objects>", "not a backup"),
    "truncated": (gzipped(b'<?xml version="1.0"?><django-objects>' + b" " * 4000)[:-30], "not a"),
    "no user": (
        gzipped(b'<?xml version="1.0"?><django-objects version="1.0"></django-objects>'),
        "holds no user",
    ),
    "other XML": (gzipped(b"<html><object model='auth.user'/></html>"), "not Django objects"),
}


@pytest.mark.parametrize("kind", NOT_BACKUPS)
def test_restore_refuses_a_file_that_is_not_a_whole_backup_and_changes_nothing(
    studied_database, tmp_path, kind
):
    data, message = NOT_BACKUPS[kind]
    path = tmp_path / "backup.xml.gz"
    path.write_bytes(data)
    before = snapshot()
    with pytest.raises(CommandError, match=message):
        call_command("restore", path, replace=True, interactive=False)
    assert snapshot() == before


def test_an_empty_file_run_as_the_readme_says_exits_with_an_error(tmp_path):
    """As an operator would run it: the exit code tells a script the restore failed."""
    path = tmp_path / "empty.xml.gz"
    path.touch()
    environ = {**os.environ, "VAR_DIR": str(tmp_path), "SECRET_KEY": "x" * 50}
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    restore = subprocess.run(
        [sys.executable, "manage.py", "restore", str(path), "--replace", "--yes"],
        cwd=settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert restore.returncode == 1
    assert "is not a whole backup" in restore.stderr
    assert "Restored" not in restore.stdout


def backup_of_the_database(tmp_path):
    path = tmp_path / "backup.xml.gz"
    call_command("backup", path)
    return path


@pytest.mark.django_db(transaction=True)
def test_replace_says_what_it_deletes_and_restores(studied_database, tmp_path):
    path = backup_of_the_database(tmp_path)
    output = io.StringIO()
    call_command("restore", path, replace=True, interactive=False, stdout=output)
    answers = Review.objects.count()
    assert (
        f"The database holds 1 users, 2 decks, {answers} answers: --replace deletes them all, "
        f"and restores 1 users, 2 decks, {answers} answers from {path}."
    ) in output.getvalue()


def test_replace_without_a_terminal_nor_yes_changes_nothing(studied_database, tmp_path):
    path = backup_of_the_database(tmp_path)
    make_deck("Made after the backup", cards=1)
    before = snapshot()
    with pytest.raises(CommandError, match="no terminal to confirm on; say --yes"):
        call_command("restore", path, replace=True, stdout=io.StringIO())
    assert snapshot() == before


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("answer", "replaced"), [("yes", True), ("y", False), ("", False)])
def test_replace_asks_for_yes_on_a_terminal(
    studied_database, tmp_path, monkeypatch, answer, replaced
):
    path = backup_of_the_database(tmp_path)
    make_deck("Made after the backup", cards=1)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt: answer)
    if replaced:
        call_command("restore", path, replace=True, stdout=io.StringIO())
    else:
        with pytest.raises(CommandError, match="Nothing changed"):
            call_command("restore", path, replace=True, stdout=io.StringIO())
    assert Deck.objects.filter(title="Made after the backup").exists() is not replaced


def test_a_backup_cut_short_leaves_the_previous_one_whole(studied_database, tmp_path, monkeypatch):
    path = backup_of_the_database(tmp_path)
    whole = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("flashcards.management.commands.backup.call_command", full_disk)
    with pytest.raises(OSError):
        call_command("backup", path)
    assert path.read_bytes() == whole
    assert [file.name for file in tmp_path.iterdir()] == [path.name]
