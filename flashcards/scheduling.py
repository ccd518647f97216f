"""The FSRS scheduler as pure functions: a memory, a rating and a time in, a new memory out.

Nothing here touches the database or reads the clock. Fuzz is drawn from a random generator
seeded by the card and its review count, so the interval previewed on a button is the interval
that answering with it applies.

Time since the previous answer is counted in study days, as FSRS's optimiser, its benchmark and
Anki count it: a card answered the next morning was answered one day later, whether 23 or 25
hours have passed. Callers say how many study days have elapsed (`study_days_between`).
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import fsrs
from fsrs.scheduler import FUZZ_RANGES

AGAIN, HARD, GOOD, EASY = 1, 2, 3, 4
RATINGS = (AGAIN, HARD, GOOD, EASY)
RATING_LABELS = {AGAIN: "Again", HARD: "Hard", GOOD: "Good", EASY: "Easy"}

# The card's state as stored; NEW means the learner has never answered it.
NEW, LEARNING, REVIEW, RELEARNING = 0, 1, 2, 3
STATE_LABELS = {NEW: "New", LEARNING: "Learning", REVIEW: "Review", RELEARNING: "Relearning"}

# Anki's defaults.
LEARNING_STEPS = (timedelta(minutes=1), timedelta(minutes=10))
RELEARNING_STEPS = (timedelta(minutes=10),)
DESIRED_RETENTION = 0.9
MAXIMUM_INTERVAL_DAYS = 36500
# Anki calls a review card mature from this interval on, young before it.
MATURE_INTERVAL = timedelta(days=21)
DEFAULT_PARAMETERS = fsrs.scheduler.DEFAULT_PARAMETERS


@dataclass(frozen=True)
class Memory:
    """What the scheduler knows about one learner and one card."""

    state: int = NEW
    step: int | None = None
    stability: float | None = None
    difficulty: float | None = None
    due: datetime | None = None
    last_review: datetime | None = None
    reps: int = 0
    lapses: int = 0


class _SeededScheduler(fsrs.Scheduler):
    """py-fsrs draws fuzz from the process-wide generator; this one draws it from its own."""

    def __init__(self, rng, **kwargs):
        super().__init__(**kwargs)
        self._rng = rng

    def _get_fuzzed_interval(self, *, interval):
        # The ranges of py-fsrs and Anki; like Anki, a whole number of days drawn uniformly
        # from [low, high] (py-fsrs rounds, which can land one day past high).
        days = interval.days
        if days < 2.5:
            return interval
        delta = 1.0 + sum(
            fuzz["factor"] * max(min(float(days), fuzz["end"]) - fuzz["start"], 0.0)
            for fuzz in FUZZ_RANGES
        )
        high = min(round(days + delta), self.maximum_interval)
        low = min(max(2, round(days - delta)), high)
        return timedelta(days=low + int(self._rng.random() * (high - low + 1)))


def _scheduler(fuzz_seed, *, parameters=None, desired_retention=DESIRED_RETENTION):
    kwargs = {
        "desired_retention": desired_retention,
        "learning_steps": LEARNING_STEPS,
        "relearning_steps": RELEARNING_STEPS,
        "maximum_interval": MAXIMUM_INTERVAL_DAYS,
        "enable_fuzzing": fuzz_seed is not None,
    }
    if parameters is not None:
        kwargs["parameters"] = tuple(parameters)
    return _SeededScheduler(random.Random(fuzz_seed), **kwargs)


def fuzz_seed(card_id, reps):
    """The seed Anki uses too: the same card at the same review count fuzzes the same way."""
    return f"{card_id}:{reps}"


# py-fsrs counts elapsed time in whole 24-hour periods. The memory update is computed on a
# timeline of its own on which the previous answer and this one lie exactly the elapsed study
# days apart; the interval it gives is then added to the real time of the answer.
_TIMELINE_START = datetime(2000, 1, 1, 12, tzinfo=UTC)


def study_days_between(earlier, later):
    """Whole study days from the study day `earlier` to the study day `later` (dates).

    A move to a time zone further west can put an answer on an earlier study day than the one
    before it: that counts as the same day.
    """
    return max(0, (later - earlier).days)


def review(
    memory,
    rating,
    now,
    *,
    elapsed_days,
    seed,
    parameters=None,
    desired_retention=DESIRED_RETENTION,
):
    """Return the memory after answering `rating` at `now`, `elapsed_days` study days after the
    memory's previous answer (ignored for a card never answered); `seed=None` turns fuzz off."""
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {RATINGS}, not {rating!r}")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    if memory.state == NEW:
        answered_at = _TIMELINE_START
        card = fsrs.Card(card_id=0, state=fsrs.State.Learning, step=0, due=answered_at)
    else:
        if elapsed_days is None or elapsed_days < 0:
            raise ValueError(f"elapsed_days must be a whole number of days, not {elapsed_days!r}")
        answered_at = _TIMELINE_START + timedelta(days=elapsed_days)
        card = _fsrs_card(memory, last_review=_TIMELINE_START)
    scheduler = _scheduler(seed, parameters=parameters, desired_retention=desired_retention)
    card, _ = scheduler.review_card(card, fsrs.Rating(rating), answered_at)
    lapsed = memory.state == REVIEW and rating == AGAIN
    return Memory(
        state=int(card.state),
        step=card.step,
        stability=card.stability,
        difficulty=card.difficulty,
        due=now + (card.due - answered_at),
        last_review=now,
        reps=memory.reps + 1,
        lapses=memory.lapses + (1 if lapsed else 0),
    )


