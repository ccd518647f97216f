"""Data migrations keep every learner's memory and history: run on a database with history."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from flashcards import scheduling

BEFORE = ("flashcards", "0006_deck_pooled_parameters")
STUDY_DAYS = ("flashcards", "0007_memories_count_study_days")
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SLOW_LEARNER = [
    0.1, 0.3, 0.8, 3.0, 7.5, 0.6, 2.0, 0.1, 1.2, 0.1, 2.5, 1.5, 0.08, 0.4, 1.8, 0.4, 1.5,
    0.6, 0.3, 0.1, 0.3,
]  # fmt: skip


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


def write_history(apps, user, card, answers):
    """Store answers [(rating, reviewed_at, fresh)] as 24-hour periods had scheduled them, with
    memories that do not matter: the migration must rebuild them from the ratings and days."""
    Review = apps.get_model("flashcards", "Review")
    Memory = apps.get_model("flashcards", "Memory")
    for number, (rating, at, fresh) in enumerate(answers, start=1):
        Review.objects.create(
            user=user,
            card=card,
            deck_id=card.deck_id,
            rating=rating,
            reviewed_at=at,
            study_day=(at - timedelta(hours=4)).date(),
            number=number,
            state_before=scheduling.NEW if fresh else scheduling.REVIEW,
            stability_before=None if fresh else 99.0,
            state_after=scheduling.REVIEW,
            stability_after=99.0,
            difficulty_after=1.0,
            due_after=at + timedelta(days=300),
        )
    return Memory.objects.create(
        user=user,
        card=card,
        deck_id=card.deck_id,
        state=scheduling.REVIEW,
        stability=99.0,
        difficulty=1.0,
        due=answers[-1][1] + timedelta(days=300),
        last_review=answers[-1][1],
        reps=len(answers),
    )


def replayed(answers, card_id, **options):
    """The memories a replay counting study days gives, worked out here step by step."""
    memory, last_day, memories = scheduling.Memory(), None, []
    for rating, at, fresh in answers:
        if fresh:
            memory = scheduling.Memory(reps=memory.reps)
        day = (at - timedelta(hours=4)).date()
        after = scheduling.review(
            memory,
            rating,
            at,
            elapsed_days=None if memory.state == scheduling.NEW else (day - last_day).days,
            seed=scheduling.fuzz_seed(card_id, memory.reps),
            **options,
        )
        memories.append((memory, after))
        memory, last_day = after, day
    return memories


@pytest.fixture
def back_to_the_latest_schema():
    yield
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("back_to_the_latest_schema")
def test_memories_and_the_memories_in_history_are_rebuilt_counting_study_days():
    apps = migrate(BEFORE)
    User = apps.get_model("auth", "User")
    Deck = apps.get_model("flashcards", "Deck")
    Card = apps.get_model("flashcards", "Card")
    Profile = apps.get_model("flashcards", "Profile")
    Memory = apps.get_model("flashcards", "Memory")
    deck = Deck.objects.create(title="History", slug="history", published=True)
    cards = [
        Card.objects.create(deck=deck, front=f"Q{n}", back=f"A{n}", position=n) for n in range(3)
    ]
    plain, fitted = User.objects.create(username="plain"), User.objects.create(username="fitted")
    Profile.objects.create(user=fitted, parameters=SLOW_LEARNER, desired_retention=0.8)
    good, again = scheduling.GOOD, scheduling.AGAIN
    # Learning steps the first day, then answers a little under 24 hours apart.
    daily = [
        (good, START, True),
        (good, START + timedelta(minutes=10), False),
        (good, START + timedelta(hours=23, minutes=50), False),
        (again, START + timedelta(days=1, hours=23, minutes=40), False),
        (good, START + timedelta(days=1, hours=23, minutes=50), False),
        (good, START + timedelta(days=5, hours=23), False),
    ]
    # Reset after the third answer, then learnt again.
    reset = daily[:3] + [
        (good, START + timedelta(days=3), True),
        (good, START + timedelta(days=3, minutes=10), False),
        (good, START + timedelta(days=4, hours=23, minutes=50), False),
    ]
    histories = {
        (plain, cards[0]): daily,
        (plain, cards[1]): reset,
        (fitted, cards[0]): daily,
    }
    for (user, card), answers in histories.items():
        write_history(apps, user, card, answers)
    never_again = write_history(apps, plain, cards[2], daily[:3])
    Memory.objects.filter(pk=never_again.pk).update(state=scheduling.NEW, last_review=None)

    apps = migrate(STUDY_DAYS)

    Memory = apps.get_model("flashcards", "Memory")
    Review = apps.get_model("flashcards", "Review")
    options = {
        "plain": {},
        "fitted": {"parameters": SLOW_LEARNER, "desired_retention": 0.8},
    }
    for (user, card), answers in histories.items():
        expected = replayed(answers, card.pk, **options[user.username])
        memory = Memory.objects.get(user_id=user.pk, card_id=card.pk)
        after = expected[-1][1]
        assert (memory.state, memory.stability, memory.difficulty, memory.due) == (
            after.state,
            after.stability,
            after.difficulty,
            after.due,
        )
        assert (memory.reps, memory.lapses, memory.last_review) == (
            after.reps,
            after.lapses,
            after.last_review,
        )
        rows = Review.objects.filter(user_id=user.pk, card_id=card.pk).order_by("number")
        for row, (before, after) in zip(rows, expected, strict=True):
            assert (row.state_before, row.stability_before, row.due_before) == (
                before.state,
                before.stability,
                before.due,
            )
            assert (row.stability_after, row.difficulty_after, row.due_after) == (
                after.stability,
                after.difficulty,
                after.due,
            )
            assert row.rating == answers[row.number - 1][0]
    # The answer 23h50m after the one before counted as a day later, not the same day.
    plain_first = replayed(daily, cards[0].pk)
    assert plain_first[2][1].stability > plain_first[2][0].stability * 1.5
    # A card reset and never answered since stays new; its history is untouched.
    untouched = Memory.objects.get(pk=never_again.pk)
    assert (untouched.state, untouched.stability) == (scheduling.NEW, 99.0)
    assert Review.objects.filter(card_id=cards[2].pk, stability_after=99.0).count() == 3
    assert date(2026, 3, 2) in set(Review.objects.values_list("study_day", flat=True))
