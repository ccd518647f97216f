import importlib
import random
import zoneinfo
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.apps import apps as django_apps
from django.db import connection
from django.template.defaultfilters import date as date_filter
from django.template.defaultfilters import pluralize
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flashcards import answering, charts, scheduling, stats
from flashcards.models import Card, Memory, MemorySnapshot, Review, StudyDayTotal, profile_for
from flashcards.queue import study_queue
from flashcards.simulation import simulate
from tests import conftest
from tests.conftest import make_deck, make_user

AGAIN, HARD, GOOD, EASY = scheduling.RATINGS
NEW, LEARNING, REVIEW, RELEARNING = (
    scheduling.NEW,
    scheduling.LEARNING,
    scheduling.REVIEW,
    scheduling.RELEARNING,
)

TODAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def in_zone(user, name):
    profile = profile_for(user)
    profile.timezone = name
    profile.save()
    return profile


def write_review(user, card, *, day, at=None, **fields):
    """One answer counted on study day `day`, given at noon UTC that day unless `at` says."""
    at = at or datetime.combine(day, time(12), tzinfo=UTC)
    return conftest.make_review(user, card, at=at, day=day, **fields)


def answer(user, card, rating, now, profile):
    answered = conftest.answer(user, card, rating, now, duration_ms=2000)
    assert answered.created, answered.refusal
    return answered.review


def cards_of(deck):
    return list(deck.cards.order_by("position"))


def answers_of(user):
    """The learner's answers summed by study day, which every answer figure is computed from."""
    return stats.answers_by_day(user, TODAY)


# Answers by study day: the one query behind today, streak, heatmap, time and retention.


def answers_by_day_by_hand(reviews):
    """{study day: Day} from the raw rows, with the interval worked out for every answer."""
    sums = defaultdict(Counter)
    for r in reviews.values():
        day = sums[r["study_day"]]
        day["answers"] += 1
        day["milliseconds"] += r["duration_ms"]
        day["again"] += r["rating"] == AGAIN
        if r["state_before"] == REVIEW and r["first_of_day"]:
            interval = r["due_before"] - r["last_review_before"]
            kind = "young" if interval < timedelta(days=21) else "mature"
            day[kind] += 1
            day[f"{kind}_passed"] += r["rating"] != AGAIN
    fields = stats.Day.__dataclass_fields__
    return {date: stats.Day(**{name: day[name] for name in fields}) for date, day in sums.items()}


def test_answers_by_day_sums_each_study_day_as_the_answers_counted_one_by_one(learner):
    decks = [make_deck(cards=4), make_deck(cards=3)]
    cards = cards_of(decks[0]) + cards_of(decks[1])
    rng = random.Random(7)
    answers = []
    for _ in range(120):
        at = NOON - timedelta(days=rng.randrange(12), minutes=rng.randrange(600))
        state = rng.choice([NEW, LEARNING, REVIEW, REVIEW, REVIEW, RELEARNING])
        interval = rng.choice([2, 20.9, 21, 60]) if state == REVIEW else None
        answers.append((at, rng.choice(cards), state, interval, rng.choice(scheduling.RATINGS)))
    # In order of time, so that a card's later answers on a day are not its first of the day.
    for at, card, state, interval, rating in sorted(answers, key=lambda answer: answer[0]):
        write_review(
            learner,
            card,
            day=(at - timedelta(hours=4)).date(),
            at=at,
            rating=rating,
            duration_ms=rng.randrange(500, 30_000),
            state_before=state,
            interval_days=interval,
        )
    write_review(make_user(), cards[0], day=TODAY, state_before=REVIEW, interval_days=40)
    mine = Review.objects.filter(user=learner)
    expected = answers_by_day_by_hand(mine)

    # The history has every kind of answer the sums tell apart.
    assert len(expected) > 10
    assert mine.filter(first_of_day=False, state_before=REVIEW).exists()
    assert all(
        sum(getattr(day, kind) for day in expected.values()) > 3
        for kind in ("again", "young", "young_passed", "mature", "mature_passed")
    )
    assert stats.sum_by_day(mine) == expected
    one_deck = mine.filter(deck=decks[1])
    assert stats.sum_by_day(one_deck) == answers_by_day_by_hand(one_deck)
    assert stats.sum_by_day(one_deck) != expected
    # The same sums, past days kept as totals: for all decks and one, first and again.
    for _ in range(2):
        assert stats.answers_by_day(learner, TODAY) == expected
        assert stats.answers_by_day(learner, TODAY, decks[1]) == answers_by_day_by_hand(one_deck)
    assert StudyDayTotal.objects.filter(user=learner).exists()


