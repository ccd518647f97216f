"""FSRS-6 parameters fitted to every learner's answers on a curated deck, "pooled".

A learner with too little history for a fit of their own is scheduled with them on that deck
(`Profile.parameters_for`), once they have beaten FSRS's defaults through the same gate a
learner's own fit goes through. Fitted by the task `fit_pooled_parameters`, which
`manage.py fit_parameters --pooled` queues nightly for every curated deck, never in a request.
"""

from itertools import batched

from django.db.models import Count, Exists, Max, OuterRef

from flashcards import fitting
from flashcards.models import Deck, Memory, Review

# Only whole histories of the deck's most recently active learners, up to this many answers in
# all: the fit and the gate then take about 25 s of CPU and 150 MB of a worker however popular
# the deck (bench/pooled_fit.py), and the learners who studied lately are the ones these
# parameters will schedule. A history is never cut short: a card's answers from the middle on
# would pass for a new card's.
MAX_ANSWERS = 200_000


def decks_to_fit():
    """The curated decks that real learners have answered cards of."""
    answered = Review.objects.filter(card__deck=OuterRef("pk"), user__is_active=True)
    return Deck.objects.filter(Exists(answered), owner=None, hidden=False)


def recent_learners(deck, limit=MAX_ANSWERS):
    """The ids of the learners whose answers on the deck's cards are pooled: real ones only
    (never the inactive stand-ins an import writes history as), the most recently active first,
    as many as hold at most `limit` answers together (a learner whose history alone would pass
    it is left out)."""
    learners = (
        Review.objects.filter(card__deck=deck, user__is_active=True)
        .values("user")
        .annotate(last=Max("reviewed_at"), answers=Count("id"))
        .order_by("-last", "user")
    )
    chosen, total = [], 0
    for learner in learners.iterator(chunk_size=5000):
        if total + learner["answers"] <= limit:
            chosen.append(learner["user"])
            total += learner["answers"]
    return chosen


def deck_answers(deck, learners):
    """The answers of these learners on the deck's cards, in time order, as fitting takes them.

    A card's memory is one learner's: each (learner, card) pair gets its own card id.
    """
    ids, answers = {}, []
    # A few thousand learners a query: SQLite takes at most 32,766 parameters in one.
    for some in batched(learners, 5000):
        rows = Review.objects.filter(card__deck=deck, user__in=some).values_list(
            "user_id", "card_id", "reviewed_at", "study_day", "rating"
        )
        answers += [
            fitting.Answer(
                card_id=ids.setdefault((user_id, card_id), len(ids) + 1),
                reviewed_at=at,
                day=day,
                rating=rating,
            )
            for user_id, card_id, at, day, rating in rows.iterator(chunk_size=5000)
        ]
    answers.sort(key=lambda answer: answer.reviewed_at)
    return answers


def fit_deck(deck, now):
    """Fit the deck's pooled parameters, adopt them only if they predict its learners' later
    answers better than FSRS's defaults, and record the figures either way; return the deck.

    Parameters adopted before stay in use when a new fit does not pass: they passed the gate on
    the answers of their day, a new fit's failing to beat the defaults by two standard errors
    is no sign that they hurt, and learners' intervals should not swing from night to night.
    """
    learners = recent_learners(deck)
    answers = deck_answers(deck, learners)
    figures = {"learners": len(learners), "answers": len(answers)}
    try:
        evaluation = fitting.evaluate_candidate(answers, fitting.default_parameters())
    except Exception as error:  # a failed fit keeps the parameters in use, and says why
        figures.update(status="failed", reason=f"The fit failed: {error}")
        evaluation = None
    else:
        figures.update(
            status="adopted" if evaluation.adopt else "kept",
            reason=evaluation.reason,
            cross_day=evaluation.cross_day,
            current=evaluation.current,
            candidate=evaluation.candidate,
            z=evaluation.current["z"] if evaluation.current else None,
        )
    adopted = evaluation is not None and evaluation.adopt
    figures["adopted_at"] = now.isoformat() if adopted else deck.pooled_evaluation.get("adopted_at")
    changes = {"pooled_evaluation": figures, "pooled_at": now}
    if adopted:
        changes["pooled_parameters"] = list(evaluation.parameters)
    # One statement, which leaves the deck's other fields to whoever edits them meanwhile.
    Deck.objects.filter(pk=deck.pk).update(**changes)
    deck.refresh_from_db(fields=list(changes))
    return deck


def card_parameters(user):
    """{card id: pooled parameters} for the learner's cards on decks that have some: what
    schedules those cards while the learner has no fit of their own."""
    decks = dict(Deck.objects.exclude(pooled_parameters=[]).values_list("pk", "pooled_parameters"))
    cards = Memory.objects.filter(user=user, card__deck__in=list(decks)).values_list(
        "card_id", "card__deck_id"
    )
    return {card_id: decks[deck_id] for card_id, deck_id in cards.iterator(chunk_size=5000)}


def decks_scheduled_with_pooled(profile):
    """The decks the learner has studied whose pooled parameters schedule their cards: none
    once the learner has parameters of their own."""
    if profile.parameters:
        return Deck.objects.none()
    studied = Memory.objects.filter(user=profile.user_id, card__deck=OuterRef("pk"))
    return Deck.objects.exclude(pooled_parameters=[]).filter(Exists(studied))
