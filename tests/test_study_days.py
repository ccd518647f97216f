"""Time since a card's previous answer counts in study days: in the answer, on its buttons, in
every replay of the history and in the fit, one convention for all."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from flashcards import fitting, scheduling
from flashcards.models import Memory, Review, profile_for
from flashcards.personal import learner_answers
from tests.conftest import make_deck, make_user
from tests.test_views import HTMX, answer_url, logged_in, study_url

# A learner in UTC answers a review card at 10:00 on 2 March (study day 2 March).
LAST_ANSWER = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def review_card_of(learner, card, *, last_review=LAST_ANSWER, stability=3.0):
    """The learner's memory of `card`: in review, answered at `last_review`, due a day later."""
    memory = Memory(user=learner, card=card, deck_id=card.deck_id)
    memory.set_from(
        scheduling.Memory(
            state=scheduling.REVIEW,
            stability=stability,
            difficulty=5.0,
            due=last_review + timedelta(days=1),
            last_review=last_review,
            reps=2,
        )
    )
    memory.save()
    return memory


def answer_at(learner, deck, card, rating, at, *, shown_at=None):
    with time_machine.travel(at, tick=False):
        data = {"card": card.pk, "rating": rating, "reps": 2}
        if shown_at is not None:
            data["shown_at"] = int(shown_at.timestamp() * 1000)
        response = logged_in(learner).post(answer_url(deck), data, **HTMX)
    assert response.status_code == 200, response.text
    return Memory.objects.get(user=learner, card=card)


@pytest.mark.django_db
def test_a_card_answered_on_the_next_study_day_gets_the_same_memory_at_23h55_and_24h05():
    deck = make_deck(cards=1)
    card = deck.cards.get()
    memories = []
    for after in (timedelta(hours=23, minutes=55), timedelta(hours=24, minutes=5)):
        learner = make_user()
        review_card_of(learner, card)
        memories.append(answer_at(learner, deck, card, scheduling.GOOD, LAST_ANSWER + after))

    early, late = memories
    assert early.stability == late.stability
    assert early.difficulty == late.difficulty
    assert (early.due - early.last_review).days == (late.due - late.last_review).days
    # Both are the long-term update one day after, not a second answer the same day.
    one_day = scheduling.review(
        review_card_of(make_user(), card).as_scheduling(),
        scheduling.GOOD,
        LAST_ANSWER + timedelta(days=1),
        elapsed_days=1,
        seed=None,
    )
    same_day = scheduling.review(
        review_card_of(make_user(), card).as_scheduling(),
        scheduling.GOOD,
        LAST_ANSWER + timedelta(hours=1),
        elapsed_days=0,
        seed=None,
    )
    assert early.stability == pytest.approx(one_day.stability)
    assert early.stability > same_day.stability


@pytest.mark.django_db
def test_an_answer_after_the_rollover_is_a_day_later_however_few_hours_have_passed():
    deck = make_deck(cards=1)
    card = deck.cards.get()
    learner = make_user()
    # Answered at 03:00 on 3 March, still study day 2 March; then at 05:00, study day 3 March.
    review_card_of(learner, card, last_review=datetime(2026, 3, 3, 3, 0, tzinfo=UTC))
    memory = answer_at(learner, deck, card, scheduling.GOOD, datetime(2026, 3, 3, 5, 0, tzinfo=UTC))

    review = Review.objects.get(user=learner)
    assert review.study_day.isoformat() == "2026-03-03"
    assert review.first_of_day
    expected = scheduling.review(
        review.memory_before(), scheduling.GOOD, review.reviewed_at, elapsed_days=1, seed=None
    )
    assert memory.stability == pytest.approx(expected.stability)


def button_labels(html):
    """{rating: interval label} of the answer buttons on a study page."""
    return {
        int(rating): label
        for rating, label in re.findall(
            r'name="rating" value="(\d)"[^>]*>.*?<span class="interval">([^<]+)</span>', html, re.S
        )
    }


