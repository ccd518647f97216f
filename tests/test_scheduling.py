"""The FSRS wrapper is pure: these tests pass times and seeds in and need no database."""

import os
import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fsrs.scheduler import DEFAULT_PARAMETERS, FUZZ_RANGES

from flashcards import scheduling
from flashcards.scheduling import (
    AGAIN,
    EASY,
    GOOD,
    HARD,
    LEARNING,
    MAXIMUM_INTERVAL_DAYS,
    NEW,
    RATINGS,
    RELEARNING,
    REVIEW,
    Memory,
    format_interval,
    fuzz_seed,
    is_mature,
    study_days_between,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def study_date(at):
    """The study day of a learner in UTC, which rolls over at 4 AM."""
    return (at.astimezone(UTC) - timedelta(hours=4)).date()


def elapsed(memory, now):
    if memory.last_review is None:
        return None
    return study_days_between(study_date(memory.last_review), study_date(now))


def review(memory, rating, now, **options):
    """Answer at `now`, as a learner in UTC would."""
    return scheduling.review(memory, rating, now, elapsed_days=elapsed(memory, now), **options)


def preview(memory, now, **options):
    return scheduling.preview(memory, now, elapsed_days=elapsed(memory, now), **options)


def retrievability(memory, now, parameters=None):
    days = None if memory.last_review is None else elapsed(memory, now)
    return scheduling.retrievability(memory, days, parameters)


def answer_on_time(*ratings, memory=None, now=NOW, seed=None):
    """Answer each rating in turn when the card falls due; return the memory and the last time."""
    memory = memory or Memory()
    for rating in ratings:
        memory = review(memory, rating, now, seed=seed)
        now = memory.due
    return memory, now


def make_review_card(now=NOW):
    """A card that graduated with Good, Good and is answered when due."""
    return answer_on_time(GOOD, GOOD, now=now)


def fuzz_bounds(days):
    """Anki's fuzz range for an unfuzzed interval of `days` days (rslib fuzz.rs)."""
    delta = 1.0 + sum(
        fuzz["factor"] * max(min(float(days), fuzz["end"]) - fuzz["start"], 0.0)
        for fuzz in FUZZ_RANGES
    )
    return max(2, round(days - delta)), round(days + delta)


def states_to_preview():
    """(name, memory, now) for every state, short and long intervals, on time and overdue."""
    learning, learning_due = answer_on_time(GOOD)
    review_card, review_due = make_review_card()
    relearning, relearning_due = answer_on_time(AGAIN, memory=review_card, now=review_due)
    long_review, long_due = answer_on_time(EASY, EASY, EASY, EASY)
    return [
        ("new", Memory(), NOW),
        ("learning", learning, learning_due),
        ("review", review_card, review_due),
        ("review, overdue", review_card, review_due + timedelta(days=5)),
        ("relearning", relearning, relearning_due),
        ("review, years apart", long_review, long_due),
        ("review, years apart, early", long_review, long_due - timedelta(days=200)),
    ]


def test_a_new_card_previews_one_minute_six_minutes_ten_minutes_and_days_for_easy():
    intervals = preview(Memory(), NOW, seed=fuzz_seed(1, 0))

    assert intervals[AGAIN] == timedelta(minutes=1)
    assert intervals[HARD] == timedelta(minutes=5, seconds=30)
    assert intervals[GOOD] == timedelta(minutes=10)
    assert intervals[EASY] >= timedelta(days=3)
    assert intervals[EASY] % timedelta(days=1) == timedelta(0)
    labels = [format_interval(intervals[rating]) for rating in RATINGS]
    assert labels[:3] == ["1m", "6m", "10m"]
    assert labels[3].endswith("d")


def test_learning_steps_are_never_fuzzed():
    for card_id in range(50):
        intervals = preview(Memory(), NOW, seed=fuzz_seed(card_id, 0))

        assert [intervals[AGAIN], intervals[HARD], intervals[GOOD]] == [
            timedelta(minutes=1),
            timedelta(minutes=5, seconds=30),
            timedelta(minutes=10),
        ]


def test_answering_good_twice_takes_a_new_card_through_learning_to_review_in_days():
    first = review(Memory(), GOOD, NOW, seed=fuzz_seed(1, 0))

    assert first.state == LEARNING
    assert first.due - NOW == timedelta(minutes=10)

    second = review(first, GOOD, first.due, seed=fuzz_seed(1, 1))

    assert second.state == REVIEW
    assert second.step is None
    assert second.due - first.due >= timedelta(days=1)
    assert (second.due - first.due) % timedelta(days=1) == timedelta(0)
    assert second.lapses == 0


def test_again_on_a_review_card_is_a_lapse_back_to_relearning_in_ten_minutes():
    memory, now = make_review_card()

    lapsed = review(memory, AGAIN, now, seed=fuzz_seed(1, memory.reps))

    assert lapsed.lapses == memory.lapses + 1 == 1
    assert lapsed.state == RELEARNING
    assert lapsed.due - now == timedelta(minutes=10)
    assert lapsed.stability < memory.stability


def test_again_while_learning_or_relearning_is_not_another_lapse():
    learning, now = answer_on_time(GOOD)
    assert review(learning, AGAIN, now, seed=None).lapses == 0

    relearning, now = answer_on_time(GOOD, GOOD, AGAIN)
    again = review(relearning, AGAIN, now, seed=None)

    assert again.lapses == relearning.lapses == 1
    assert again.state == RELEARNING


def test_good_after_relearning_returns_the_card_to_review():
    relearning, now = answer_on_time(GOOD, GOOD, AGAIN)

    relearned = review(relearning, GOOD, now, seed=None)

    assert relearned.state == REVIEW
    assert relearned.due - now >= timedelta(days=1)


@pytest.mark.parametrize(
    ("name", "memory", "now"), states_to_preview(), ids=[s[0] for s in states_to_preview()]
)
def test_each_button_previews_the_interval_that_answering_with_it_applies(name, memory, now):
    for card_id in range(40):
        seed = fuzz_seed(card_id, memory.reps)
        intervals = preview(memory, now, seed=seed)

        for rating in RATINGS:
            assert review(memory, rating, now, seed=seed).due - now == intervals[rating]


def test_previews_of_long_intervals_are_fuzzed():
    memory, now = answer_on_time(EASY, EASY, EASY, EASY)
    unfuzzed = preview(memory, now, seed=None)

    fuzzed = [preview(memory, now, seed=fuzz_seed(card_id, memory.reps)) for card_id in range(40)]

    assert unfuzzed[GOOD] > timedelta(days=365)
    assert any(intervals[GOOD] != unfuzzed[GOOD] for intervals in fuzzed)


def test_the_same_seed_always_gives_the_same_fuzzed_interval():
    memory, now = make_review_card()

    answers = {review(memory, EASY, now, seed=fuzz_seed(7, memory.reps)).due for _ in range(20)}

    assert len(answers) == 1


def test_the_same_seed_gives_the_same_interval_in_another_process():
    # A button is previewed in one request and answered in another, maybe in another worker,
    # so the fuzz must not depend on the process (string hashing is randomised per process).
    script = (
        "from datetime import UTC, datetime\n"
        "from flashcards.scheduling import EASY, Memory, review\n"
        "print(review(Memory(), EASY, datetime(2026, 3, 2, tzinfo=UTC), elapsed_days=None,"
        " seed='7:0').due)\n"
    )
    dues = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }

    assert len(dues) == 1


