import csv
import json
from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, F, Q
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import charts, scheduling, stats
from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import (
    AnswerRefused,
    Card,
    Deck,
    Memory,
    Review,
    card_insight,
    profile_for,
    record_answer,
    study_queue,
    undo_review,
)

UNDONE = "Undone. Answer the card again."
# A learner who leaves a card on screen longer than this was not thinking about it (Anki's cap).
MAX_ANSWER_MS = 60_000


def login_required_for_study(view):
    """Like login_required, but an HTMX request gets a fragment saying so, not a login page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            study_url = reverse("flashcards:study", args=[kwargs["slug"]])
            return render(
                request,
                "flashcards/study.html#logged_out",
                {"login_url": f"{reverse('login')}?next={study_url}"},
                status=401,
            )
        return redirect_to_login(request.get_full_path())

    return wrapper


def _get_deck_for_user(user, slug):
    return get_object_or_404(Deck.objects.visible_to(user), slug=slug)


@require_GET
def deck_list(request):
    decks = list(Deck.objects.visible_to(request.user).annotate(card_count=Count("cards")))
    if request.user.is_authenticated:
        profile = profile_for(request.user)
        now = timezone.now()
        for deck in decks:
            deck.counts = study_queue(request.user, deck, now, profile).counts()
    return render(request, "flashcards/deck_list.html", {"decks": decks})


def _study_context(request, deck, queue, *, card=None, memory=None, reveal=False, message=""):
    """Everything the study region shows: the card (front or back), the counts, undo."""
    profile = queue.profile
    if card is None:
        card, memory = queue.next_card()
    day_start, _ = profile.study_day(queue.now)
    last_review = (
        Review.objects.filter(user=request.user, deck=deck, reviewed_at__gte=day_start)
        .select_related("card")
        .order_by("-reviewed_at", "-id")
        .first()
    )
    context = {
        "deck": deck,
        "card": card,
        "counts": queue.counts(),
        "message": message,
        "last_review": last_review,
        "reps": memory.reps if memory else 0,
        "shown_at": int(queue.now.timestamp() * 1000),
        "zone": profile.zone,
    }
    if card is None:
        next_due = queue.next_due()
        context["next_due"] = next_due
        if next_due and next_due - queue.now < timedelta(hours=1):
            context["refresh_in"] = int((next_due - queue.now).total_seconds()) + 1
    elif reveal:
        before = memory.as_scheduling() if memory else scheduling.Memory()
        intervals = scheduling.preview(
            before, queue.now, seed=scheduling.fuzz_seed(card.pk, before.reps)
        )
        context["buttons"] = [
            (rating, scheduling.RATING_LABELS[rating], scheduling.format_interval(interval))
            for rating, interval in intervals.items()
        ]
    return context


def _render_study(request, context, status=200):
    template = "flashcards/study.html#study" if request.htmx else "flashcards/study.html"
    return render(request, template, context, status=status)


def _queue(request, deck):
    return study_queue(request.user, deck, timezone.now(), profile_for(request.user))


def _available_card(deck, queue, card_id):
    """The card with this id in this deck if it can be studied now, with its memory."""
    card = deck.cards.filter(pk=card_id).first()
    if card is None:
        return None, None
    memory = Memory.objects.filter(user=queue.user, card=card).first()
    if not queue.is_available(card, memory):
        return None, None
    return card, memory


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def study(request, slug):
    deck = _get_deck_for_user(request.user, slug)
    queue = _queue(request, deck)
    card, memory = None, None
    if request.GET.get("card", "").isdigit():
        card, memory = _available_card(deck, queue, int(request.GET["card"]))
    return _render_study(request, _study_context(request, deck, queue, card=card, memory=memory))


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def reveal(request, slug, card_id):
    deck = _get_deck_for_user(request.user, slug)
    queue = _queue(request, deck)
    card, memory = _available_card(deck, queue, card_id)
    if card is None:
        context = _study_context(
            request, deck, queue, message="That card is not due now. Here is the next one."
        )
        return _render_study(request, context, status=409)
    context = _study_context(request, deck, queue, card=card, memory=memory, reveal=True)
    if request.GET.get("shown", "").isdigit():
        context["shown_at"] = int(request.GET["shown"])
    return _render_study(request, context)


def _int_field(data, name):
    value = data.get(name, "")
    return int(value) if value.isdigit() else None


@require_POST
@login_required_for_study
@vary_on_headers("HX-Request")
def answer(request, slug):
    deck = _get_deck_for_user(request.user, slug)
    profile = profile_for(request.user)
    now = timezone.now()
    card_id, rating, reps = (_int_field(request.POST, name) for name in ("card", "rating", "reps"))
    shown_at = _int_field(request.POST, "shown_at")
    card = deck.cards.filter(pk=card_id).first() if card_id is not None else None
    message, status = "", 200
    if card is None:
        message, status = "That card is not in this deck. Here is the next one.", 400
    elif rating not in scheduling.RATINGS or reps is None:
        message, status = "Choose Again, Hard, Good or Easy (keys 1 to 4).", 400
    else:
        elapsed = int(now.timestamp() * 1000) - shown_at if shown_at else 0
        try:
            record_answer(
                request.user,
                card,
                rating,
                expected_reps=reps,
                now=now,
                duration_ms=min(max(elapsed, 0), MAX_ANSWER_MS),
                profile=profile,
            )
        except AnswerRefused as refusal:
            message, status = str(refusal), 409
    if not request.htmx and status == 200:
        return redirect("flashcards:study", slug=deck.slug)
    queue = study_queue(request.user, deck, now, profile)
    return _render_study(request, _study_context(request, deck, queue, message=message), status)


@require_POST
@login_required_for_study
@vary_on_headers("HX-Request")
def undo(request, slug):
    deck = _get_deck_for_user(request.user, slug)
    queue = _queue(request, deck)
    review_id = _int_field(request.POST, "review")
    day_start, _ = queue.profile.study_day(queue.now)
    try:
        review = undo_review(request.user, deck, review_id, day_start)
    except AnswerRefused as refusal:
        context = _study_context(request, deck, queue, message=str(refusal))
        return _render_study(request, context, status=409)
    if not request.htmx:
        messages.info(request, UNDONE)
        return redirect(f"{reverse('flashcards:study', args=[deck.slug])}?card={review.card_id}")
    queue = _queue(request, deck)
    card, memory = _available_card(deck, queue, review.card_id)
    context = _study_context(request, deck, queue, card=card, memory=memory)
    context["message"] = UNDONE
    return _render_study(request, context)


@login_required
@require_GET
def progress(request, slug=None):
    user = request.user
    profile = profile_for(user)
    now = timezone.now()
    today_date = profile.study_date(now)
    decks = Deck.objects.visible_to(user).annotate(card_count=Count("cards"))
    reviews = Review.objects.filter(user=user)
    memories = Memory.objects.filter(user=user)
    deck = None
    if slug is not None:
        deck = _get_deck_for_user(user, slug)
        decks = decks.filter(pk=deck.pk)
        reviews, memories = reviews.filter(deck=deck), memories.filter(deck=deck)
    decks = list(decks)

    by_state = stats.cards_by_state(memories)
    rows, left_today = [], 0
    for each in decks:
        states = by_state.get(each.pk, {"learning": 0, "young": 0, "mature": 0, "relearning": 0})
        rows.append({"deck": each, "new": each.card_count - sum(states.values()), **states})
        left_today += sum(study_queue(user, each, now, profile).counts().values())

    seconds_per_answer = stats.seconds_per_answer(reviews)
    forecast = [
        (date, due, due * seconds_per_answer / 60)
        for date, due in stats.forecast(memories, profile, now)
    ]
    context = {
        "deck": deck,
        "decks": Deck.objects.visible_to(user),
        "rows": rows,
        "today": stats.today(reviews, today_date),
        "left_today": left_today,
        "streak": stats.streak(reviews, today_date),
        "heatmap": charts.heatmap(stats.heatmap(reviews, today_date), today_date),
        "forecast": forecast,
        "forecast_chart": charts.bars([(date, due) for date, due, _ in forecast]),
        "seconds_per_answer": seconds_per_answer,
        "retention": stats.true_retention(reviews, today_date),
        "desired_retention": scheduling.DESIRED_RETENTION,
        "knowledge": stats.estimated_knowledge(memories, now),
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
            scheduling.retrievability(memory.as_scheduling(), timezone.now()) if memory else None
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
        yield writer.writerow(row)


def _json_chunks(rows):
    yield "["
    for n, row in enumerate(rows):
        yield ("," if n else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"


@login_required
@require_GET
def export_history(request, fmt):
    """Every answer of the learner, streamed so that a long history never sits in memory."""
    rows = _export_rows(request.user)
    stamp = timezone.now().strftime("%Y%m%d")
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(_json_chunks(rows), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="flashcards-history-{stamp}.{fmt}"'
    return response


def staff_required(view):
    """Staff only: anonymous visitors are sent to log in, learners are refused."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _insight_decks(user):
    """Curated decks; a superuser also sees learners' private decks."""
    return Deck.objects.all() if user.is_superuser else Deck.objects.filter(owner=None)


@staff_required
@require_GET
def insight(request):
    since = timezone.now() - timedelta(days=7)
    decks = _insight_decks(request.user).annotate(card_count=Count("cards", distinct=True))
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
    cards = card_insight(deck.cards.all()).order_by(*INSIGHT_SORTS[sort])
    page = Paginator(cards, INSIGHT_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"deck": deck, "page": page, "sort": sort, "columns": INSIGHT_COLUMNS}
    return render(request, "flashcards/deck_insight.html", context)


@login_required
def study_settings(request):
    profile = profile_for(request.user)
    if not profile.timezone:
        profile.timezone = profile.zone.key
    form = SettingsForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("flashcards:settings")
    return render(request, "flashcards/settings.html", {"form": form})


def signup(request):
    if request.user.is_authenticated:
        return redirect("flashcards:deck_list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Pick a deck to start studying.")
        return redirect("flashcards:deck_list")
    return render(request, "registration/signup.html", {"form": form})
