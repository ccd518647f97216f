"""A learner's progress: the dashboard, one card's history, and the export of every answer."""

import csv
import json

from django.contrib.auth.decorators import login_required
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from flashcards import charts, scheduling, stats
from flashcards.exports import spreadsheet_safe
from flashcards.models import (
    Card,
    Deck,
    Memory,
    Review,
    profile_for,
)
from flashcards.queue import study_queue
from flashcards.views.access import (
    get_deck_for_user,
)


@login_required
@require_GET
def progress(request, slug=None):
    user = request.user
    profile = profile_for(user)
    now = timezone.now()
    today_date = profile.study_date(now)
    decks = Deck.objects.listed_for(user).order_by("title")
    reviews = Review.objects.filter(user=user)
    figures = stats.memory_figures(user, profile, now)
    deck = None
    if slug is not None:
        deck = get_deck_for_user(user, slug)
        decks = decks.filter(pk=deck.pk)
        reviews = reviews.filter(deck=deck)
        figures = {deck.pk: figures.get(deck.pk, stats.NO_MEMORIES)}
    # Counted by a subquery on the index of cards by deck: a join of decks and cards grouped by
    # every column of the deck read every card row.
    cards_of_deck = Card.objects.filter(deck=OuterRef("pk")).order_by().values("deck")
    card_count = Subquery(cards_of_deck.annotate(n=Count("*")).values("n"))
    decks = list(decks.annotate(card_count=Coalesce(card_count, 0)))

    rows, left_today = [], 0
    for each in decks:
        states = figures.get(each.pk, stats.NO_MEMORIES).states
        rows.append({"deck": each, "new": each.card_count - sum(states.values()), **states})
        left_today += study_queue(user, each, now, profile).left_today()

    by_day = stats.answers_by_day(user, today_date, deck)
    seconds_per_answer = stats.seconds_per_answer(by_day)
    forecast = [
        (date, due, due * seconds_per_answer / 60)
        for date, due in stats.forecast(figures, profile, now)
    ]
    context = {
        "deck": deck,
        "decks": Deck.objects.listed_for(user),
        "rows": rows,
        "today": stats.today(by_day, today_date),
        "left_today": left_today,
        "streak": stats.streak(by_day, today_date),
        "heatmap": charts.heatmap(stats.heatmap(by_day, today_date), today_date),
        "forecast": forecast,
        "forecast_chart": charts.bars([(date, due) for date, due, _ in forecast]),
        "seconds_per_answer": seconds_per_answer,
        "retention": stats.true_retention(by_day, today_date),
        "desired_retention": profile.desired_retention,
        "knowledge": stats.estimated_knowledge(figures),
        "recent": reviews.select_related("card", "deck").order_by("-reviewed_at", "-id")[:20],
        "zone": profile.zone,
    }
    return render(request, "flashcards/progress.html", context)


@login_required
@require_GET
def card_history(request, card_id):
    card = get_object_or_404(
        Card.objects.select_related("deck").filter(deck__in=Deck.objects.visible_to(request.user)),
        pk=card_id,
    )
    profile = profile_for(request.user)
    memory = Memory.objects.filter(user=request.user, card=card).first()
    context = {
        "card": card,
        "memory": memory,
        "retrievability": (
            scheduling.retrievability(
                memory.as_scheduling(),
                profile.elapsed_days(memory, profile.study_date(timezone.now())),
                profile.parameters_for(card.deck),
            )
            if memory
            else None
        ),
        "reviews": Review.objects.filter(user=request.user, card=card).order_by("reviewed_at"),
        "zone": profile.zone,
    }
    return render(request, "flashcards/card_history.html", context)


EXPORT_COLUMNS = (
    "reviewed_at",
    "study_day",
    "deck",
    "card_id",
    "front",
    "rating",
    "rating_label",
    "duration_ms",
    "state_before",
    "state_after",
    "stability_after",
    "difficulty_after",
    "due_after",
)


def _export_rows(user):
    reviews = (
        Review.objects.filter(user=user)
        .select_related("card", "deck")
        .order_by("reviewed_at", "id")
        .iterator(chunk_size=2000)
    )
    for review in reviews:
        yield {
            "reviewed_at": review.reviewed_at.isoformat(),
            "study_day": review.study_day.isoformat(),
            "deck": review.deck.title,
            "card_id": review.card_id,
            "front": review.card.front,
            "rating": review.rating,
            "rating_label": review.get_rating_display(),
            "duration_ms": review.duration_ms,
            "state_before": scheduling.STATE_LABELS[review.state_before],
            "state_after": scheduling.STATE_LABELS[review.state_after],
            "stability_after": review.stability_after,
            "difficulty_after": review.difficulty_after,
            "due_after": review.due_after.isoformat(),
        }


class _Echo:
    def write(self, value):
        return value


def _csv_lines(rows):
    writer = csv.DictWriter(_Echo(), fieldnames=EXPORT_COLUMNS)
    yield writer.writeheader()
    for row in rows:
        yield writer.writerow({column: spreadsheet_safe(value) for column, value in row.items()})


def _json_chunks(rows):
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


@login_required
@require_GET
def export_history(request, fmt):
    """Every answer of the learner, streamed so that a long history never sits in memory."""
    if fmt not in ("csv", "json"):
        raise Http404("Export as csv or json.")
    rows = _export_rows(request.user)
    stamp = timezone.now().strftime("%Y%m%d")
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(_json_chunks(rows), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="flashcards-history-{stamp}.{fmt}"'
    return response