@pytest.mark.django_db
def test_the_buttons_show_the_intervals_applied_even_when_the_day_rolls_over_on_screen():
    deck = make_deck(cards=1)
    card = deck.cards.get()
    learner = make_user()
    # Answered on study day 1 March: on 2 March one day has passed, on 3 March two.
    review_card_of(learner, card, last_review=datetime(2026, 3, 1, 10, 0, tzinfo=UTC))
    shown = datetime(2026, 3, 3, 3, 59, tzinfo=UTC)  # study day 2 March, a minute to go
    with time_machine.travel(shown, tick=False):
        page = logged_in(learner).get(study_url(deck), **HTMX).text
    labels = button_labels(page)
    assert set(labels) == set(scheduling.RATINGS), page
    shown_at = int(re.search(r'name="shown_at" value="(\d+)"', page).group(1))
    assert shown_at == int(shown.timestamp() * 1000)

    answered = datetime(2026, 3, 3, 4, 1, tzinfo=UTC)  # study day 3 March
    memory = answer_at(learner, deck, card, scheduling.EASY, answered, shown_at=shown)

    assert scheduling.format_interval(memory.due - answered) == labels[scheduling.EASY]
    assert Review.objects.get(user=learner).study_day.isoformat() == "2026-03-02"
    # Had it counted the answer's own day, the interval would differ.
    next_day = scheduling.review(
        Review.objects.get(user=learner).memory_before(),
        scheduling.EASY,
        answered,
        elapsed_days=2,
        seed=scheduling.fuzz_seed(card.pk, 2),
    )
    assert next_day.due != memory.due


@pytest.mark.django_db
def test_a_shown_time_older_than_the_day_before_or_in_the_future_is_not_believed():
    learner = make_user()
    profile = profile_for(learner)
    now = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    today = profile.study_date(now)

    assert profile.answer_day(now, now - timedelta(hours=9)) == today - timedelta(days=1)
    assert profile.answer_day(now, now - timedelta(days=2)) == today
    assert profile.answer_day(now, now + timedelta(hours=1)) == today
    assert profile.answer_day(now, None) == today


@pytest.mark.django_db
def test_the_memories_the_app_keeps_are_those_the_fit_replays():
    """What the fit predicts before each review is what the live scheduler believed then."""
    deck = make_deck(cards=10)
    learner = make_user()
    profile = profile_for(learner)
    profile.desired_retention = 0.97  # short intervals: many reviews in few days
    profile.save()
    client = logged_in(learner)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    # Answer whatever is due at about the same hour each day, a little earlier or later.
    for day in range(45):
        at = start + timedelta(days=day, minutes=(-10, 7, -3, 12)[day % 4])
        with time_machine.travel(at, tick=False):
            page = client.get(study_url(deck), **HTMX).text
        for _ in range(12):
            found = re.search(r'name="card" value="(\d+)".*?name="reps" value="(\d+)"', page, re.S)
            if not found:
                break
            card_id, reps = int(found.group(1)), int(found.group(2))
            rating = scheduling.AGAIN if (day + card_id) % 4 == 0 else scheduling.GOOD
            at += timedelta(minutes=2)
            with time_machine.travel(at, tick=False):
                page = client.post(
                    answer_url(deck), {"card": card_id, "rating": rating, "reps": reps}, **HTMX
                ).text
    reviews = {(r.card_id, r.reviewed_at): r for r in Review.objects.filter(user=learner)}
    answers = learner_answers(learner)
    predictions = fitting.predictions(fitting.default_parameters(), answers)

    under_a_day = 0
    assert len(predictions) > 40
    for prediction in predictions:
        review = reviews[(prediction.answer.card_id, prediction.answer.reviewed_at)]
        before = review.memory_before()
        under_a_day += review.reviewed_at - before.last_review < timedelta(days=1)
        assert scheduling.retrievability(before, prediction.elapsed_days) == pytest.approx(
            prediction.probability, rel=1e-12
        )
    # Answers a little under 24 hours after the one before are among them.
    assert under_a_day > 5