def test_past_days_are_read_from_their_totals_until_past_answers_change(learner):
    card = make_deck(cards=1).cards.get()
    for days_ago in (0, 1, 5, 5, 9):
        write_review(learner, card, day=TODAY - timedelta(days=days_ago))
    first = stats.answers_by_day(learner, TODAY)
    kept = StudyDayTotal.objects.filter(user=learner)
    assert sorted(kept.values_list("study_day", flat=True)) == [
        TODAY - timedelta(days=9),
        TODAY - timedelta(days=5),
    ]

    # An answer written into a past day behind the totals' back is not seen...
    write_review(learner, card, day=TODAY - timedelta(days=5))
    write_review(learner, card, day=TODAY)
    again = stats.answers_by_day(learner, TODAY)
    assert again[TODAY - timedelta(days=5)] == first[TODAY - timedelta(days=5)]
    assert again[TODAY].answers == first[TODAY].answers + 1
    # ...until past answers are declared changed, as imports and rescheduling do.
    StudyDayTotal.forget([learner.pk])
    assert stats.answers_by_day(learner, TODAY)[TODAY - timedelta(days=5)].answers == 3


def test_reading_answers_by_day_takes_the_same_queries_for_a_long_history(learner):
    card = make_deck(cards=1).cards.get()

    def queries_after(days):
        for days_ago in range(days):
            write_review(learner, card, day=TODAY - timedelta(days=days_ago))
        stats.answers_by_day(learner, TODAY)
        with CaptureQueriesContext(connection) as queries:
            stats.answers_by_day(learner, TODAY)
        return len(queries)

    assert queries_after(3) == queries_after(60)


# Today, streak, heatmap, time per answer.


def test_today_counts_the_answers_minutes_and_again_rate_of_the_study_day(learner):
    card, other_card, third = cards_of(make_deck(cards=3))
    write_review(learner, card, day=TODAY, rating=AGAIN, duration_ms=30_000)
    write_review(learner, other_card, day=TODAY, rating=GOOD, duration_ms=45_000)
    write_review(learner, third, day=TODAY, rating=EASY, duration_ms=15_000)
    write_review(learner, card, day=TODAY, rating=GOOD, duration_ms=30_000)
    write_review(learner, third, day=TODAY - timedelta(days=1), rating=AGAIN, duration_ms=9_000)
    write_review(make_user(), card, day=TODAY, rating=AGAIN, duration_ms=60_000)

    figures = stats.today(answers_of(learner), TODAY)

    assert figures == {"answers": 4, "minutes": 2.0, "again_rate": 0.25}


def test_today_without_answers_has_no_again_rate(learner):
    card = make_deck(cards=1).cards.get()
    write_review(learner, card, day=TODAY - timedelta(days=1))

    figures = stats.today(answers_of(learner), TODAY)

    assert figures == {"answers": 0, "minutes": 0, "again_rate": None}


def test_the_streak_counts_consecutive_study_days_ending_today(learner):
    card = make_deck(cards=1).cards.get()
    for days_ago in (0, 0, 1, 2, 3, 5, 6):
        write_review(learner, card, day=TODAY - timedelta(days=days_ago))

    assert stats.streak(answers_of(learner), TODAY) == 4


def test_the_streak_still_counts_when_today_is_not_done_yet_but_yesterday_is(learner):
    card = make_deck(cards=1).cards.get()
    for days_ago in (1, 2, 4):
        write_review(learner, card, day=TODAY - timedelta(days=days_ago))

    assert stats.streak(answers_of(learner), TODAY) == 2


def test_the_streak_is_broken_by_a_day_without_answers(learner):
    card = make_deck(cards=1).cards.get()
    for days_ago in (2, 3, 4):
        write_review(learner, card, day=TODAY - timedelta(days=days_ago))
    write_review(make_user(), card, day=TODAY)

    assert stats.streak(answers_of(learner), TODAY) == 0
    assert stats.streak(stats.sum_by_day(Review.objects.none()), TODAY) == 0


def test_the_heatmap_counts_answers_per_study_day_of_the_last_year(learner):
    card = make_deck(cards=1).cards.get()
    days_ago = [0, 0, 0, 1, 10, 10, 364, 365, 400]
    for n in days_ago:
        write_review(learner, card, day=TODAY - timedelta(days=n))
    write_review(make_user(), card, day=TODAY)

    heatmap = stats.heatmap(answers_of(learner), TODAY)

    assert heatmap == {
        TODAY: 3,
        TODAY - timedelta(days=1): 1,
        TODAY - timedelta(days=10): 2,
        TODAY - timedelta(days=364): 1,
    }
    assert stats.heatmap(answers_of(learner), TODAY, days=2) == {
        TODAY: 3,
        TODAY - timedelta(days=1): 1,
    }


def test_the_heatmap_labels_each_day_as_the_templates_date_filter_would():
    answers = {TODAY - timedelta(days=n): n % 3 for n in range(400) if n % 3}

    days = charts.heatmap(answers, TODAY)["days"]

    assert len(days) == 365
    assert {day.answers for day in days} == {0, 1, 2}
    for day in days:
        date_text = date_filter(day.date, "D j M Y")
        assert day.date_text == date_text
        assert day.label == f"{date_text}: {day.answers} answer{pluralize(day.answers)}"


def test_seconds_per_answer_is_the_average_time_or_a_typical_one_before_any_answer(learner):
    card = make_deck(cards=1).cards.get()
    for duration_ms in (2_000, 4_000, 9_000):
        write_review(learner, card, day=TODAY, duration_ms=duration_ms)

    assert stats.seconds_per_answer(answers_of(learner)) == pytest.approx(5.0)
    no_answers = stats.sum_by_day(Review.objects.none())
    assert stats.seconds_per_answer(no_answers) == stats.DEFAULT_SECONDS_PER_ANSWER


