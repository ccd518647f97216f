"""Insight for staff: figures across all learners, never one learner's answers."""

from datetime import timedelta

from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from flashcards import scheduling
from flashcards.models import (
    Deck,
    Review,
)
from flashcards.views.access import (
    staff_required,
)


def _insight_decks(user):
    """Curated decks; a superuser also sees learners' private decks."""
    return Deck.objects.all() if user.is_superuser else Deck.objects.filter(owner=None)


@staff_required
@require_GET
def insight(request):
    since = timezone.now() - timedelta(days=7)
    decks = (
        _insight_decks(request.user)
        .annotate(card_count=Count("cards", distinct=True))
        .order_by("title")
    )
    recent = (
        Review.objects.filter(reviewed_at__gte=since, deck__in=decks)
        .values("deck_id")
        .annotate(
            learners=Count("user", distinct=True),
            answers=Count("id"),
            reviewed=Count("id", filter=Q(state_before=scheduling.REVIEW)),
            passed=Count(
                "id", filter=Q(state_before=scheduling.REVIEW) & ~Q(rating=scheduling.AGAIN)
            ),
        )
    )
    by_deck = {row["deck_id"]: row for row in recent}
    rows = []
    for deck in decks:
        figures = by_deck.get(deck.pk, {"learners": 0, "answers": 0, "reviewed": 0, "passed": 0})
        retention = figures["passed"] / figures["reviewed"] if figures["reviewed"] else None
        rows.append({"deck": deck, "retention": retention, **figures})
    return render(request, "flashcards/insight.html", {"rows": rows})


INSIGHT_PAGE_SIZE = 100
INSIGHT_COLUMNS = [
    ("position", "#"),
    ("front", "Card"),
    ("learners", "Learners"),
    ("answers", "Answers"),
    ("lapse_rate", "Lapse rate"),
    ("difficulty", "Difficulty"),
]
INSIGHT_SORTS = {
    "front": ("front", "id"),
    "position": ("position", "id"),
    "learners": ("-learners", "position"),
    "answers": ("-answers", "position"),
    "lapse_rate": (F("lapse_rate").desc(nulls_last=True), "position"),
    "difficulty": (F("difficulty").desc(nulls_last=True), "position"),
}


@staff_required
@require_GET
def deck_insight(request, slug):
    deck = get_object_or_404(_insight_decks(request.user), slug=slug)
    sort = request.GET.get("sort", "lapse_rate")
    if sort not in INSIGHT_SORTS:
        sort = "lapse_rate"
    cards = deck.cards.with_insight().order_by(*INSIGHT_SORTS[sort])
    page = Paginator(cards, INSIGHT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"deck": deck, "page": page, "sort": sort, "columns": INSIGHT_COLUMNS}
    return render(request, "flashcards/deck_insight.html", context)
