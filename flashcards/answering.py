"""Recording a learner's answer to a card, and undoing it.

One way to record an answer, whoever asks: the study views and the tests. Every outcome comes
back as one Answered, so that the caller has one branch: recorded, the same answer recorded
already (a double submission), or refused with a message for the learner.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q

from flashcards import scheduling, statements
from flashcards.models import Card, Deck, Memory, NewCardCursor, Review
from flashcards.queue import StudyQueue, card_in_deck

# Refusals: 400 for a request that could never be right, 409 for one the state refuses.
BAD_RATING = "Choose Again, Hard, Good or Easy (keys 1 to 4)."
NOT_IN_DECK = "That card is not in this deck. Here is the next one."
NOT_DUE = "That card is not due yet. Here is the next one."
ALREADY_ANSWERED = "That card was already answered, perhaps in another tab."
NOTHING_TO_UNDO = "There is nothing to undo."
ALREADY_UNDONE = "That answer was already undone."


@dataclass(frozen=True)
class Answered:
    """What became of an answer.

    `review` is the answer's history row: new if `created`, else the one a first submission
    of the same answer recorded. A refused answer has a `refusal` message and the HTTP
    `status` to send it with. `card` and `queue` are known when the card was read.
    """

    review: Review | None = None
    created: bool = False
    card: Card | None = None
    queue: StudyQueue | None = None
    refusal: str = ""
    status: int = 200


def refused(message, status=409, card=None):
    return Answered(card=card, refusal=message, status=status)


def answer_card(
    user, slug, card_id, rating, *, expected_reps, now, duration_ms, profile, shown_at=None
):
    """Record an answer to the card with this id in the deck with this slug.

    `expected_reps` is the card's review count the learner saw: a second submission of the
    same answer returns the review already recorded, any other mismatch is refused as stale.
    The card was shown at `shown_at` (when known): the answer counts on that study day if the
    day rolled over since, as its buttons did.

    Nothing is locked: the memory is written only if its review count is still the one read,
    and two answers numbered alike cannot both be stored, so an answer racing another is
    refused when it writes. Raises Deck.DoesNotExist for a deck the learner may not see.
    """
    if rating not in scheduling.RATINGS:
        return refused(BAD_RATING, 400)
    card = None
    try:
        with transaction.atomic():
            card, memory, queue = card_in_deck(user, card_id, slug, now, profile)
            if card is None or not card.deck.visible_to(user):
                if not Deck.objects.visible_to(user).filter(slug=slug).exists():
                    raise Deck.DoesNotExist
                return refused(NOT_IN_DECK, 400)
            reps = memory.reps if memory else 0
            if reps != expected_reps:
                return _already_recorded(user, card, rating, expected_reps)
            if not queue.is_available(card, memory):
                return refused(NOT_DUE, card=card)
            before = memory.as_scheduling() if memory else scheduling.Memory()
            if before.state == scheduling.NEW and queue.cursor is None and queue.first_unseen:
                NewCardCursor.start(user, card.deck_id, queue.first_unseen)
            day = profile.answer_day(now, shown_at)
            after = scheduling.review(
                before,
                rating,
                now,
                elapsed_days=profile.elapsed_days(before, day),
                seed=scheduling.fuzz_seed(card.pk, before.reps),
                **profile.scheduler_options(card.deck),
            )
            if not _save_memory(user, card, memory, after, reps):
                # Another request answered this card between our read and our write.
                return _already_recorded(user, card, rating, expected_reps)
            review = Review.from_answer(
                user,
                card,
                rating=rating,
                at=now,
                profile=profile,
                duration_ms=duration_ms,
                before=before,
                after=after,
                day=day,
            )
            statements.insert(review)
            return Answered(review, True, card, queue.after_answer(before, after))
    except IntegrityError:
        # Another request recorded this very answer between our read and our write.
        return _already_recorded(user, card, rating, expected_reps)


def _save_memory(user, card, memory, after, reps):
    """Write the memory after an answer if its review count is still `reps`; whether it was."""
    if memory is None:
        memory = Memory(user=user, card=card, deck_id=card.deck_id)
        memory.set_from(after)
        statements.insert(memory)
        return True
    if not statements.update_memory(memory.pk, reps, after):
        return False
    memory.set_from(after)
    return True


def _already_recorded(user, card, rating, expected_reps):
    review = Review.objects.filter(user=user, card=card, number=expected_reps + 1).first()
    if review is None or review.rating != rating:
        return refused(ALREADY_ANSWERED, card=card)
    return Answered(review, False, card)


def undo_review(user, deck, review_id, day_start):
    """Revert one of today's answers in a deck if it is still the learner's latest on its card:
    an Answered holding the review undone, or refused."""
    with transaction.atomic():
        review = (
            Review.objects.select_for_update()
            .filter(user=user, deck=deck, pk=review_id, reviewed_at__gte=day_start)
            .select_related("card")
            .first()
        )
        if review is None:
            return refused(NOTHING_TO_UNDO)
        memory = Memory.objects.select_for_update().get(user=user, card_id=review.card_id)
        if memory.reps != review.number:
            return refused(ALREADY_UNDONE)
        if review.number == 1:
            memory.delete()
        else:
            memory.set_from(review.memory_before())
            memory.save()
        if review.state_before == scheduling.NEW:
            NewCardCursor.rewind(review.card, Q(user=user))
        review.delete()
        return Answered(review, card=review.card)