def test_different_seeds_spread_the_interval_around_the_unfuzzed_one():
    memory, now = answer_on_time(EASY, EASY)

    for rating in (HARD, GOOD, EASY):
        unfuzzed = (review(memory, rating, now, seed=None).due - now).days
        fuzzed = [
            (review(memory, rating, now, seed=fuzz_seed(card_id, memory.reps)).due - now).days
            for card_id in range(300)
        ]
        low, high = fuzz_bounds(unfuzzed)

        assert unfuzzed > 20
        assert len(set(fuzzed)) >= high - low
        assert low in fuzzed and high in fuzzed
        # Plausible: at most the fuzz delta (5% for long intervals, plus a day) and one more.
        assert all(abs(days - unfuzzed) <= (high - low) / 2 + 1 for days in fuzzed)
        assert min(fuzzed) < unfuzzed < max(fuzzed)


def test_fuzzed_intervals_stay_within_ankis_fuzz_range():
    memory, now = answer_on_time(EASY, EASY)
    unfuzzed = (review(memory, GOOD, now, seed=None).due - now).days
    low, high = fuzz_bounds(unfuzzed)

    fuzzed = {
        (review(memory, GOOD, now, seed=fuzz_seed(card_id, memory.reps)).due - now).days
        for card_id in range(300)
    }

    assert fuzzed == set(range(low, high + 1))


