"""Studying a deck: the card, its answer, the answer given, and undo."""

from datetime import timedelta

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import answering, scheduling
from flashcards.models import MAX_ANSWER_MS, Deck, Review, profile_for
from flashcards.queue import card_in_deck, study_queue
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


def available_card(request, deck, card_id):
    """The card with this id in this deck if it can be studied now, with its memory, and the
    deck's queue: (card or None, memory or None, queue)."""
    if card_id is not None and card_id <= MAX_ID:
        now, profile = timezone.now(), profile_for(request.user)
        card, memory, queue = card_in_deck(request.user, card_id, deck.slug, now, profile)
        if card is None:
            return None, None, queue_for(request, deck)
        if not queue.is_available(card, memory):
            return None, None, queue
        return card, memory, queue
    return None, None, queue_for(request, deck)


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def study(request, slug):
    deck = get_deck_for_user(request.user, slug)
    card, memory, queue = available_card(request, deck, int_field(request.GET, "card"))
    return render_study(request, study_context(request, deck, queue, card=card, memory=memory))


@require_GET
@login_required_for_study
@vary_on_headers("HX-Request")
def reveal(request, slug, card_id):
    deck = get_deck_for_user(request.user, slug)
    card, memory, queue = available_card(request, deck, card_id)
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
    if card_id is None or reps is None:
        answered = answering.refused(answering.BAD_RATING, 400)
    else:
        try:
            answered = answering.answer_card(
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
    if not request.htmx and not answered.refusal:
        return redirect("flashcards:study", slug=slug)
    if answered.queue is not None:
        deck, queue = answered.card.deck, answered.queue
    else:
        deck = get_deck_for_user(request.user, slug)
        queue = study_queue(request.user, deck, now, profile)
    context = study_context(
        request, deck, queue, message=answered.refusal, last_review=answered.review
    )
    return render_study(request, context, answered.status)


@require_POST
@login_required_for_study
@vary_on_headers("HX-Request")
def undo(request, slug):
    deck = get_deck_for_user(request.user, slug)
    profile = profile_for(request.user)
    day_start, _ = profile.study_day(timezone.now())
    undone = answering.undo_review(request.user, deck, int_field(request.POST, "review"), day_start)
    if undone.refusal:
        context = study_context(request, deck, queue_for(request, deck), message=undone.refusal)
        return render_study(request, context, status=undone.status)
    card_id = undone.review.card_id
    if not request.htmx:
        messages.info(request, UNDONE)
        return redirect(f"{reverse('flashcards:study', args=[deck.slug])}?card={card_id}")
    card, memory, queue = available_card(request, deck, card_id)
    context = study_context(request, deck, queue, card=card, memory=memory, message=UNDONE)
    return render_study(request, context)
