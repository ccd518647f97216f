"""A learner's statistics, computed by aggregate queries in the database.

Every figure of the learner's answers comes from their sums by study day: past days kept in
StudyDayTotal, the latest days summed from the answers.
"""

from bisect import bisect_right
from dataclasses import astuple, dataclass, fields
from datetime import date, timedelta
from math import ceil

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    Func,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Ceil, Coalesce, Greatest, Power

from flashcards import scheduling
from flashcards.models import Deck, Memory, MemorySnapshot, Review, StudyDayTotal

HEATMAP_DAYS = 365
FORECAST_DAYS = 30
RETENTION_PERIODS = (7, 30, 365)
# Until a learner has answered anything, plan with a typical answer time.
DEFAULT_SECONDS_PER_ANSWER = 8.0


class EpochSeconds(Func):
    """Seconds since 1970 of a datetime column, on SQLite and PostgreSQL alike."""

    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return self.as_sql(compiler, connection, template=template, **extra_context)

    def as_postgresql(self, compiler, connection, **extra_context):
        # The same double as EXTRACT(EPOCH ...)::double precision, without EXTRACT's numeric
        # arithmetic, which took most of the time of the queries that use it.
        template = "date_part('epoch', %(expressions)s)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def interval_seconds(due, last_review):
    return EpochSeconds(due) - EpochSeconds(last_review)


# A millisecond short of the mature interval: the database's seconds of a datetime on SQLite
# (from julianday) may fall a hair short of an interval of exactly 21 days.
MATURE_SECONDS = scheduling.MATURE_INTERVAL.total_seconds() - 0.001
MATURE = Q(interval__gte=MATURE_SECONDS)


@dataclass(frozen=True)
class Day:
    """The learner's answers on one study day, summed."""

    answers: int
    milliseconds: int
    again: int
    # First answers of the day on review cards, which true retention counts.
    young: int
    young_passed: int
    mature: int
    mature_passed: int


NO_ANSWERS = Day(0, 0, 0, 0, 0, 0, 0)
DAY_FIGURES = [field.name for field in fields(Day)]
# The latest study days are summed from the answers on every visit: today's change with each
# answer, and a change of time zone (up to 26 hours apart) can make an earlier day today again.
LIVE_DAYS = 3


def answers_by_day(user, today_date, deck=None):
    """{study day: Day} of every day the learner answered (in `deck`, or in any): past days
    from their totals, summed from the answers once, the latest LIVE_DAYS from the answers."""
    first_live = today_date - timedelta(days=LIVE_DAYS - 1)
    _sum_past_days(user, first_live)
    totals = StudyDayTotal.objects.filter(user=user, study_day__lt=first_live)
    latest = Review.objects.filter(user=user, study_day__gte=first_live)
    if deck is not None:
        totals, latest = totals.filter(deck=deck), latest.filter(deck=deck)
    by_day = sum_by_day(latest)
    # Named apart from the fields they sum, which an annotation may not shadow.
    sums = {f"sum_{name}": Sum(name) for name in DAY_FIGURES}
    for row in totals.order_by().values("study_day").annotate(**sums):
        by_day[row["study_day"]] = Day(*(row[f"sum_{name}"] for name in DAY_FIGURES))
    return by_day


def _sum_past_days(user, before):
    """Keep the totals of the learner's study days before `before`: sum the days after the
    latest kept one."""
    latest_kept = StudyDayTotal.objects.filter(user=user).order_by("-study_day")
    pending = Review.objects.filter(user=user, study_day__lt=before).filter(
        study_day__gt=Coalesce(Subquery(latest_kept.values("study_day")[:1]), date.min)
    )
    totals = [
        StudyDayTotal(user=user, deck_id=deck_id, study_day=day, **vars(figures))
        for (day, deck_id), figures in sum_by_day(pending, by_deck=True).items()
    ]
    if totals:
        # Two visits at once may both sum the same days: the first one's rows stand.
        StudyDayTotal.objects.bulk_create(totals, ignore_conflicts=True)


