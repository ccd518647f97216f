"""The new-card cursor: finding and counting a learner's new cards starts where their unseen
cards start, and whatever makes a card unseen again (undo, reset, a card placed earlier, a
new order) moves the cursor back, so that no new card is ever skipped."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from flashcards import queue as study
from flashcards import scheduling
from flashcards.answering import undo_review
from flashcards.models import Card, Memory, NewCardCursor, profile_for
from flashcards.queue import study_queue
from tests.conftest import answer, make_deck

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LATER = NOON + timedelta(days=30)


def next_new_card(learner, deck, now=NOON):
    card, memory = study_queue(learner, deck, now, profile_for(learner)).next_card()
    assert memory is None or memory.state == scheduling.NEW
    return card


def unseen_in_order(learner, deck):
    """Every card the learner has not seen, in new-card order: what the cursor must agree with."""
    seen = Memory.objects.filter(user=learner).exclude(state=scheduling.NEW).values("card")
    return list(deck.cards.exclude(pk__in=seen).order_by("position", "id"))


def cursor_of(learner, deck):
    return (
        NewCardCursor.objects.filter(user=learner, deck=deck)
        .values_list("position", "card_id")
        .first()
    )


@pytest.fixture
def long_deck(db):
    return make_deck(cards=8)


@pytest.fixture(autouse=True)
def cursor_without_slack(monkeypatch):
    """The cursor follows the first unseen card exactly, so that each test can see where it is."""
    monkeypatch.setattr(study, "CURSOR_SLACK", 1)


def test_the_cursor_starts_at_the_first_new_card_and_follows_the_first_unseen(learner, long_deck):
    # Looking at a deck never studied leaves no cursor.
    first = next_new_card(learner, long_deck)
    assert cursor_of(learner, long_deck) is None

    assert answer(learner, first, scheduling.EASY, NOON).created
    assert cursor_of(learner, long_deck) == (first.position, first.pk)
    for _ in range(2):
        card = next_new_card(learner, long_deck)
        assert cursor_of(learner, long_deck) == (card.position, card.pk)
        assert answer(learner, card, scheduling.EASY, NOON).created

    fourth = long_deck.cards.get(position=4)
    assert next_new_card(learner, long_deck) == fourth
    assert cursor_of(learner, long_deck) == (fourth.position, fourth.pk)


def test_a_cursor_moved_back_meanwhile_is_not_moved_on_by_an_older_read(learner, long_deck):
    """An undo in another tab moved the cursor back while this request read the next card."""
    cards = list(long_deck.cards.order_by("position"))
    for card in cards[:3]:
        answer(learner, card, scheduling.EASY, NOON)
    NewCardCursor.objects.update_or_create(
        user=learner,
        deck=long_deck,
        defaults={"position": cards[1].position, "card_id": cards[1].pk},
    )

    NewCardCursor.move(
        learner,
        long_deck.pk,
        (cards[3].position, cards[3].pk),
        since=(cards[0].position, cards[0].pk),
    )

    assert cursor_of(learner, long_deck) == (cards[1].position, cards[1].pk)


def test_the_next_new_card_reads_only_from_the_cursor_on(learner, long_deck):
    """With every card before the cursor seen, the statement never looks at them: a cursor
    placed past an unseen card (which the app never does) hides that card."""
    for card in long_deck.cards.order_by("position")[:2]:
        answer(learner, card, scheduling.EASY, NOON)
    sixth = long_deck.cards.get(position=6)
    NewCardCursor.objects.update_or_create(
        user=learner, deck=long_deck, defaults={"position": sixth.position, "card_id": sixth.pk}
    )

    assert next_new_card(learner, long_deck) == sixth
    assert study_queue(learner, long_deck, NOON, profile_for(learner)).unseen == 3


def test_a_card_answered_out_of_order_leaves_the_cursor_before_the_unseen_ones(learner, long_deck):
    first = long_deck.cards.get(position=1)
    assert next_new_card(learner, long_deck) == first
    answer(learner, first, scheduling.EASY, NOON)
    fifth = long_deck.cards.get(position=5)
    answer(learner, fifth, scheduling.EASY, NOON)

    # Answering the fifth card read the queue when the second was the first unseen.
    second = long_deck.cards.get(position=2)
    assert cursor_of(learner, long_deck) == (second.position, second.pk)
    assert next_new_card(learner, long_deck) == second
    assert cursor_of(learner, long_deck) == (second.position, second.pk)
    queue = study_queue(learner, long_deck, NOON, profile_for(learner))
    assert queue.unseen == len(unseen_in_order(learner, long_deck)) == 6


def test_undoing_a_first_answer_brings_its_card_back_first(learner, long_deck):
    cards = list(long_deck.cards.order_by("position"))
    reviews = [answer(learner, card, scheduling.EASY, NOON).review for card in cards[:3]]

    day_start, _ = profile_for(learner).study_day(NOON)
    assert undo_review(learner, long_deck, reviews[2].pk, day_start).review
    assert next_new_card(learner, long_deck) == cards[2]
    # Undoing an earlier card's answer too (its later answers undone first).
    assert undo_review(learner, long_deck, reviews[1].pk, day_start).review
    assert next_new_card(learner, long_deck) == cards[1]


def test_resetting_a_card_makes_it_new_for_every_learner_who_passed_it(
    learner, other_learner, long_deck
):
    cards = list(long_deck.cards.order_by("position"))
    for who in (learner, other_learner):
        for card in cards[:4]:
            answer(who, card, scheduling.EASY, NOON)

    cards[1].reset_progress(NOON)

    for who in (learner, other_learner):
        assert next_new_card(who, long_deck) == cards[1]
        assert unseen_in_order(who, long_deck)[0] == cards[1]


def test_a_card_added_before_the_cursor_is_the_next_new_card(learner, long_deck):
    for card in long_deck.cards.order_by("position")[:4]:
        answer(learner, card, scheduling.EASY, NOON)

    early = Card.objects.create(deck=long_deck, front="Early", back="Back", position=2)

    assert next_new_card(learner, long_deck) == early
    assert study_queue(learner, long_deck, NOON, profile_for(learner)).unseen == 5


def test_a_card_moved_before_the_cursor_is_the_next_new_card(learner, long_deck):
    for card in long_deck.cards.order_by("position")[:4]:
        answer(learner, card, scheduling.EASY, NOON)
    last = long_deck.cards.get(position=8)

    last.position = 1
    last.save()

    assert next_new_card(learner, long_deck) == last


def test_a_new_order_from_the_deck_page_starts_every_cursor_again(learner, long_deck, client):
    cards = list(long_deck.cards.order_by("position"))
    for card in cards[:3]:
        answer(learner, card, scheduling.EASY, NOON)
    assert next_new_card(learner, long_deck) == cards[3]
    long_deck.owner = learner
    long_deck.save()
    client.force_login(learner)

    # Moving the fifth card up twice puts it third, among cards already seen.
    for _ in range(2):
        client.post(f"/cards/{cards[4].pk}/move/up/")

    assert cursor_of(learner, long_deck) == (0, 0)
    assert next_new_card(learner, long_deck) == cards[4]


def test_the_new_card_count_agrees_with_every_unseen_card_up_to_the_daily_limit(learner):
    deck = make_deck(cards=40)
    profile = profile_for(learner)
    profile.new_cards_per_day = 25
    profile.save()
    cards = list(deck.cards.order_by("position"))
    answered = [0, 1, 2, 5, 9, 10, 30]
    for n in answered:
        answer(learner, cards[n], scheduling.EASY, NOON)

    tomorrow = NOON + timedelta(days=1)
    queue = study_queue(learner, deck, tomorrow, profile)
    assert queue.unseen == min(25, len(unseen_in_order(learner, deck))) == 25
    assert next_new_card(learner, deck, tomorrow) == cards[3]
    profile.new_cards_per_day = 100
    profile.save()
    queue = study_queue(learner, deck, tomorrow, profile)
    assert queue.counts()["new"] == len(unseen_in_order(learner, deck)) == 40 - len(answered)


def test_counting_reads_the_cursor_in_the_same_statement_and_moves_it_once(learner, long_deck):
    answer(learner, long_deck.cards.get(position=1), scheduling.EASY, NOON)
    profile = profile_for(learner)

    with CaptureQueriesContext(connection) as lagging:
        study_queue(learner, long_deck, NOON, profile)
    with CaptureQueriesContext(connection) as caught_up:
        study_queue(learner, long_deck, NOON, profile)

    assert [q["sql"].split()[0] for q in lagging.captured_queries] == ["SELECT", "UPDATE"]
    assert len(caught_up) == 1
    second = long_deck.cards.get(position=2)
    assert cursor_of(learner, long_deck) == (second.position, second.pk)


def test_new_and_due_cards_are_counted_up_to_a_cap_and_then_shown_as_at_least(learner, client):
    deck = make_deck(cards=study.COUNTED_NEW + 30)
    profile = profile_for(learner)
    profile.new_cards_per_day = 9999
    profile.save()

    counts = study_queue(learner, deck, NOON, profile).counts()
    assert (counts["new"], counts["more_new"]) == (study.COUNTED_NEW, True)
    client.force_login(learner)
    page = client.get(f"/decks/{deck.slug}/study/").text
    assert f"<dd>{study.COUNTED_NEW}+</dd>" in page
    # Under the cap the count is exact; so is a daily limit below it.
    profile.new_cards_per_day = 20
    profile.save()
    counts = study_queue(learner, deck, NOON, profile).counts()
    assert (counts["new"], counts["more_new"]) == (20, False)
    small = make_deck(cards=5)
    profile.new_cards_per_day = 9999
    profile.save()
    counts = study_queue(learner, small, NOON, profile).counts()
    assert (counts["new"], counts["more_new"]) == (5, False)


def test_memories_written_in_bulk_put_the_cursor_at_the_first_unseen_card(learner, long_deck):
    cards = list(long_deck.cards.order_by("position"))
    Memory.objects.bulk_create(
        Memory(user=learner, card=card, deck=long_deck, state=scheduling.REVIEW, due=LATER)
        for card in cards[:5]
    )

    NewCardCursor.catch_up(learner.pk, long_deck.pk)

    assert cursor_of(learner, long_deck) == (cards[5].position, cards[5].pk)
    Memory.objects.bulk_create(
        Memory(user=learner, card=card, deck=long_deck, state=scheduling.REVIEW, due=LATER)
        for card in cards[5:]
    )
    NewCardCursor.catch_up(learner.pk, long_deck.pk)
    assert cursor_of(learner, long_deck) == (cards[-1].position, cards[-1].pk + 1)
    assert next_new_card(learner, long_deck) is None


def test_counting_new_cards_stops_once_the_days_new_cards_are_done(learner, long_deck):
    profile = profile_for(learner)
    profile.new_cards_per_day = 2
    profile.save()
    for card in long_deck.cards.order_by("position")[:2]:
        answer(learner, card, scheduling.EASY, NOON)

    queue = study_queue(learner, long_deck, NOON, profile)

    assert queue.unseen == 0 and queue.counts()["new"] == 0
    tomorrow = study_queue(learner, long_deck, NOON + timedelta(days=1), profile)
    assert tomorrow.unseen == 2


def test_the_cursor_is_moved_up_once_it_lags_the_slack_behind(learner, monkeypatch):
    monkeypatch.setattr(study, "CURSOR_SLACK", 4)
    deck = make_deck(cards=12)
    cards = list(deck.cards.order_by("position", "id"))
    profile = profile_for(learner)
    for card in cards[:4]:
        assert next_new_card(learner, deck) == card
        assert cursor_of(learner, deck) in (None, (cards[0].position, cards[0].pk))
        answer(learner, card, scheduling.EASY, NOON)

    # Four cards seen past the cursor: the next read moves it up to the first unseen card.
    with CaptureQueriesContext(connection) as moved:
        queue = study_queue(learner, deck, NOON, profile)
    assert [q["sql"].split()[0] for q in moved.captured_queries] == ["SELECT", "UPDATE"]
    assert cursor_of(learner, deck) == (cards[4].position, cards[4].pk)
    assert queue.unseen == len(unseen_in_order(learner, deck)) == 8
