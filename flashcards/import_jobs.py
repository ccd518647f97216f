"""Writing an import: what it would change in a deck, and the change itself, keeping every
learner's memory and history of the cards it updates."""

from dataclasses import dataclass

from django.db import transaction

from flashcards import scheduling
from flashcards.models import Card, Deck, Memory, Review, profile_for


@dataclass
class ImportPlan:
    created: int
    updated: int
    unchanged: int
    answers: int


def plan_import(deck, parsed, history_user=None):
    """What importing would do to the deck (None for a new deck), and how many answers of
    `history_user`'s would come with it."""
    existing = {}
    if deck is not None:
        existing = {
            front: (back, tags)
            for front, back, tags in deck.cards.values_list("front", "back", "tags")
        }
    created = updated = 0
    for card in parsed.cards:
        if card.front not in existing:
            created += 1
        elif existing[card.front] != (card.back, card.tags or existing[card.front][1]):
            updated += 1
    unchanged = len(parsed.cards) - created - updated
    answers = 0
    if history_user is not None:
        studied = set()
        if deck is not None:
            studied = set(
                Memory.objects.filter(user=history_user, deck=deck).values_list(
                    "card__front", flat=True
                )
            )
        answers = sum(len(card.history) for card in parsed.cards if card.front not in studied)
    return ImportPlan(created, updated, unchanged, answers)


@transaction.atomic
def apply_import(parsed, *, deck=None, owner=None, title=None, history_user=None):
    """Write the parsed cards into `deck`, or a new deck (curated unless it has an `owner`);
    return (deck, plan).

    Cards are matched by their front: a match is updated in place, keeping every learner's
    memory and history; the others are added. The file's order becomes the deck's order.
    """
    plan = plan_import(deck, parsed, history_user)
    if deck is None:
        deck = Deck.objects.create(
            title=(title or parsed.title or "Imported deck")[:200],
            owner=owner,
            published=False,
        )
    existing = {}
    for card in deck.cards.order_by("position", "id"):
        existing.setdefault(card.front, card)
    imported = []
    for position, item in enumerate(parsed.cards, start=1):
        card = existing.pop(item.front, None)
        if card is None:
            card = Card(deck=deck, front=item.front)
        card.back, card.position = item.back, position
        card.tags = item.tags or card.tags
        card.save()
        imported.append((card, item))
    for position, card in enumerate(existing.values(), start=len(parsed.cards) + 1):
        Card.objects.filter(pk=card.pk).update(position=position)
    if history_user is not None:
        plan.answers = _import_history(history_user, imported)
    return deck, plan


def _import_history(user, imported):
    """Replay Anki's answers through our scheduler, so memory and history are ours from then on.

    Cards the learner has already answered here keep their history; Anki's is not merged in.
    """
    profile = profile_for(user)
    studied = set(
        Memory.objects.filter(user=user, card__in=[card for card, _ in imported]).values_list(
            "card_id", flat=True
        )
    )
    reviews, memories = [], []
    for card, item in imported:
        if not item.history or card.pk in studied:
            continue
        memory = scheduling.Memory()
        for reviewed_at, rating, duration_ms in item.history:
            after = scheduling.review(
                memory,
                rating,
                reviewed_at,
                seed=scheduling.fuzz_seed(card.pk, memory.reps),
                **profile.scheduler_options,
            )
            reviews.append(
                Review.from_answer(
                    user,
                    card,
                    rating=rating,
                    at=reviewed_at,
                    profile=profile,
                    duration_ms=min(duration_ms, 60_000),
                    before=memory,
                    after=after,
                )
            )
            memory = after
        row = Memory(user=user, card=card, deck_id=card.deck_id)
        row.set_from(memory)
        memories.append(row)
    Review.objects.bulk_create(reviews, batch_size=1000)
    Memory.objects.bulk_create(memories, batch_size=1000)
    return len(reviews)