def sum_by_day(reviews, *, by_deck=False):
    """{study day: Day} of these answers (or {(study day, deck id): Day}): one query."""
    counted = Q(state_before=scheduling.REVIEW, first_of_day=True)
    young, mature = counted & Q(mature_before=False), counted & Q(mature_before=True)
    passed = ~Q(rating=scheduling.AGAIN)
    # Answers are counted by their study day, never NULL, rather than by their id, which the
    # covering index on (user, study_day, deck, ...) does not hold.
    keys = ["study_day", "deck_id"] if by_deck else ["study_day"]
    rows = (
        reviews.order_by()
        .values(*keys)
        .annotate(
            answers=Count("study_day"),
            milliseconds=Sum("duration_ms"),
            again=Count("study_day", filter=Q(rating=scheduling.AGAIN)),
            young=Count("study_day", filter=young),
            young_passed=Count("study_day", filter=young & passed),
            mature=Count("study_day", filter=mature),
            mature_passed=Count("study_day", filter=mature & passed),
        )
    )
    if by_deck:
        return {(row.pop("study_day"), row.pop("deck_id")): Day(**row) for row in rows}
    return {row.pop("study_day"): Day(**row) for row in rows}


def today(by_day, today_date):
    """Answers, time spent and the share of Again on the learner's study day."""
    day = by_day.get(today_date, NO_ANSWERS)
    return {
        "answers": day.answers,
        "minutes": day.milliseconds / 60000,
        "again_rate": day.again / day.answers if day.answers else None,
    }


def streak(by_day, today_date):
    """Consecutive study days with an answer, ending today (or yesterday, if today is not done)."""
    # A day stored under an earlier time zone can lie after today's date in the new one: the
    # count starts at today and goes back, so it never sees such a day.
    last = today_date if today_date in by_day else today_date - timedelta(days=1)
    count = 0
    while last - timedelta(days=count) in by_day:
        count += 1
    return count


def heatmap(by_day, today_date, days=HEATMAP_DAYS):
    """{date: answers} for each of the last `days` study days that had answers."""
    since = today_date - timedelta(days=days - 1)
    return {date: day.answers for date, day in by_day.items() if since <= date <= today_date}


def seconds_per_answer(by_day):
    """The learner's average time per answer, or a typical one before any answer."""
    answers = sum(day.answers for day in by_day.values())
    milliseconds = sum(day.milliseconds for day in by_day.values())
    return milliseconds / answers / 1000 if milliseconds else DEFAULT_SECONDS_PER_ANSWER


def forecast(figures, profile, now, days=FORECAST_DAYS):
    """[(date, cards due)] for the next `days` study days, from memory_figures(); overdue cards
    count for today."""
    today_date = profile.study_date(now)
    due = [sum(each.due[n] for each in figures.values()) for n in range(days)]
    return [(today_date + timedelta(days=n), due[n]) for n in range(days)]


def _forecast_ends(profile, today_date, days=FORECAST_DAYS):
    """When each of the next `days` study days ends."""
    return [profile.day_start(today_date + timedelta(days=n + 1)) for n in range(days)]


def _due_by_deck(memories, ends):
    """{deck id: [cards due on each day ending at `ends`]}; a card is due on the first day
    that ends after its due time (an overdue card today)."""
    day = _first_end_after("due", ends, 0, len(ends))
    # A card whose progress was reset is new again: it is not due on any day. Nor is a card due
    # after the last day.
    rows = (
        memories.exclude(state=scheduling.NEW)
        .filter(due__lt=ends[-1])
        .annotate(day=day)
        .order_by()
        .values_list("deck_id", "day")
        .annotate(Count("id"))
    )
    due = {}
    for deck_id, n, count in rows:
        due.setdefault(deck_id, [0] * len(ends))[n] = count
    return due


def _first_end_after(field, ends, low, high):
    """The index in ends[low:high] (sorted) of the first end after the field's value, as a
    binary search: a card is compared with 5 of 30 day ends rather than with each in turn."""
    if high - low == 1:
        return Value(low)
    middle = (low + high) // 2
    return Case(
        When(**{f"{field}__lt": ends[middle - 1]}, then=_first_end_after(field, ends, low, middle)),
        default=_first_end_after(field, ends, middle, high),
    )


