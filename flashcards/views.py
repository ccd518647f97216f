from datetime import timedelta
from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import scheduling
from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import (
    AnswerRefused,
    Deck,
    Memory,
    Review,
    profile_for,
    record_answer,
    study_queue,
    undo_review,
)

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
        return redirect(f"{reverse('flashcards:study', args=[deck.slug])}?card={review.card_id}")
    queue = _queue(request, deck)
    card, memory = _available_card(deck, queue, review.card_id)
    context = _study_context(request, deck, queue, card=card, memory=memory)
    context["message"] = "Undone. Answer the card again."
    return _render_study(request, context)


@login_required
@require_GET
def progress(request):
    profile = profile_for(request.user)
    now = timezone.now()
    day_start, _ = profile.study_day(now)
    decks = list(Deck.objects.visible_to(request.user).annotate(card_count=Count("cards")))
    by_deck = {}
    for row in (
        Memory.objects.filter(user=request.user).values("deck_id", "state").annotate(n=Count("id"))
    ):
        by_deck.setdefault(row["deck_id"], {})[row["state"]] = row["n"]
    reviews_today = dict(
        Review.objects.filter(user=request.user, reviewed_at__gte=day_start)
        .values_list("deck_id")
        .annotate(n=Count("id"))
    )
    rows = []
    for deck in decks:
        states = by_deck.get(deck.pk, {})
        seen = sum(states.values())
        rows.append(
            {
                "deck": deck,
                "new": deck.card_count - seen,
                "learning": states.get(scheduling.LEARNING, 0),
                "review": states.get(scheduling.REVIEW, 0),
                "relearning": states.get(scheduling.RELEARNING, 0),
                "today": reviews_today.get(deck.pk, 0),
            }
        )
    recent = (
        Review.objects.filter(user=request.user)
        .select_related("card", "deck")
        .order_by("-reviewed_at", "-id")[:20]
    )
    totals = Review.objects.filter(user=request.user).aggregate(
        all=Count("id"),
        today=Count("id", filter=Q(reviewed_at__gte=day_start)),
    )
    context = {"rows": rows, "recent": recent, "totals": totals, "zone": profile.zone}
    return render(request, "flashcards/progress.html", context)


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
