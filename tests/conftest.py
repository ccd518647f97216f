import itertools
from datetime import timedelta
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command

from flashcards import answering, scheduling
from flashcards.models import Card, Deck, Memory, Review, profile_for

_names = itertools.count(1)


@pytest.fixture(autouse=True)
def fast_and_plain_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Tests do not run collectstatic, so static files keep their plain names.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.TIME_ZONE = "UTC"


@pytest.fixture(autouse=True)
def empty_cache():
    """Login failures and sessions live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def make_user(username=None, **fields):
    username = username or f"learner{next(_names)}"
    return get_user_model().objects.create_user(username, password="correct horse 42", **fields)


def make_deck(title=None, *, cards=3, owner=None, published=True):
    deck = Deck.objects.create(
        title=title or f"Deck {next(_names)}", owner=owner, published=published
    )
    Card.objects.bulk_create(
        Card(deck=deck, front=f"Front {n}", back=f"Back {n}", position=n)
        for n in range(1, cards + 1)
    )
    return deck


def make_review(
    user,
    card,
    *,
    at,
    day=None,
    rating=scheduling.GOOD,
    duration_ms=1000,
    state_before=scheduling.NEW,
    interval_days=None,
    stability_before=10.0,
    difficulty_before=5.0,
    state_after=scheduling.REVIEW,
    stability_after=10.0,
    difficulty_after=5.0,
    due_after=None,
):
    """One answer written directly, numbered after the learner's earlier answers to the card.

    It counts on `day`, by default the learner's study day of `at`, and is its first of that
    day unless an earlier answer is, as the app records it. A card that was not new had been
    scheduled `interval_days` before this answer and was due at it (None: no memory before).
    """
    day = day or profile_for(user).study_date(at)
    before = scheduling.Memory(state=state_before)
    if interval_days is not None:
        before = scheduling.Memory(
            state=state_before,
            stability=stability_before,
            difficulty=difficulty_before,
            due=at,
            last_review=at - timedelta(days=interval_days),
        )
    answers = Review.objects.filter(user=user, card=card)
    review = Review(
        user=user,
        card=card,
        deck_id=card.deck_id,
        rating=rating,
        reviewed_at=at,
        study_day=day,
        first_of_day=not answers.filter(study_day=day, reviewed_at__lt=at).exists(),
        duration_ms=duration_ms,
        number=answers.count() + 1,
    )
    after = scheduling.Memory(
        state=state_after,
        stability=stability_after,
        difficulty=difficulty_after,
        due=due_after or at + timedelta(days=3),
    )
    review.set_memories(before, after)
    review.save(force_insert=True)
    return review


def make_memory(
    user,
    card,
    *,
    due,
    state=scheduling.REVIEW,
    last_review=None,
    stability=10.0,
    difficulty=5.0,
    reps=None,
):
    """The learner's memory of a card written directly: last answered 3 days before it is due
    unless said, after as many answers as were written for it (at least one)."""
    learning = state in (scheduling.LEARNING, scheduling.RELEARNING)
    return Memory.objects.create(
        user=user,
        card=card,
        deck_id=card.deck_id,
        state=state,
        step=0 if learning else None,
        due=due,
        last_review=last_review or due - timedelta(days=3),
        stability=stability,
        difficulty=difficulty,
        reps=reps or max(1, Review.objects.filter(user=user, card=card).count()),
    )


def answer(user, card, rating, now, *, expected_reps=None, duration_ms=1500, shown_at=None):
    """Answer a card through the one answer path the study view takes; by default as the
    learner who sees the card's current review count. Returns an answering.Answered."""
    if expected_reps is None:
        memory = Memory.objects.filter(user=user, card=card).first()
        expected_reps = memory.reps if memory else 0
    return answering.answer_card(
        user,
        card.deck.slug,
        card.pk,
        rating,
        expected_reps=expected_reps,
        now=now,
        duration_ms=duration_ms,
        profile=profile_for(user),
        shown_at=shown_at,
    )


@pytest.fixture
def learner(db):
    return make_user()


@pytest.fixture
def other_learner(db):
    return make_user()


@pytest.fixture
def deck(db):
    return make_deck("Capitals", cards=3)


@pytest.fixture
def source_deck(db):
    call_command("loaddata", "fixtures/deep-learning-flashcards.json", verbosity=0)
    return Deck.objects.get(slug="deep-learning-flashcards")


def run_worker():
    """Run every task that is due, as `manage.py db_worker --batch` does, then stop."""
    # Between tasks the worker closes a connection inside a transaction, as the test's is.
    with mock.patch("django_tasks_db.management.commands.db_worker.close_old_connections"):
        call_command(
            "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
        )