def true_retention(by_day, today_date, periods=RETENTION_PERIODS):
    """Share of passed first answers of the day on review cards, young and mature, per period."""
    rows = []
    for days in periods:
        period = [day for date, day in by_day.items() if date > today_date - timedelta(days=days)]
        young = sum(day.young for day in period)
        mature = sum(day.mature for day in period)
        rows.append(
            {
                "days": days,
                "young": _rate(sum(day.young_passed for day in period), young),
                "mature": _rate(sum(day.mature_passed for day in period), mature),
            }
        )
    return rows


def _rate(passed, total):
    return {"passed": passed, "total": total, "rate": passed / total if total else None}


def cards_by_state(memories):
    """{deck_id: {learning, young, mature, relearning}} of the cards the learner has seen."""
    rows = (
        memories.annotate(interval=interval_seconds(F("due"), F("last_review")))
        .values("deck_id")
        .annotate(
            learning=Count("id", filter=Q(state=scheduling.LEARNING)),
            young=Count("id", filter=Q(state=scheduling.REVIEW) & ~MATURE),
            mature=Count("id", filter=Q(state=scheduling.REVIEW) & MATURE),
            relearning=Count("id", filter=Q(state=scheduling.RELEARNING)),
        )
    )
    return {row.pop("deck_id"): row for row in rows}


def _retrievability_by_deck(memories, day_start, curve):
    """{deck id: (sum of FSRS retrievability, cards with one)} on the study day starting at
    `day_start`, with the forgetting curve's (factor, decay).

    Elapsed time counts study days, as the scheduler does: a card answered on the study day
    before today was answered one day ago, and since every study day is 24 hours long (but
    across a change of daylight saving time), that is the whole days from the answer to the
    start of today, rounded up.
    """
    factor, decay = curve
    elapsed_days = Greatest(
        Ceil((Value(day_start.timestamp()) - EpochSeconds(F("last_review"))) / Value(86400.0)),
        Value(0.0),
    )
    retrievability = Power(Value(1.0) + Value(factor) * elapsed_days / F("stability"), Value(decay))
    rows = (
        memories.filter(stability__isnull=False, last_review__isnull=False)
        .exclude(state=scheduling.NEW)
        .order_by()
        .values("deck_id")
        .annotate(recalled=Sum(retrievability, output_field=FloatField()), recallable=Count("id"))
    )
    return {row["deck_id"]: (row["recalled"], row["recallable"]) for row in rows}


@dataclass(frozen=True)
class MemoryFigures:
    """A learner's memories of one deck on one study day, summed: cards by state, their
    retrievability today (summed, and how many cards have one), and cards due on each day of
    the forecast (overdue ones today)."""

    learning: int = 0
    young: int = 0
    mature: int = 0
    relearning: int = 0
    recalled: float = 0.0
    recallable: int = 0
    due: tuple = (0,) * FORECAST_DAYS

    def __add__(self, other):
        return self._combined(other, 1)

    def __sub__(self, other):
        return self._combined(other, -1)

    def _combined(self, other, sign):
        return MemoryFigures(
            self.learning + sign * other.learning,
            self.young + sign * other.young,
            self.mature + sign * other.mature,
            self.relearning + sign * other.relearning,
            self.recalled + sign * other.recalled,
            self.recallable + sign * other.recallable,
            tuple(a + sign * b for a, b in zip(self.due, other.due, strict=True)),
        )

    @property
    def states(self):
        return {
            "learning": self.learning,
            "young": self.young,
            "mature": self.mature,
            "relearning": self.relearning,
        }


NO_MEMORIES = MemoryFigures()
# Where each state counts in a tally of _Changes (a review card as young, or mature one on).
TALLY_INDEX = {scheduling.LEARNING: 0, scheduling.REVIEW: 1, scheduling.RELEARNING: 3}