# The study day: 4 AM to 4 AM in the learner's zone, kept on each answer.


def test_an_answer_at_3_59_local_belongs_to_the_previous_study_day(learner):
    profile = in_zone(learner, "Asia/Tokyo")
    first, second = cards_of(make_deck(cards=2))
    # 03:59 and 04:00 on 10 March in Tokyo are still 9 March in UTC.
    before_rollover = datetime(2026, 3, 9, 18, 59, tzinfo=UTC)
    at_rollover = datetime(2026, 3, 9, 19, 0, tzinfo=UTC)

    late = answer(learner, first, GOOD, before_rollover, profile)
    early = answer(learner, second, GOOD, at_rollover, profile)

    assert late.study_day == date(2026, 3, 9)
    assert early.study_day == date(2026, 3, 10)
    assert profile.study_day(before_rollover) == (
        datetime(2026, 3, 8, 19, 0, tzinfo=UTC),
        at_rollover,
    )
    by_day = answers_of(learner)
    assert stats.today(by_day, date(2026, 3, 10))["answers"] == 1
    assert stats.heatmap(by_day, date(2026, 3, 10)) == {
        date(2026, 3, 9): 1,
        date(2026, 3, 10): 1,
    }


def test_past_answers_keep_their_study_days_after_a_time_zone_change(learner):
    profile = in_zone(learner, "Europe/Berlin")
    first, second, third = cards_of(make_deck(cards=3))
    # 04:30 in Berlin on 10 March, which is still 9 March (23:30) in New York.
    in_berlin = answer(learner, first, GOOD, datetime(2026, 3, 10, 3, 30, tzinfo=UTC), profile)

    profile = in_zone(learner, "America/New_York")
    # 03:30 and 04:30 in New York (daylight time, UTC-4) on 10 March.
    before_rollover = answer(
        learner, second, GOOD, datetime(2026, 3, 10, 7, 30, tzinfo=UTC), profile
    )
    after_rollover = answer(learner, third, GOOD, datetime(2026, 3, 10, 8, 30, tzinfo=UTC), profile)

    in_berlin.refresh_from_db()
    assert in_berlin.study_day == date(2026, 3, 10)
    assert profile.study_date(in_berlin.reviewed_at) == date(2026, 3, 9)
    assert before_rollover.study_day == date(2026, 3, 9)
    assert after_rollover.study_day == date(2026, 3, 10)
    by_day = answers_of(learner)
    assert stats.today(by_day, date(2026, 3, 10))["answers"] == 2
    assert stats.heatmap(by_day, date(2026, 3, 10)) == {
        date(2026, 3, 9): 1,
        date(2026, 3, 10): 2,
    }
    assert stats.streak(by_day, date(2026, 3, 10)) == 2


def test_moving_west_does_not_break_the_streak(learner):
    profile = in_zone(learner, "Europe/Berlin")
    first, second, third = cards_of(make_deck(cards=3))
    answer(learner, first, GOOD, datetime(2026, 3, 8, 12, 0, tzinfo=UTC), profile)
    answer(learner, second, GOOD, datetime(2026, 3, 9, 12, 0, tzinfo=UTC), profile)
    # 04:30 in Berlin: the study day of 10 March has begun there.
    answer(learner, third, GOOD, datetime(2026, 3, 10, 3, 30, tzinfo=UTC), profile)

    profile = in_zone(learner, "America/New_York")
    now = datetime(2026, 3, 10, 6, 0, tzinfo=UTC)  # 02:00 in New York: still 9 March
    today_date = profile.study_date(now)

    assert today_date == date(2026, 3, 9)
    # 8 and 9 March end today; the day kept as 10 March has not come yet in New York.
    assert stats.streak(answers_of(learner), today_date) == 2


# Forecast.


def test_the_forecast_counts_overdue_cards_and_cards_due_before_the_next_rollover_today(
    learner,
):
    profile = in_zone(learner, "Europe/Berlin")
    now = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)  # noon in Berlin (UTC+1)
    cards = cards_of(make_deck(cards=7))
    dues = [
        datetime(2026, 2, 20, 9, 0, tzinfo=UTC),  # overdue: today
        datetime(2026, 3, 10, 10, 50, tzinfo=UTC),  # learning step due ten minutes ago: today
        datetime(2026, 3, 11, 2, 59, tzinfo=UTC),  # 03:59 tomorrow in Berlin: still today
        datetime(2026, 3, 11, 3, 0, tzinfo=UTC),  # 04:00 tomorrow in Berlin: tomorrow
        datetime(2026, 3, 12, 2, 0, tzinfo=UTC),  # 03:00 on 12 March: 11 March
        datetime(2026, 4, 8, 12, 0, tzinfo=UTC),  # the 30th and last day shown
        datetime(2026, 4, 9, 2, 0, tzinfo=UTC),  # 04:00 on 9 April: beyond the forecast
    ]
    for card, due in zip(cards, dues, strict=True):
        conftest.make_memory(learner, card, due=due)
    conftest.make_memory(make_user(), cards[0], due=dues[0])

    forecast = stats.forecast(stats.memory_figures(learner, profile, now), profile, now)

    assert [day for day, _ in forecast] == [TODAY + timedelta(days=n) for n in range(30)]
    assert [count for _, count in forecast] == [3, 2] + [0] * 27 + [1]


