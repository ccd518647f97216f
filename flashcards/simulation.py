"""A learner's study simulated with the real scheduler, for demos, tests and benchmarks.

Answers follow FSRS's own prediction of recall, so the history, the memories and every
figure computed from them are consistent with each other. Reproducible from a seed.
"""

import random
from datetime import timedelta

from flashcards import scheduling
from flashcards.models import Memory, MemorySnapshot, NewCardCursor, Review, StudyDayTotal

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

    Each day the learner answers the cards that are due, then new cards, until that day's share
    of the target is reached; learning steps come back within the day as they come due.
    Returns the number of answers written.
    """
    rng = random.Random(seed)
    memories = {}  # card id -> (deck id, scheduling.Memory)
    rows = []
    unseen = iter(cards)
    by_id = {card.pk: card for card in cards}
    last_date = profile.study_date(end)
    for index in range(days):
        # The answers spread evenly over the days, whether there are more or fewer of them.
        quota = (index + 1) * answers // days - index * answers // days
        date = last_date - timedelta(days=days - 1 - index)
        day_start, day_end = profile.day_start(date), profile.day_start(date + timedelta(days=1))
        now = day_start + timedelta(hours=rng.uniform(4, 14))  # a session between 8 AM and 6 PM
        queue = {card_id for card_id, (_, memory) in memories.items() if memory.due < day_end}
        for _ in range(quota):
            card = _next_card(queue, memories, by_id, unseen, now)
            if card is None:
                break
            before = memories[card.pk][1] if card.pk in memories else scheduling.Memory()
            if before.state != scheduling.REVIEW and before.due and before.due > now:
                now = before.due  # waits for a learning step to run out
            if now >= end:
                break
            elapsed_days = profile.elapsed_days(before, date)
            recall = scheduling.retrievability(before, elapsed_days)
            rating = _rating(rng, 0.75 if recall is None else recall)
            after = scheduling.review(
                before,
                rating,
                now,
                elapsed_days=elapsed_days,
                seed=scheduling.fuzz_seed(card.pk, before.reps),
            )
            duration_ms = int(rng.lognormvariate(8.8, 0.5))
            rows.append(
                Review.from_answer(
                    user,
                    card,
                    rating=rating,
                    at=now,
                    profile=profile,
                    duration_ms=duration_ms,
                    before=before,
                    after=after,
                )
            )
            memories[card.pk] = (card.deck_id, after)
            queue.discard(card.pk)
            if after.due < day_end:
                queue.add(card.pk)
            now += timedelta(milliseconds=duration_ms)
    Review.objects.bulk_create(rows, batch_size=2000)
    StudyDayTotal.forget([user.pk])
    MemorySnapshot.forget([user.pk])
    Memory.objects.bulk_create(
        [
            _memory_row(user, card_id, deck_id, memory)
            for card_id, (deck_id, memory) in memories.items()
        ],
        batch_size=2000,
    )
    for deck_id in {deck_id for deck_id, _ in memories.values()}:
        NewCardCursor.catch_up(user.pk, deck_id)
    return len(rows)


def _next_card(queue, memories, by_id, unseen, now):
    """As the study screen chooses: a card due now, else a new card, else the next learning step."""
    if queue:
        ready = [
            card_id
            for card_id in queue
            if memories[card_id][1].state == scheduling.REVIEW or memories[card_id][1].due <= now
        ]
        if ready:
            return by_id[min(ready, key=lambda card_id: memories[card_id][1].due)]
    card = next(unseen, None)
    if card is not None:
        return card
    if queue:
        return by_id[min(queue, key=lambda card_id: memories[card_id][1].due)]
    return None


def _memory_row(user, card_id, deck_id, memory):
    row = Memory(user=user, card_id=card_id, deck_id=deck_id)
    row.set_from(memory)
    return row