class _Changes:
    """Memories added to and taken from each deck's MemoryFigures one by one, counted as the
    database's sums count them: [learning, young, mature, relearning, recalled, recallable,
    then cards due on each day of the forecast] per deck."""

    def __init__(self, day_start, ends, curve):
        self.day_start, self.ends, self.curve = day_start, ends, curve
        self.tallies = {}

    def add(self, deck_id, sign, state, due, last_review, stability):
        if state == scheduling.NEW:
            return
        tally = self.tallies.setdefault(deck_id, [0] * 6 + [0] * len(self.ends))
        index = TALLY_INDEX[state]
        if state == scheduling.REVIEW and (due - last_review).total_seconds() >= MATURE_SECONDS:
            index += 1
        tally[index] += sign
        if stability is not None and last_review is not None:
            factor, decay = self.curve
            elapsed = max(ceil((self.day_start - last_review).total_seconds() / 86400.0), 0)
            tally[4] += sign * (1.0 + factor * elapsed / stability) ** decay
            tally[5] += sign
        day = bisect_right(self.ends, due)
        if day < len(self.ends):
            tally[6 + day] += sign

    def figures(self):
        return {
            deck_id: MemoryFigures(*tally[:6], tuple(tally[6:]))
            for deck_id, tally in self.tallies.items()
        }


def _summed(memories, day_start, ends, curve):
    """{deck id: MemoryFigures} of these memories, summed by the database."""
    states = cards_by_state(memories)
    due = _due_by_deck(memories, ends)
    recalled = _retrievability_by_deck(memories, day_start, curve)
    return {
        deck_id: MemoryFigures(
            **states.get(deck_id, {}),
            recalled=recalled.get(deck_id, (0.0, 0))[0],
            recallable=recalled.get(deck_id, (0.0, 0))[1],
            due=tuple(due.get(deck_id, NO_MEMORIES.due)),
        )
        for deck_id in states.keys() | due.keys() | recalled.keys()
    }


def _answered_today(user, day_start, ends, curve):
    """{deck id: MemoryFigures} of what today's answers changed: the memories of the cards
    answered since `day_start` as they are, less the same memories before their first answer
    of the day."""
    reviews = Review.objects.filter(user=user, reviewed_at__gte=day_start)
    before = {}
    for card_id, *memory in reviews.order_by("reviewed_at", "id").values_list(
        "card_id", "deck_id", "state_before", "due_before", "last_review_before", "stability_before"
    ):
        before.setdefault(card_id, memory)
    changes = _Changes(day_start, ends, curve)
    for memory in before.values():
        changes.add(memory[0], -1, *memory[1:])
    answered = Memory.objects.filter(user=user, card_id__in=reviews.values("card_id"))
    for memory in answered.values_list("deck_id", "state", "due", "last_review", "stability"):
        changes.add(memory[0], 1, *memory[1:])
    return changes.figures()


def memory_figures(user, profile, now):
    """{deck id: MemoryFigures} of the learner's memories now, deck by deck.

    The database sums every memory once a study day (MemorySnapshot); each visit adds what
    today's answers changed since the day started, a few rows, to that day's sums.
    """
    today_date = profile.study_date(now)
    day_start = profile.day_start(today_date)
    ends = _forecast_ends(profile, today_date)
    curve = list(scheduling.forgetting_curve(profile.parameters or None))
    today = _answered_today(user, day_start, ends, curve)
    snapshot = MemorySnapshot.objects.filter(user=user, day_start=day_start, curve=curve).first()
    if snapshot is None:
        summed = _summed(Memory.objects.filter(user=user), day_start, ends, curve)
        at_day_start = {
            deck_id: summed.get(deck_id, NO_MEMORIES) - today.get(deck_id, NO_MEMORIES)
            for deck_id in summed.keys() | today.keys()
        }
        decks = {deck_id: astuple(figures) for deck_id, figures in at_day_start.items()}
        MemorySnapshot.objects.update_or_create(
            user=user, defaults={"day_start": day_start, "curve": curve, "decks": decks}
        )
    else:
        at_day_start = {
            int(deck_id): MemoryFigures(*values[:-1], tuple(values[-1]))
            for deck_id, values in snapshot.decks.items()
        }
    # A deck deleted since the day started takes its memories with it.
    existing = Deck.objects.filter(pk__in=at_day_start.keys() | today.keys())
    return {
        deck_id: at_day_start.get(deck_id, NO_MEMORIES) + today.get(deck_id, NO_MEMORIES)
        for deck_id in existing.values_list("pk", flat=True)
    }


def estimated_knowledge(figures):
    """The average retrievability of the cards the learner has answered, from
    memory_figures(); None before any answer."""
    recalled = sum(each.recalled for each in figures.values())
    recallable = sum(each.recallable for each in figures.values())
    return recalled / recallable if recallable else None