def test_forecast_days_start_at_4_am_local_across_a_daylight_saving_change(learner):
    profile = in_zone(learner, "Europe/Berlin")
    now = datetime(2026, 3, 27, 11, 0, tzinfo=UTC)  # Friday noon; clocks go forward on Sunday
    cards = cards_of(make_deck(cards=3))
    dues = [
        datetime(2026, 3, 29, 2, 30, tzinfo=UTC),  # Sunday 04:30 summer time: Sunday
        datetime(2026, 3, 30, 1, 59, tzinfo=UTC),  # Monday 03:59 summer time: still Sunday
        datetime(2026, 3, 30, 2, 30, tzinfo=UTC),  # Monday 04:30 summer time: Monday
    ]
    for card, due in zip(cards, dues, strict=True):
        conftest.make_memory(learner, card, due=due)

    forecast = stats.forecast(stats.memory_figures(learner, profile, now), profile, now)[:4]

    assert forecast == [
        (date(2026, 3, 27), 0),
        (date(2026, 3, 28), 0),
        (date(2026, 3, 29), 2),
        (date(2026, 3, 30), 1),
    ]


# True retention.


def test_true_retention_counts_first_answers_of_the_day_on_review_cards(learner):
    cards = cards_of(make_deck(cards=8))
    at_ten = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)

    def on(days_ago, card, rating, interval_days, *, at=None, state_before=REVIEW):
        write_review(
            learner,
            card,
            day=TODAY - timedelta(days=days_ago),
            at=at or at_ten - timedelta(days=days_ago),
            rating=rating,
            state_before=state_before,
            interval_days=interval_days,
        )

    on(0, cards[0], GOOD, 5)  # young, passed
    on(0, cards[0], AGAIN, 5, at=at_ten + timedelta(hours=2))  # second answer today: ignored
    on(1, cards[0], GOOD, 5)  # first answer of yesterday: counted
    on(3, cards[1], AGAIN, 30)  # mature, failed
    on(6, cards[2], AGAIN, 20.9)  # young (just under 21 days), failed: last day of the week
    on(7, cards[3], GOOD, 3)  # young, only in the 30 and 365 day periods
    on(10, cards[4], HARD, 21)  # mature (exactly 21 days), passed
    on(100, cards[5], EASY, 2)  # young, passed, only in the year
    on(365, cards[6], GOOD, 2)  # more than a year ago
    on(0, cards[7], AGAIN, None, state_before=LEARNING)  # not a review card
    write_review(make_user(), cards[1], day=TODAY, state_before=REVIEW, interval_days=40)

    retention = stats.true_retention(answers_of(learner), TODAY)

    def figures(passed, total):
        return {"passed": passed, "total": total, "rate": passed / total if total else None}

    assert retention == [
        {"days": 7, "young": figures(2, 3), "mature": figures(0, 1)},
        {"days": 30, "young": figures(3, 4), "mature": figures(1, 2)},
        {"days": 365, "young": figures(4, 5), "mature": figures(1, 2)},
    ]


def test_true_retention_without_review_answers_has_no_rates(learner):
    card = make_deck(cards=1).cards.get()
    write_review(learner, card, day=TODAY)

    retention = stats.true_retention(answers_of(learner), TODAY)

    empty = {"passed": 0, "total": 0, "rate": None}
    assert retention == [{"days": d, "young": empty, "mature": empty} for d in (7, 30, 365)]


def test_the_migration_marks_earlier_answers_on_mature_cards(learner):
    cards = cards_of(make_deck(cards=5))
    answers = [
        write_review(learner, cards[0], day=TODAY, state_before=REVIEW, interval_days=21),
        write_review(learner, cards[1], day=TODAY, state_before=REVIEW, interval_days=20.9),
        write_review(learner, cards[2], day=TODAY, state_before=REVIEW, interval_days=90),
        write_review(learner, cards[3], day=TODAY, state_before=LEARNING, interval_days=30),
        write_review(learner, cards[4], day=TODAY, state_before=NEW),
    ]
    # As the rows were before answers kept whether their card was mature.
    Review.objects.update(mature_before=False)
    migration = importlib.import_module("flashcards.migrations.0003_review_mature_before")

    migration.mark_mature_answers(django_apps, None)

    marked = [Review.objects.get(pk=review.pk).mature_before for review in answers]
    assert marked == [True, False, True, False, False]


# Cards by state and estimated knowledge.


