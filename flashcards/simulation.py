"""A learner's study simulated with the real scheduler, for demos, tests and benchmarks.

Answers follow FSRS's own prediction of recall, so the history, the memories and every
figure computed from them are consistent with each other. Reproducible from a seed.
"""

import random
from datetime import timedelta

from flashcards import scheduling
from flashcards.models import Memory, Review

RATING_WHEN_RECALLED = ((scheduling.HARD, 0.12), (scheduling.GOOD, 0.78), (scheduling.EASY, 0.10))


def _rating(rng, recall_probability):
    if rng.random() > recall_probability:
        return scheduling.AGAIN
    draw = rng.random()
    for rating, share in RATING_WHEN_RECALLED:
        draw -= share
        if draw < 0:
            return rating
    return scheduling.GOOD


def simulate(user, cards, profile, *, end, days, answers, seed=0):
    """Write about `answers` answers by `user` on `cards` over the `days` study days up to `end`.

    Each day the learner answers every card that is due, then new cards, until that day's share
    of the target is reached; learning steps are repeated within the day as they come due.
    Returns the number of answers written.
    """
    rng = random.Random(seed)
    cards = list(cards)
    per_day = max(1, answers // days)
    memories = {}
    rows = []
    unseen = iter(cards)
    last_date = profile.study_date(end)
    for offset in range(days - 1, -1, -1):
        date = last_date - timedelta(days=offset)
        day_start = profile.day_start(date)
        now = day_start + timedelta(hours=rng.uniform(4, 14))
        quota = per_day if len(rows) + per_day * (offset + 1) <= answers else answers - len(rows)
        done = 0
        day_end = profile.day_start(date + timedelta(days=1))
        queue = [
            card for card in cards if card.pk in memories and memories[card.pk][1].due < day_end
        ]
        while done < quota:
            if not queue:
                card = next(unseen, None)
                if card is None:
                    break
                queue.append(card)
            card = queue.pop(0)
            before = memories[card.pk][1] if card.pk in memories else scheduling.Memory()
            if before.due and before.due > now:
                now = before.due  # waits for the learning step to run out
            if now >= end:
                break
            recall = scheduling.retrievability(before, now)
            rating = _rating(rng, 0.75 if recall is None else recall)
            after = scheduling.review(
                before, rating, now, seed=scheduling.fuzz_seed(card.pk, before.reps)
            )
            duration_ms = int(rng.lognormvariate(8.8, 0.5))
            rows.append(_review_row(user, card, profile, now, rating, duration_ms, before, after))
            memories[card.pk] = (card.deck_id, after)
            done += 1
            if after.due < day_end:
                queue.append(card)
            now += timedelta(milliseconds=duration_ms)
    Review.objects.bulk_create(rows, batch_size=2000)
    Memory.objects.bulk_create(
        [
            _memory_row(user, card_id, deck_id, memory)
            for card_id, (deck_id, memory) in memories.items()
        ],
        batch_size=2000,
    )
    return len(rows)


def _review_row(user, card, profile, now, rating, duration_ms, before, after):
    return Review(
        user=user,
        card=card,
        deck_id=card.deck_id,
        rating=rating,
        reviewed_at=now,
        study_day=profile.study_date(now),
        duration_ms=duration_ms,
        number=after.reps,
        state_before=before.state,
        step_before=before.step,
        stability_before=before.stability,
        difficulty_before=before.difficulty,
        due_before=before.due,
        last_review_before=before.last_review,
        lapses_before=before.lapses,
        state_after=after.state,
        step_after=after.step,
        stability_after=after.stability,
        difficulty_after=after.difficulty,
        due_after=after.due,
    )


def _memory_row(user, card_id, deck_id, memory):
    row = Memory(user=user, card_id=card_id, deck_id=deck_id)
    row.set_from(memory)
    return row
