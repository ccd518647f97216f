"""Studying a deck: the card, its answer, the answer given, and undo."""

from datetime import timedelta

from django.contrib import messages
from django.db.models import Count
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import scheduling
from flashcards.models import (
    MAX_ANSWER_MS,
    AnswerRefused,
    Deck,
    Review,
    answer_card,
    card_in_deck,
    profile_for,
    study_queue,
    undo_review,
)
from flashcards.views.access import (
    MAX_ID,
    get_deck_for_user,
    int_field,
    login_required_for_study,
)

UNDONE = "Undone. Answer the card again."
# A page's "shown at" older than this is not believed: the answer counts on the day it is given.
SHOWN_AT_LIMIT = timedelta(days=2)


def shown_time(shown_at_ms, now):
    """When the card was shown, from the page's `shown_at` (milliseconds since 1970), or None
    if it is missing, in the future or older than SHOWN_AT_LIMIT."""
    if shown_at_ms is None:
        return None
    ago = timedelta(milliseconds=now.timestamp() * 1000 - shown_at_ms)
    return now - ago if timedelta(0) <= ago <= SHOWN_AT_LIMIT else None


@require_GET
def deck_list(request):
    decks = list(
        Deck.objects.listed_for(request.user).annotate(card_count=Count("cards")).order_by("title")
    )
    if request.user.is_authenticated:
        profile = profile_for(request.user)
        now = timezone.now()
        for deck in decks:
            deck.counts = study_queue(request.user, deck, now, profile).counts()
    return render(request, "flashcards/deck_list.html", {"decks": decks})


def study_context(
    request,
    deck,
    queue,
    *,
    card=None,
    memory=None,
    reveal=False,
    message="",
    last_review=None,
    shown_at=None,
):
    """Everything the study region shows: the card with its answer (hidden until revealed),
    the counts, and undo of the last answer (`last_review`, looked up when not given).

    `shown_at` (ms since 1970) is when the card was first shown, if before now: its buttons show
    the intervals an answer will get, which count from the study day it was shown on."""
    profile = queue.profile
    shown = shown_time(shown_at, queue.now)
    if shown is None:
        shown, shown_at = queue.now, int(queue.now.timestamp() * 1000)
    if card is None:
        card, memory = queue.next_card()
    if last_review is None:
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
        "shown_at": shown_at,
        "zone": profile.zone,
        "editable": deck.editable_by(request.user),
        "revealed": reveal,
    }
    if card is None:
        next_due = queue.next_due()
        context["next_due"] = next_due
        if next_due and next_due - queue.now < timedelta(hours=1):
            context["refresh_in"] = int((next_due - queue.now).total_seconds()) + 1
    else:
        # The answer side comes with the question, so that revealing it needs no request.
        before = memory.as_scheduling() if memory else scheduling.Memory()
        intervals = scheduling.preview(
            before,
            queue.now,
            elapsed_days=profile.elapsed_days(before, profile.answer_day(queue.now, shown)),
            seed=scheduling.fuzz_seed(card.pk, before.reps),
            **profile.scheduler_options(deck),
        )
        context["buttons"] = [
            (rating, scheduling.RATING_LABELS[rating], scheduling.format_interval(interval))
            for rating, interval in intervals.items()
        ]
    return context


def render_study(request, context, status=200):
    template = "flashcards/study.html#study" if request.htmx else "flashcards/study.html"
    return render(request, template, context, status=status)


def queue_for(request, deck):
    return study_queue(request.user, deck, timezone.now(), profile_for(request.user))


def available_card(deck, queue, card_id):
    """The card with this id in this deck if it can be studied now, with its memory."""
    if card_id > MAX_ID:
        return None, None
    card, memory = card_in_deck(queue.user, card_id, deck.slug)
    if card is None or not queue.is_available(card, memory):
        return None, None
    return card, memory


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def study(request, slug):
    deck = get_deck_for_user(request.user, slug)
    queue = queue_for(request, deck)
    card, memory = None, None
    if (card_id := int_field(request.GET, "card")) is not None:
        card, memory = available_card(deck, queue, card_id)
    return render_study(request, study_context(request, deck, queue, card=card, memory=memory))


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def reveal(request, slug, card_id):
    deck = get_deck_for_user(request.user, slug)
    queue = queue_for(request, deck)
    card, memory = available_card(deck, queue, card_id)
    if card is None:
        context = study_context(
            request, deck, queue, message="That card is not due now. Here is the next one."
        )
        return render_study(request, context, status=409)
    context = study_context(
        request,
        deck,
        queue,
        card=card,
        memory=memory,
        reveal=True,
        shown_at=int_field(request.GET, "shown"),
    )
    return render_study(request, context)


@require_POST
@login_required_for_study
@vary_on_headers("HX-Request")
def answer(request, slug):
    profile = profile_for(request.user)
    now = timezone.now()
    card_id, rating, reps = (int_field(request.POST, name) for name in ("card", "rating", "reps"))
    shown_at = int_field(request.POST, "shown_at")
    elapsed = int(now.timestamp() * 1000) - shown_at if shown_at else 0
    message, status, answered = "", 200, None
    try:
        if card_id is None or rating not in scheduling.RATINGS or reps is None:
            raise AnswerRefused("Choose Again, Hard, Good or Easy (keys 1 to 4).", 400)
        answered = answer_card(
            request.user,
            slug,
            card_id,
            rating,
            expected_reps=reps,
            now=now,
            duration_ms=min(max(elapsed, 0), MAX_ANSWER_MS),
            profile=profile,
            shown_at=shown_time(shown_at, now),
        )
    except Deck.DoesNotExist as missing:
        raise Http404("No such deck.") from missing
    except AnswerRefused as refusal:
        message, status = str(refusal), refusal.status
    if not request.htmx and status == 200:
        return redirect("flashcards:study", slug=slug)
    if answered is not None and answered.queue is not None:
        deck, queue = answered.card.deck, answered.queue
        last_review = answered.review
    else:
        deck = get_deck_for_user(request.user, slug)
        queue, last_review = study_queue(request.user, deck, now, profile), None
    context = study_context(request, deck, queue, message=message, last_review=last_review)
    return render_study(request, context, status)


@require_POST
@login_required_for_study
@vary_on_headers("HX-Request")
def undo(request, slug):
    deck = get_deck_for_user(request.user, slug)
    queue = queue_for(request, deck)
    review_id = int_field(request.POST, "review")
    day_start, _ = queue.profile.study_day(queue.now)
    try:
        review = undo_review(request.user, deck, review_id, day_start)
    except AnswerRefused as refusal:
        context = study_context(request, deck, queue, message=str(refusal))
        return render_study(request, context, status=409)
    if not request.htmx:
        messages.info(request, UNDONE)
        return redirect(f"{reverse('flashcards:study', args=[deck.slug])}?card={review.card_id}")
    queue = queue_for(request, deck)
    card, memory = available_card(deck, queue, review.card_id)
    context = study_context(request, deck, queue, card=card, memory=memory)
    context["message"] = UNDONE
    return render_study(request, context)