def test_cards_by_state_counts_each_decks_learning_young_mature_and_relearning_cards(learner):
    first, second = make_deck(cards=6), make_deck(cards=2)
    a, b, c, d, e, f = cards_of(first)
    g, _never_answered = cards_of(second)
    last = NOON - timedelta(days=2)
    conftest.make_memory(learner, a, state=LEARNING, due=NOON, last_review=last)
    conftest.make_memory(learner, b, state=RELEARNING, due=NOON, last_review=last)
    conftest.make_memory(learner, c, due=last + timedelta(days=20, hours=23), last_review=last)
    conftest.make_memory(learner, d, due=last + timedelta(days=21), last_review=last)
    conftest.make_memory(learner, e, due=last + timedelta(days=100), last_review=last)
    conftest.make_memory(learner, g, due=last + timedelta(days=3), last_review=last)
    conftest.make_memory(make_user(), f, state=LEARNING, due=NOON, last_review=last)

    by_state = stats.cards_by_state(Memory.objects.filter(user=learner))

    assert by_state == {
        first.pk: {"learning": 1, "young": 1, "mature": 2, "relearning": 1},
        second.pk: {"learning": 0, "young": 1, "mature": 0, "relearning": 0},
    }


def test_estimated_knowledge_is_the_average_fsrs_retrievability_of_the_answered_cards(learner):
    now = NOON + timedelta(minutes=7, seconds=13.5)
    cards = cards_of(make_deck(cards=5))
    # (stability, time since the last answer): whole study days elapsed count.
    memories = [
        (3.0, timedelta(days=3, hours=5)),
        (10.0, timedelta(days=40, hours=2)),
        (0.5, timedelta(hours=2)),
        (30.0, timedelta(days=1, hours=23)),
        (4.0, timedelta(days=400, hours=1)),
    ]
    for card, (stability, elapsed) in zip(cards, memories, strict=True):
        conftest.make_memory(
            learner,
            card,
            due=now + timedelta(days=1),
            last_review=now - elapsed,
            stability=stability,
            state=LEARNING if elapsed < timedelta(days=1) else REVIEW,
        )
    conftest.make_memory(make_user(), cards[0], due=now, last_review=now - timedelta(days=900))

    profile = profile_for(learner)
    today = profile.study_date(now)
    knowledge = stats.estimated_knowledge(stats.memory_figures(learner, profile, now))

    by_scheduler = [
        scheduling.retrievability(memory.as_scheduling(), profile.elapsed_days(memory, today))
        for memory in Memory.objects.filter(user=learner)
    ]
    factor, decay = scheduling.forgetting_curve()
    # The learner is in UTC and studies at noon: study days elapsed, counted by hand.
    study_days = [3, 40, 0, 2, 400]
    by_formula = [
        (1 + factor * days / stability) ** decay
        for (stability, _), days in zip(memories, study_days, strict=True)
    ]
    assert knowledge == pytest.approx(sum(by_scheduler) / 5, rel=1e-12)
    assert knowledge == pytest.approx(sum(by_formula) / 5, rel=1e-12)
    # 3.2 days count as 3, the card's stability: recall is then 90% by definition.
    assert by_formula[0] == pytest.approx(0.9)
    assert by_formula[2] == 1.0


def test_estimated_knowledge_is_none_before_any_answer(learner):
    figures = stats.memory_figures(learner, profile_for(learner), NOON)
    assert stats.estimated_knowledge(figures) is None


# A simulated year, every figure computed again by hand from the raw rows.

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
END = datetime(2026, 3, 10, 17, 45, tzinfo=UTC)  # 18:45 in Berlin, after the day's study


def study_date_by_hand(moment):
    """The Berlin calendar date four hours earlier: days roll over at 4 AM local."""
    return (moment.astimezone(BERLIN) - timedelta(hours=4)).date()


@pytest.fixture
def simulated_year(learner):
    profile = in_zone(learner, "Europe/Berlin")
    decks = [make_deck("Anatomy", cards=250), make_deck("Botany", cards=250)]
    cards = Card.objects.filter(deck__in=decks).order_by("deck__title", "position")
    written = simulate(learner, cards, profile, end=END, days=365, answers=3000, seed=11)
    assert 2800 < written == Review.objects.filter(user=learner).count()
    # Then study today through the app's own write path: the cards still due, in the afternoon.
    _, day_end = profile.study_day(END)
    due = Memory.objects.filter(user=learner, state=REVIEW, due__lt=day_end).order_by("due")
    now = END - timedelta(hours=3)
    for n, memory in enumerate(due.select_related("card")):
        now += timedelta(seconds=20 + n)
        rating = (GOOD, AGAIN, GOOD, HARD, EASY)[n % 5]
        conftest.answer(learner, memory.card, rating, now, duration_ms=4000 + 1000 * n)
    return learner, decks


def test_a_simulated_learner_studies_in_the_daytime_and_on_the_last_day_too(learner):
    profile = in_zone(learner, "Europe/Berlin")
    decks = [make_deck(cards=150), make_deck(cards=150)]
    cards = Card.objects.filter(deck__in=decks).order_by("deck", "position")

    simulate(learner, cards, profile, end=END, days=365, answers=3000, seed=11)

    local_hours = [
        reviewed_at.astimezone(BERLIN).hour
        for reviewed_at in Review.objects.filter(user=learner).values_list("reviewed_at", flat=True)
    ]
    # Each session starts between 8 AM and 6 PM; learning steps last minutes.
    assert sum(1 for hour in local_hours if hour < 4) < len(local_hours) / 20
    assert Review.objects.filter(user=learner, study_day=TODAY).exists()