def test_intervals_under_three_days_are_not_fuzzed():
    memory, now = answer_on_time(GOOD)
    unfuzzed = review(memory, GOOD, now, seed=None).due - now

    assert unfuzzed < timedelta(days=3)
    for card_id in range(40):
        assert review(memory, GOOD, now, seed=fuzz_seed(card_id, memory.reps)).due - now == unfuzzed


def test_reviewing_and_previewing_leave_the_global_random_generator_alone():
    memory, now = answer_on_time(EASY, EASY)
    random.seed(2026)
    before = random.getstate()

    for seed in ("1:2", "2:2", None):
        review(memory, GOOD, now, seed=seed)
        preview(memory, now, seed=seed)

    assert random.getstate() == before


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        review(Memory(), GOOD, datetime(2026, 3, 2, 9, 30), seed=None)

    with pytest.raises(ValueError, match="timezone-aware"):
        preview(Memory(), datetime(2026, 3, 2, 9, 30), seed=None)


@pytest.mark.parametrize("rating", [0, 5, -1, "3", None, 2.5])
def test_a_rating_outside_one_to_four_is_refused(rating):
    with pytest.raises(ValueError, match="rating"):
        review(Memory(), rating, NOW, seed=None)


@pytest.mark.parametrize(
    "zone",
    [ZoneInfo("Europe/Paris"), ZoneInfo("America/Los_Angeles"), timezone(timedelta(hours=9))],
)
def test_a_time_in_another_zone_gives_the_same_memory_as_the_same_instant_in_utc(zone):
    memory, now = answer_on_time(GOOD, GOOD, EASY)
    in_zone = replace(
        memory, due=memory.due.astimezone(zone), last_review=memory.last_review.astimezone(zone)
    )

    for rating in RATINGS:
        assert review(in_zone, rating, now.astimezone(zone), seed="3:4") == review(
            memory, rating, now, seed="3:4"
        )
    assert preview(in_zone, now.astimezone(zone), seed="3:4") == preview(memory, now, seed="3:4")


def test_answers_are_stored_in_utc():
    answered = review(Memory(), GOOD, NOW.astimezone(ZoneInfo("Asia/Kolkata")), seed=None)

    assert answered.due.utcoffset() == timedelta(0)
    assert answered.last_review == NOW


def test_reps_count_every_answer_whatever_the_rating():
    memory = Memory()
    now = NOW

    for expected_reps, rating in enumerate([GOOD, AGAIN, HARD, GOOD, EASY, AGAIN, GOOD], start=1):
        memory = review(memory, rating, now, seed=fuzz_seed(1, memory.reps))
        now = memory.due

        assert memory.reps == expected_reps
        assert memory.state != NEW


def test_intervals_stop_at_the_maximum_of_a_hundred_years():
    memory, now = answer_on_time(*[EASY] * 10)
    longest = timedelta(days=MAXIMUM_INTERVAL_DAYS)

    assert memory.due - memory.last_review == longest
    assert max(preview(memory, now, seed=None).values()) == longest
    for card_id in range(40):
        assert max(preview(memory, now, seed=fuzz_seed(card_id, memory.reps)).values()) <= longest