def preview(
    memory, now, *, elapsed_days, seed, parameters=None, desired_retention=DESIRED_RETENTION
):
    """Return {rating: interval} for the four buttons, exactly as `review` would apply them."""
    return {
        rating: review(
            memory,
            rating,
            now,
            elapsed_days=elapsed_days,
            seed=seed,
            parameters=parameters,
            desired_retention=desired_retention,
        ).due
        - now
        for rating in RATINGS
    }


def replay(answers, *, seed_of=None, parameters=None, desired_retention=DESIRED_RETENTION):
    """Replay one card's answers, in time order, from a card never answered: yield
    (memory before, memory after) for each.

    Each answer is (rating, reviewed_at, study day, fresh): `fresh` marks an answer given to a
    card whose progress had been reset, which starts again from new (its review count goes on).
    `seed_of(reps)` gives the fuzz seed of the answer after `reps` answers; None turns fuzz off.
    """
    memory, last_day = Memory(), None
    for rating, reviewed_at, day, fresh in answers:
        if fresh:
            memory = Memory(reps=memory.reps)
        elapsed = None if memory.state == NEW else study_days_between(last_day, day)
        after = review(
            memory,
            rating,
            reviewed_at,
            elapsed_days=elapsed,
            seed=None if seed_of is None else seed_of(memory.reps),
            parameters=parameters,
            desired_retention=desired_retention,
        )
        yield memory, after
        memory, last_day = after, day


def retrievability(memory, elapsed_days, parameters=None):
    """The probability of recalling the card `elapsed_days` study days after its last answer,
    or None for a card never answered."""
    if memory.state == NEW or memory.stability is None or memory.last_review is None:
        return None
    factor, decay = forgetting_curve(parameters)
    return (1 + factor * elapsed_days / memory.stability) ** decay


def is_mature(memory):
    """Whether the card is in review with an interval of MATURE_INTERVAL or more."""
    return memory.state == REVIEW and memory.due - memory.last_review >= MATURE_INTERVAL


def _fsrs_card(memory, *, last_review):
    """py-fsrs's card for a memory of a card answered before, answered at `last_review`.

    py-fsrs reads the due time of none of the states it updates; it is given for completeness.
    """
    return fsrs.Card(
        card_id=0,
        state=fsrs.State(memory.state),
        step=memory.step,
        stability=memory.stability,
        difficulty=memory.difficulty,
        due=last_review + (memory.due - memory.last_review),
        last_review=last_review,
    )


def format_interval(interval):
    """Anki's short interval labels: 45s, 10m, 3h, 5d, 2.1mo, 1.5y."""
    seconds = interval.total_seconds()
    if seconds < 60:
        return f"{max(0, round(seconds))}s"
    if seconds < 3600:
        return f"{round(seconds / 60)}m"
    if seconds < 86400:
        return f"{round(seconds / 3600)}h"
    days = seconds / 86400
    if days < 30:
        return f"{round(days)}d"
    if days < 365:
        return f"{days / 30:.1f}mo".replace(".0mo", "mo")
    return f"{days / 365:.1f}y".replace(".0y", "y")


def forgetting_curve(parameters=None):
    """The (factor, decay) of FSRS's forgetting curve R(t) = (1 + factor * t / S) ** decay."""
    scheduler = _scheduler(None, parameters=parameters)
    return scheduler._FACTOR, scheduler._DECAY