@pytest.mark.parametrize("answers", [200, 1000])
def test_a_simulation_writes_about_the_answers_asked_for_across_the_whole_period(learner, answers):
    profile = in_zone(learner, "Europe/Berlin")
    decks = [make_deck(cards=150), make_deck(cards=150)]
    cards = Card.objects.filter(deck__in=decks).order_by("deck", "position")

    written = simulate(learner, cards, profile, end=END, days=365, answers=answers, seed=3)

    days = Review.objects.filter(user=learner).values_list("study_day", flat=True)
    assert abs(written - answers) <= answers / 20
    assert max(days) - min(days) > timedelta(days=300)


def by_hand(user, decks, now):
    """Every figure of the progress page from the raw rows, in plain Python."""
    deck_ids = {deck.pk for deck in decks}
    reviews = list(Review.objects.filter(user=user, deck_id__in=deck_ids).values())
    memories = list(Memory.objects.filter(user=user, deck_id__in=deck_ids).values())
    today = study_date_by_hand(now)
    day = timedelta(days=1)

    todays = [r for r in reviews if r["study_day"] == today]
    agains = sum(1 for r in todays if r["rating"] == AGAIN)

    days_studied = {r["study_day"] for r in reviews}
    streak, day_of_streak = 0, today if today in days_studied else today - day
    while day_of_streak - streak * day in days_studied:
        streak += 1

    heatmap = Counter(r["study_day"] for r in reviews if today - 364 * day <= r["study_day"])

    durations = [r["duration_ms"] for r in reviews]
    seconds = sum(durations) / len(durations) / 1000 if durations else 8.0

    due_on = Counter(max(study_date_by_hand(m["due"]), today) for m in memories)
    forecast = [(today + n * day, due_on[today + n * day]) for n in range(30)]

    first_of_day = {}
    for r in sorted(reviews, key=lambda r: (r["reviewed_at"], r["id"])):
        first_of_day.setdefault((r["card_id"], r["study_day"]), r)
    retention = []
    for period in (7, 30, 365):
        counts = {"young": [0, 0], "mature": [0, 0]}
        for r in first_of_day.values():
            if r["state_before"] != REVIEW or r["study_day"] <= today - period * day:
                continue
            interval = r["due_before"] - r["last_review_before"]
            kind = "young" if interval < 21 * day else "mature"
            counts[kind][0] += r["rating"] != AGAIN
            counts[kind][1] += 1
        retention.append(
            {"days": period}
            | {
                kind: {"passed": p, "total": t, "rate": p / t if t else None}
                for kind, (p, t) in counts.items()
            }
        )

    by_state = defaultdict(lambda: {"learning": 0, "young": 0, "mature": 0, "relearning": 0})
    for m in memories:
        if m["state"] == REVIEW:
            kind = "young" if m["due"] - m["last_review"] < 21 * day else "mature"
        else:
            kind = {LEARNING: "learning", RELEARNING: "relearning"}[m["state"]]
        by_state[m["deck_id"]][kind] += 1

    factor, decay = scheduling.forgetting_curve()
    recalls = [
        (1 + factor * (today - study_date_by_hand(m["last_review"])).days / m["stability"]) ** decay
        for m in memories
    ]

    # What is left to study today: Anki's daily limits of 20 new cards and 200 reviews.
    left = 0
    for deck in decks:
        done_today = [r for r in todays if r["deck_id"] == deck.pk]
        new_done = sum(1 for r in done_today if r["state_before"] == NEW)
        reviews_done = sum(1 for r in done_today if r["state_before"] == REVIEW)
        mine = [m for m in memories if m["deck_id"] == deck.pk]
        due_today = [m for m in mine if study_date_by_hand(m["due"]) <= today]
        unseen = deck.cards.count() - len(mine)
        left += min(unseen, max(0, 20 - new_done))
        left += sum(1 for m in due_today if m["state"] in (LEARNING, RELEARNING))
        left += min(sum(1 for m in due_today if m["state"] == REVIEW), max(0, 200 - reviews_done))

    new = {deck.pk: deck.cards.count() - sum(by_state[deck.pk].values()) for deck in decks}
    return {
        "today_date": today,
        "today": {
            "answers": len(todays),
            "minutes": sum(r["duration_ms"] for r in todays) / 60000,
            "again_rate": agains / len(todays) if todays else None,
        },
        "streak": streak,
        "heatmap": dict(heatmap),
        "seconds_per_answer": seconds,
        "forecast": forecast,
        "retention": retention,
        "cards_by_state": {
            deck_id: states for deck_id, states in by_state.items() if any(states.values())
        },
        "knowledge": sum(recalls) / len(recalls) if recalls else None,
        "left_today": left,
        "recent": [
            r["id"] for r in sorted(reviews, key=lambda r: (r["reviewed_at"], r["id"]))[::-1][:20]
        ],
        "new": new,
    }