def test_a_higher_desired_retention_gives_shorter_intervals():
    memory, now = make_review_card()

    intervals = [
        review(memory, GOOD, now, seed=None, desired_retention=retention).due - now
        for retention in (0.8, 0.9, 0.95)
    ]

    assert intervals[0] > intervals[1] > intervals[2]
    assert intervals[1] == review(memory, GOOD, now, seed=None).due - now


def test_parameters_are_passed_to_the_scheduler():
    memory, now = make_review_card()
    defaults = review(memory, GOOD, now, seed=None)
    # The first four parameters are the initial stabilities for Again, Hard, Good and Easy.
    slow_learner = (0.1, 0.2, 0.3, 0.5, *DEFAULT_PARAMETERS[4:])

    assert review(memory, GOOD, now, seed=None, parameters=DEFAULT_PARAMETERS) == defaults
    assert review(Memory(), EASY, NOW, seed=None, parameters=slow_learner).stability == 0.5
    assert (
        review(Memory(), EASY, NOW, seed=None, parameters=slow_learner).due
        < review(Memory(), EASY, NOW, seed=None).due
    )


def test_fuzz_seed_differs_by_card_and_by_review():
    assert fuzz_seed(12, 3) == "12:3"
    assert len({fuzz_seed(card_id, reps) for card_id in (1, 12, 123) for reps in (0, 1, 23)}) == 9


def test_retrievability_is_none_for_a_new_card():
    assert retrievability(Memory(), NOW) is None


def test_retrievability_is_about_the_desired_retention_when_the_interval_has_passed():
    fresh = review(Memory(), EASY, NOW, seed=None)

    # FSRS sets the interval where predicted recall falls to the desired retention (0.9 here);
    # the interval is rounded to whole days, so recall on the due date is only close to 0.9.
    assert fresh.state == REVIEW
    assert retrievability(fresh, fresh.due) == pytest.approx(0.9, abs=0.01)


def test_retrievability_starts_at_one_and_falls_as_days_pass():
    memory, _ = make_review_card()

    recall = [
        retrievability(memory, memory.last_review + timedelta(days=d)) for d in range(0, 61, 5)
    ]

    assert recall[0] == 1.0
    assert all(earlier > later for earlier, later in zip(recall, recall[1:], strict=False))
    assert 0 < recall[-1] < 0.7


@pytest.mark.parametrize(
    ("interval", "label"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(minutes=1), "1m"),
        (timedelta(minutes=5, seconds=30), "6m"),
        (timedelta(minutes=10), "10m"),
        (timedelta(hours=3), "3h"),
        (timedelta(days=1), "1d"),
        (timedelta(days=3), "3d"),
        (timedelta(days=29), "29d"),
        (timedelta(days=30), "1mo"),
        (timedelta(days=45), "1.5mo"),
        (timedelta(days=300), "10mo"),
        (timedelta(days=365), "1y"),
        (timedelta(days=548), "1.5y"),
        (timedelta(days=730), "2y"),
        (timedelta(days=MAXIMUM_INTERVAL_DAYS), "100y"),
    ],
)
def test_format_interval_gives_anki_short_labels(interval, label):
    assert format_interval(interval) == label


def test_a_card_is_mature_in_review_from_an_interval_of_21_days_on():
    def memory(state, interval):
        return Memory(state=state, due=NOW + interval, last_review=NOW, stability=30.0, reps=4)

    assert is_mature(memory(REVIEW, timedelta(days=21)))
    assert is_mature(memory(REVIEW, timedelta(days=400)))
    assert not is_mature(memory(REVIEW, timedelta(days=21) - timedelta(microseconds=1)))
    assert not is_mature(memory(RELEARNING, timedelta(days=30)))
    assert not is_mature(memory(LEARNING, timedelta(days=30)))
    assert not is_mature(Memory())
