"""A learner's statistics, each computed by aggregate queries in the database."""

from datetime import timedelta

from django.db.models import (
    Avg,
    Count,
    F,
    FloatField,
    Func,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Floor, Greatest, Power

from flashcards import scheduling

MATURE_DAYS = 21
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
        template = "EXTRACT(EPOCH FROM %(expressions)s)::double precision"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def interval_seconds(due, last_review):
    return EpochSeconds(due) - EpochSeconds(last_review)


MATURE = Q(interval__gte=MATURE_DAYS * 86400)


def today(reviews, today_date):
    """Answers, time spent and the share of Again on the learner's study day."""
    figures = reviews.filter(study_day=today_date).aggregate(
        answers=Count("id"),
        milliseconds=Sum("duration_ms"),
        again=Count("id", filter=Q(rating=scheduling.AGAIN)),
    )
    answers = figures["answers"]
    return {
        "answers": answers,
        "minutes": (figures["milliseconds"] or 0) / 60000,
        "again_rate": figures["again"] / answers if answers else None,
    }


def streak(reviews, today_date):
    """Consecutive study days with an answer, ending today (or yesterday, if today is not done)."""
    # A day stored under an earlier time zone can lie after today's date in the new one.
    days = (
        reviews.filter(study_day__lte=today_date)
        .values_list("study_day", flat=True)
        .distinct()
        .order_by("-study_day")
    )
    expected = today_date
    count = 0
    for day in days.iterator():
        if count == 0 and day == today_date - timedelta(days=1):
            expected = day
        if day != expected:
            break
        count += 1
        expected -= timedelta(days=1)
    return count


def heatmap(reviews, today_date, days=HEATMAP_DAYS):
    """{date: answers} for each of the last `days` study days that had answers."""
    since = today_date - timedelta(days=days - 1)
    rows = (
        reviews.filter(study_day__gte=since, study_day__lte=today_date)
        .values("study_day")
        .annotate(answers=Count("id"))
        .values_list("study_day", "answers")
    )
    return dict(rows)


def seconds_per_answer(reviews):
    average = reviews.aggregate(ms=Avg("duration_ms"))["ms"]
    return average / 1000 if average else DEFAULT_SECONDS_PER_ANSWER


def forecast(memories, profile, now, days=FORECAST_DAYS):
    """[(date, cards due)] for the next `days` study days; overdue cards count for today."""
    today_date = profile.study_date(now)
    dates = [today_date + timedelta(days=n) for n in range(days)]
    ends = [profile.day_start(date + timedelta(days=1)) for date in dates]
    counts = {}
    for n, end in enumerate(ends):
        window = Q(due__lt=end) if n == 0 else Q(due__gte=ends[n - 1], due__lt=end)
        counts[f"d{n}"] = Count("id", filter=window)
    # A card whose progress was reset is new again: it is not due on any day.
    figures = memories.exclude(state=scheduling.NEW).aggregate(**counts)
    return [(date, figures[f"d{n}"]) for n, date in enumerate(dates)]


def true_retention(reviews, today_date, periods=RETENTION_PERIODS):
    """Share of passed first answers of the day on review cards, young and mature, per period."""
    first_reviews = (
        reviews.filter(
            state_before=scheduling.REVIEW,
            study_day__gt=today_date - timedelta(days=max(periods)),
        )
        .filter(first_of_day=True)
        .annotate(interval=interval_seconds(F("due_before"), F("last_review_before")))
    )
    aggregates = {}
    for days in periods:
        since = Q(study_day__gt=today_date - timedelta(days=days))
        passed = ~Q(rating=scheduling.AGAIN)
        aggregates[f"young_{days}"] = Count("id", filter=since & ~MATURE)
        aggregates[f"young_passed_{days}"] = Count("id", filter=since & ~MATURE & passed)
        aggregates[f"mature_{days}"] = Count("id", filter=since & MATURE)
        aggregates[f"mature_passed_{days}"] = Count("id", filter=since & MATURE & passed)
    figures = first_reviews.aggregate(**aggregates)

    def rate(kind, days):
        total = figures[f"{kind}_{days}"]
        passed = figures[f"{kind}_passed_{days}"]
        return {"passed": passed, "total": total, "rate": passed / total if total else None}

    return [
        {"days": days, "young": rate("young", days), "mature": rate("mature", days)}
        for days in periods
    ]


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


def estimated_knowledge(memories, now, parameters=None):
    """FSRS retrievability today, averaged over the cards the learner has answered."""
    factor, decay = scheduling.forgetting_curve(parameters)
    elapsed_days = Greatest(
        Floor((Value(now.timestamp()) - EpochSeconds(F("last_review"))) / Value(86400.0)),
        Value(0.0),
    )
    retrievability = Power(Value(1.0) + Value(factor) * elapsed_days / F("stability"), Value(decay))
    return memories.filter(stability__isnull=False).aggregate(
        average=Avg(retrievability, output_field=FloatField())
    )["average"]