def test_a_simulated_history_is_consistent_with_the_memories_it_leaves(simulated_year):
    learner, decks = simulated_year
    reviews = list(Review.objects.filter(user=learner).order_by("reviewed_at", "id").values())
    last_review = {}
    for r in reviews:
        assert r["study_day"] == study_date_by_hand(r["reviewed_at"])
        assert r["reviewed_at"] < END
        previous = last_review.get(r["card_id"])
        assert r["number"] == (previous["number"] + 1 if previous else 1)
        assert r["state_before"] == (previous["state_after"] if previous else NEW)
        assert r["due_before"] == (previous["due_after"] if previous else None)
        interval = previous and previous["due_after"] - previous["reviewed_at"]
        mature = r["state_before"] == REVIEW and interval >= timedelta(days=21)
        assert r["mature_before"] == mature
        last_review[r["card_id"]] = r
    assert sum(r["mature_before"] for r in reviews) > 100
    memories = Memory.objects.filter(user=learner)
    assert memories.count() == len(last_review)
    for memory in memories:
        last = last_review[memory.card_id]
        assert memory.reps == last["number"]
        assert memory.state == last["state_after"]
        assert memory.due == last["due_after"]
        assert memory.last_review == last["reviewed_at"]
        assert memory.stability == last["stability_after"]


def test_every_figure_of_a_simulated_year_matches_a_computation_by_hand(simulated_year):
    learner, decks = simulated_year
    expected = by_hand(learner, decks, END)
    profile = profile_for(learner)
    by_day = answers_of(learner)
    memories = Memory.objects.filter(user=learner)
    today_date = profile.study_date(END)

    # The history is rich enough for every figure to mean something.
    assert today_date == expected["today_date"] == TODAY
    assert expected["today"]["answers"] > 0
    assert expected["streak"] > 30
    assert len(expected["heatmap"]) > 300
    assert all(
        row[kind]["total"] > 20 for row in expected["retention"][1:] for kind in ("young", "mature")
    )
    assert all(
        states["mature"] and states["young"] for states in expected["cards_by_state"].values()
    )
    assert sum(due for _, due in expected["forecast"][1:]) > 50

    assert stats.today(by_day, today_date) == expected["today"]
    assert stats.streak(by_day, today_date) == expected["streak"]
    assert stats.heatmap(by_day, today_date) == expected["heatmap"]
    assert stats.seconds_per_answer(by_day) == pytest.approx(expected["seconds_per_answer"])
    figures = stats.memory_figures(learner, profile, END)
    assert stats.forecast(figures, profile, END) == expected["forecast"]
    assert stats.true_retention(by_day, today_date) == expected["retention"]
    assert stats.cards_by_state(memories) == expected["cards_by_state"]
    assert {deck_id: each.states for deck_id, each in figures.items()} == expected["cards_by_state"]
    assert stats.estimated_knowledge(figures) == pytest.approx(expected["knowledge"])
    by_scheduler = [
        scheduling.retrievability(m.as_scheduling(), profile.elapsed_days(m, today_date))
        for m in memories
    ]
    assert expected["knowledge"] == pytest.approx(sum(by_scheduler) / len(by_scheduler))


def progress_context(user, url):
    with time_machine.travel(END, tick=False):
        client = Client()
        client.force_login(user)
        response = client.get(url)
    assert response.status_code == 200
    return response.context


def assert_page_shows(context, expected, decks):
    assert context["today"] == expected["today"]
    assert context["streak"] == expected["streak"]
    shown = {day.date: day.answers for day in context["heatmap"]["days"] if day.answers}
    assert shown == expected["heatmap"]
    assert context["heatmap"]["total"] == sum(expected["heatmap"].values())
    assert context["seconds_per_answer"] == pytest.approx(expected["seconds_per_answer"])
    assert [(day, due) for day, due, _ in context["forecast"]] == expected["forecast"]
    for (_, due, minutes), _ in zip(context["forecast"], expected["forecast"], strict=True):
        assert minutes == pytest.approx(due * expected["seconds_per_answer"] / 60)
    assert context["retention"] == expected["retention"]
    assert context["knowledge"] == pytest.approx(expected["knowledge"])
    assert context["left_today"] == expected["left_today"]
    assert [review.pk for review in context["recent"]] == expected["recent"]
    assert [
        {key: row[key] for key in ("new", "learning", "young", "mature", "relearning")}
        | {"deck": row["deck"].pk}
        for row in context["rows"]
    ] == [
        {"new": expected["new"][deck.pk], **expected["cards_by_state"][deck.pk], "deck": deck.pk}
        for deck in decks
    ]


def test_the_progress_page_shows_the_figures_computed_by_hand(simulated_year):
    learner, decks = simulated_year

    context = progress_context(learner, reverse("flashcards:progress"))

    assert_page_shows(context, by_hand(learner, decks, END), decks)


def test_a_decks_progress_page_shows_that_decks_figures_computed_by_hand(simulated_year):
    learner, decks = simulated_year
    botany = decks[1]

    context = progress_context(learner, reverse("flashcards:deck_progress", args=[botany.slug]))

    expected = by_hand(learner, [botany], END)
    assert expected["today"] != by_hand(learner, decks, END)["today"]
    assert_page_shows(context, expected, [botany])


# The memory figures of the day's start, kept and added to.


def fresh_figures(user, profile, now):
    """memory_figures() summed again from every memory, the day's snapshot left as it was."""
    kept = MemorySnapshot.objects.get(user=user)
    MemorySnapshot.forget([user.pk])
    fresh = stats.memory_figures(user, profile, now)
    MemorySnapshot.forget([user.pk])
    kept.save(force_insert=True)
    return fresh


