import gzip
import re
from datetime import UTC, datetime

import pytest
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
    call_command("restore", path, replace=True)
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

    call_command("restore", path, replace=True)

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
    with pytest.raises(Exception):  # noqa: B017 - any loaddata error; the point is what follows
        call_command("restore", path, replace=True)
    assert snapshot() == before
