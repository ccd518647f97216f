"""What a learner has left to study in a deck: the counts, the next card, learn-ahead."""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser

from flashcards import scheduling, statements
from flashcards.models import Deck, Memory, NewCardCursor, Profile

# When nothing else is left, a learning card due this soon is shown early, as Anki does.
LEARN_AHEAD = timedelta(minutes=20)
# New and due cards are counted up to the daily limits, and never past these: a count costs a
# row read each (new cards a lookup of the learner's memory too), on every answer; 1,000 due
# cards took 1.2 ms on PostgreSQL. Beyond them the screen says "100+" or "500+".
COUNTED_NEW = 100
COUNTED_DUE = 500
LEARNING_STATES = frozenset({scheduling.LEARNING, scheduling.RELEARNING})
# The new-card cursor is moved up once it lags this many positions behind the first unseen card:
# reading that many seen cards again costs less than writing the cursor on every new card
# answered (0.3 ms an answer).
CURSOR_SLACK = 16


@dataclass(frozen=True)
class StudyQueue:
    """What one learner has left to study in one deck at one moment.

    `unseen` and `due` are counted only up to counting_limits(); `more_new` and `more_due` say
    that the count reached its limit, so that there may be more.
    """

    profile: Profile
    user: AbstractBaseUser
    deck: Deck
    now: datetime
    day_end: datetime
    unseen: int
    learning: int
    due: int
    done_new: int
    done_reviews: int
    more_new: bool = False
    more_due: bool = False
    # The learner's first unseen card of the deck (position, card id), None if not looked for
    # or none is left; and where their new-card cursor was, None before their first new card.
    first_unseen: tuple | None = None
    cursor: tuple | None = None

    @property
    def new_left(self):
        return max(0, self.profile.new_cards_per_day - self.done_new)

    @property
    def reviews_left(self):
        return max(0, self.profile.reviews_per_day - self.done_reviews)

    def counts(self):
        """New, learning and due counts as the deck list and study screen show them, and
        whether the new and due ones are "at least" (the screen adds a +)."""
        return {
            "new": min(self.unseen, self.new_left),
            "learning": self.learning,
            "due": min(self.due, self.reviews_left),
            # Where the daily limit is the smaller, the count is that limit, exactly.
            "more_new": self.more_new and self.unseen < self.new_left,
            "more_due": self.more_due and self.due < self.reviews_left,
        }

    def left_today(self):
        counts = self.counts()
        return counts["new"] + counts["learning"] + counts["due"]

    def after_answer(self, before, after):
        """The queue once this answer is recorded, worked out without asking the database."""
        figures = {
            "unseen": self.unseen - (before.state == scheduling.NEW),
            "learning": self.learning,
            "due": self.due,
            "done_new": self.done_new + (before.state == scheduling.NEW),
            "done_reviews": self.done_reviews + (before.state == scheduling.REVIEW),
        }
        if bucket := self._bucket(before):
            figures[bucket] -= 1
        if bucket := self._bucket(after):
            figures[bucket] += 1
        return replace(self, **figures)

    def _bucket(self, memory):
        if memory.due is None or memory.due >= self.day_end:
            return None
        if memory.state in LEARNING_STATES:
            return "learning"
        if memory.state == scheduling.REVIEW:
            return "due"
        return None

    def next_card(self):
        """The next card to show and the learner's memory of it (None for a card never seen);
        (None, None) when nothing is left."""
        found = statements.next_card(
            self.user.pk,
            self.deck.pk,
            now=self.now,
            learn_ahead_until=self.now + LEARN_AHEAD,
            day_end=self.day_end,
            with_reviews=self.reviews_left > 0,
            with_new=self.new_left > 0,
        )
        if found is None:
            return None, None
        card, memory = found
        card.deck = self.deck
        if memory is not None:
            memory.card = card
        return card, memory

    def is_available(self, card, memory):
        """Whether this card may be answered now."""
        if memory is None or memory.state == scheduling.NEW:
            return self.new_left > 0
        if memory.state in LEARNING_STATES:
            return memory.due <= self.now + LEARN_AHEAD
        return memory.due < self.day_end and self.reviews_left > 0

    def next_due(self):
        """When the learner's next card in this deck comes due, after today's work is done."""
        upcoming = Memory.objects.filter(user=self.user, deck=self.deck, due__gt=self.now)
        return upcoming.order_by("due").values_list("due", flat=True).first()


def counting_limits(profile):
    """How far new and due cards are counted: the daily limits, up to COUNTED_NEW and
    COUNTED_DUE; and the daily new-card limit, past which new cards are not counted at all."""
    return {
        "new_limit": min(profile.new_cards_per_day, COUNTED_NEW),
        "review_limit": min(profile.reviews_per_day, COUNTED_DUE),
        "new_per_day": profile.new_cards_per_day,
    }


def study_queue(user, deck, now, profile):
    """What the learner has left to study in the deck now."""
    day_start, day_end = profile.study_day(now)
    limits = counting_limits(profile)
    figures = statements.queue_figures(user.pk, deck.pk, day_start, day_end, limits)
    return queue_of(figures, profile=profile, user=user, deck=deck, now=now, day_end=day_end)


def queue_of(figures, *, profile, user, deck, **where):
    """The queue of the figures statements.QUEUE_FIGURES names, in its order; the learner's
    new-card cursor is moved up to their first unseen card if it lags behind."""
    figures = dict(zip(statements.QUEUE_FIGURES, figures, strict=True))
    limits = counting_limits(profile)
    first_unseen = (figures.pop("first_unseen_position"), figures.pop("first_unseen_card"))
    first_unseen = None if first_unseen[0] is None else first_unseen
    cursor = (figures.pop("cursor_position"), figures.pop("cursor_card"))
    cursor = None if cursor[0] is None else cursor
    lag = first_unseen[0] - cursor[0] if cursor and first_unseen else 0
    if lag >= CURSOR_SLACK:
        # The cards between were seen since, or written in bulk: later reads start further on.
        NewCardCursor.move(user, deck.pk, first_unseen, since=cursor)
    return StudyQueue(
        profile=profile,
        user=user,
        deck=deck,
        **where,
        **figures,
        more_new=figures["unseen"] >= limits["new_limit"] > 0,
        more_due=figures["due"] >= limits["review_limit"] > 0,
        first_unseen=first_unseen,
        cursor=cursor,
    )


def card_in_deck(user, card_id, slug, now, profile):
    """The card with this id in the deck with this slug, the learner's memory of it (None if
    never seen) and the deck's queue, in one query: (card, memory, queue), or (None, None, None)
    if there is no such card."""
    day_start, day_end = profile.study_day(now)
    limits = counting_limits(profile)
    found = statements.answered_card(user.pk, card_id, slug, day_start, day_end, limits)
    if found is None:
        return None, None, None
    card, deck, memory, figures = found
    card.deck = deck
    if memory is not None:
        memory.card = card
    queue = queue_of(figures, profile=profile, user=user, deck=deck, now=now, day_end=day_end)
    return card, memory, queue