def assert_same_figures(kept, fresh):
    assert kept.keys() == fresh.keys()
    for deck_id, figures in kept.items():
        assert figures.states == fresh[deck_id].states
        assert figures.due == fresh[deck_id].due
        assert figures.recallable == fresh[deck_id].recallable
        assert figures.recalled == pytest.approx(fresh[deck_id].recalled, rel=1e-9)


def test_the_figures_kept_from_the_days_start_follow_every_answer_and_undo(learner):
    profile = in_zone(learner, "Europe/Berlin")
    profile.new_cards_per_day = 100
    profile.save()
    decks = [make_deck("Anatomy", cards=80), make_deck("Botany", cards=80)]
    # Half of each deck's cards are seen before today, half stay new.
    cards = [card for deck in decks for card in cards_of(deck)[:40]]
    simulate(learner, cards, profile, end=NOON - timedelta(days=1), days=60, answers=400, seed=3)
    morning = NOON - timedelta(hours=4)
    stats.memory_figures(learner, profile, morning)
    snapshot = MemorySnapshot.objects.get(user=learner)

    now = morning
    for n in range(60):
        now += timedelta(minutes=3)
        deck = decks[n % 2]
        card, memory = study_queue(learner, deck, now, profile).next_card()
        rating = (GOOD, AGAIN, GOOD, HARD, EASY)[n % 5]
        if memory and memory.state == REVIEW:
            rating = (AGAIN, GOOD)[n % 2]
        answered = conftest.answer(learner, card, rating, now)
        assert answered.created
        if n % 7 == 3:
            day_start, _ = profile.study_day(now)
            undone = answering.undo_review(learner, deck, answered.review.pk, day_start)
            assert not undone.refusal and undone.review.card_id == card.pk
        kept = stats.memory_figures(learner, profile, now)
        assert MemorySnapshot.objects.get(user=learner).pk == snapshot.pk  # not summed again
        assert_same_figures(kept, fresh_figures(learner, profile, now))
    # Answers of every kind went through: new cards, reviews, lapses, learning steps.
    kinds = set(Review.objects.filter(user=learner, reviewed_at__gte=morning).values_list(
        "state_before", "rating"
    ))  # fmt: skip
    assert {(NEW, GOOD), (REVIEW, AGAIN), (LEARNING, GOOD)} <= kinds, kinds


def test_the_figures_are_summed_again_on_a_new_study_day_and_when_the_parameters_change(learner):
    profile = profile_for(learner)
    card = cards_of(make_deck(cards=1))[0]
    conftest.make_memory(learner, card, due=NOON + timedelta(days=3), last_review=NOON)
    today = stats.memory_figures(learner, profile, NOON)
    tomorrow = stats.memory_figures(learner, profile, NOON + timedelta(days=1))

    assert today[card.deck_id].due[3] == 1
    assert tomorrow[card.deck_id].due[2] == 1
    assert MemorySnapshot.objects.get(user=learner).day_start == profile.day_start(
        TODAY + timedelta(days=1)
    )
    before = stats.estimated_knowledge(tomorrow)
    profile.parameters = list(scheduling.DEFAULT_PARAMETERS)
    profile.parameters[20] = 0.5  # the forgetting curve's decay
    profile.save()
    assert stats.estimated_knowledge(
        stats.memory_figures(learner, profile, NOON + timedelta(days=1))
    ) != pytest.approx(before)


def test_a_card_reset_by_its_editor_leaves_the_kept_figures_of_each_learner(learner, other_learner):
    card = cards_of(make_deck(cards=1))[0]
    for user in (learner, other_learner):
        conftest.make_memory(user, card, due=NOON + timedelta(days=30), last_review=NOON)
        stats.memory_figures(user, profile_for(user), NOON)

    card.reset_progress(NOON)

    for user in (learner, other_learner):
        figures = stats.memory_figures(user, profile_for(user), NOON)
        assert figures[card.deck_id] == stats.NO_MEMORIES


def test_a_deck_deleted_since_the_day_started_leaves_the_figures(learner):
    kept, deleted = make_deck(cards=1), make_deck(cards=1)
    for deck in (kept, deleted):
        conftest.make_memory(learner, cards_of(deck)[0], due=NOON + timedelta(days=2))
    stats.memory_figures(learner, profile_for(learner), NOON)

    deleted.delete()

    assert stats.memory_figures(learner, profile_for(learner), NOON).keys() == {kept.pk}


def test_the_kept_figures_cost_four_queries_however_many_cards_were_seen(learner):
    profile = profile_for(learner)
    cards = cards_of(make_deck(cards=50))
    for n, card in enumerate(cards):
        conftest.make_memory(learner, card, due=NOON + timedelta(days=n % 30))
    conftest.answer(learner, cards_of(make_deck(cards=1))[0], GOOD, NOON)
    stats.memory_figures(learner, profile, NOON)

    with CaptureQueriesContext(connection) as queries:
        figures = stats.memory_figures(learner, profile, NOON)

    # Today's answers, their cards' memories, the snapshot, the decks that still exist.
    assert len(queries) == 4
    assert sum(each.recallable for each in figures.values()) == 51
