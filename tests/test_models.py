from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import ProtectedError

from flashcards import answering, scheduling
from flashcards import queue as study
from flashcards.answering import undo_review
from flashcards.models import Card, Deck, Memory, Profile, Review, profile_for
from flashcards.queue import study_queue
from tests.conftest import answer, make_deck, make_memory, make_user

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def queue(user, deck, now):
    return study_queue(user, deck, now, profile_for(user))


def test_new_cards_come_in_deck_order(learner, deck):
    card, memory = queue(learner, deck, NOON).next_card()
    assert card.front == "Front 1"
    assert memory is None


def test_answering_writes_the_history_row_and_the_new_memory(learner, deck):
    card = deck.cards.get(position=1)
    answered = answer(learner, card, scheduling.GOOD, NOON)
    review = answered.review
    assert answered.created
    memory = Memory.objects.get(user=learner, card=card)
    assert memory.state == scheduling.LEARNING
    assert memory.due == NOON + timedelta(minutes=10)
    assert memory.reps == 1
    assert review.state_before == scheduling.NEW
    assert review.state_after == scheduling.LEARNING
    assert review.due_after == memory.due
    assert review.number == 1
    assert review.duration_ms == 1500


def test_answering_good_brings_a_new_card_back_after_the_others(learner, deck):
    first = deck.cards.get(position=1)
    answer(learner, first, scheduling.GOOD, NOON)
    card, _ = queue(learner, deck, NOON).next_card()
    assert card.front == "Front 2"
    card, memory = queue(learner, deck, NOON + timedelta(minutes=11)).next_card()
    assert card == first
    assert memory.state == scheduling.LEARNING


def test_learning_cards_are_shown_early_when_nothing_else_is_left(learner):
    deck = make_deck(cards=1)
    card = deck.cards.get()
    answer(learner, card, scheduling.GOOD, NOON)
    assert queue(learner, deck, NOON).next_card()[0] == card
    answer(learner, card, scheduling.AGAIN, NOON)
    assert queue(learner, deck, NOON).next_card()[0] == card


def test_a_deck_is_finished_when_every_card_is_in_review(learner, deck):
    for card in deck.cards.all():
        answer(learner, card, scheduling.EASY, NOON)
    q = queue(learner, deck, NOON)
    assert q.next_card() == (None, None)
    assert q.counts() == {
        "new": 0,
        "learning": 0,
        "due": 0,
        "more_new": False,
        "more_due": False,
    }
    assert q.next_due() > NOON + timedelta(days=1)


def test_review_cards_come_due_at_the_start_of_their_study_day(learner):
    deck = make_deck(cards=1)
    card = deck.cards.get()
    answer(learner, card, scheduling.EASY, NOON)
    due = Memory.objects.get(user=learner, card=card).due
    # Due later that day: available from the day's 4 AM rollover on.
    day_start, _ = profile_for(learner).study_day(due)
    assert queue(learner, deck, day_start - timedelta(minutes=1)).next_card() == (None, None)
    assert queue(learner, deck, day_start).next_card()[0] == card


def test_the_study_day_rolls_over_at_4_am_in_the_learners_time_zone(learner):
    profile = profile_for(learner)
    profile.timezone = "America/New_York"
    profile.save()
    # 08:59 UTC is 03:59 in New York (EST): still the previous study day.
    start, end = profile.study_day(datetime(2026, 1, 15, 8, 59, tzinfo=UTC))
    assert start == datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
    assert end == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)
    start, _ = profile.study_day(datetime(2026, 1, 15, 9, 0, tzinfo=UTC))
    assert start == datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


def test_a_study_day_across_a_daylight_saving_change_is_23_hours(learner):
    profile = profile_for(learner)
    profile.timezone = "Europe/Berlin"
    # Clocks go forward at 2 AM on 29 March, inside the study day that starts on the 28th.
    start, end = profile.study_day(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert end - start == timedelta(hours=23)


def test_an_unknown_time_zone_falls_back_to_the_servers(learner, settings):
    settings.TIME_ZONE = "Asia/Tokyo"
    profile = Profile(user=learner, timezone="Mars/Olympus")
    assert profile.zone.key == "Asia/Tokyo"


def test_the_new_card_limit_counts_cards_introduced_today(learner):
    deck = make_deck(cards=5)
    profile = profile_for(learner)
    profile.new_cards_per_day = 2
    profile.save()
    for card in deck.cards.all()[:2]:
        answer(learner, card, scheduling.EASY, NOON)
    q = queue(learner, deck, NOON)
    assert q.counts()["new"] == 0
    assert q.next_card() == (None, None)
    third = deck.cards.get(position=3)
    assert answer(learner, third, scheduling.GOOD, NOON).refusal == answering.NOT_DUE
    tomorrow = NOON + timedelta(days=1)
    assert queue(learner, deck, tomorrow).counts()["new"] == 2


def test_a_double_submitted_answer_records_one_review(learner, deck):
    card = deck.cards.get(position=1)
    first = answer(learner, card, scheduling.GOOD, NOON, expected_reps=0)
    again = answer(learner, card, scheduling.GOOD, NOON, expected_reps=0)
    assert first.created and not again.created
    assert again.review == first.review and not again.refusal
    assert Review.objects.filter(user=learner, card=card).count() == 1
    assert Memory.objects.get(user=learner, card=card).reps == 1


def test_an_answer_on_a_stale_state_is_refused_and_records_nothing(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON, expected_reps=0)
    stale = answer(learner, card, scheduling.AGAIN, NOON, expected_reps=0)
    assert (stale.refusal, stale.status) == (answering.ALREADY_ANSWERED, 409)
    assert Review.objects.filter(user=learner, card=card).count() == 1


def test_a_rating_outside_1_to_4_is_refused(learner, deck):
    refused = answer(learner, deck.cards.first(), 5, NOON)
    assert (refused.refusal, refused.status) == (answering.BAD_RATING, 400)
    assert not Review.objects.exists()


def test_a_card_that_is_not_due_cannot_be_answered(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.EASY, NOON)
    refused = answer(learner, card, scheduling.GOOD, NOON + timedelta(hours=1))
    assert (refused.refusal, refused.status) == (answering.NOT_DUE, 409)
    assert Review.objects.filter(card=card).count() == 1


def test_undo_of_a_first_answer_makes_the_card_new_again(learner, deck):
    card = deck.cards.get(position=1)
    review = answer(learner, card, scheduling.GOOD, NOON).review
    day_start, _ = profile_for(learner).study_day(NOON)
    assert undo_review(learner, deck, review.pk, day_start).review.card == card
    assert not Memory.objects.filter(user=learner, card=card).exists()
    assert not Review.objects.exists()
    assert queue(learner, deck, NOON).next_card() == (card, None)


def test_undo_restores_the_memory_before_the_answer(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    before = Memory.objects.get(user=learner, card=card).as_scheduling()
    later = NOON + timedelta(minutes=10)
    review = answer(learner, card, scheduling.AGAIN, later).review
    undo_review(learner, deck, review.pk, profile_for(learner).study_day(later)[0])
    assert Memory.objects.get(user=learner, card=card).as_scheduling() == before
    assert Review.objects.filter(user=learner).count() == 1


def test_undoing_the_same_answer_twice_undoes_it_once(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    review = answer(learner, card, scheduling.GOOD, NOON + timedelta(minutes=10)).review
    day_start = profile_for(learner).study_day(NOON)[0]
    assert not undo_review(learner, deck, review.pk, day_start).refusal
    assert undo_review(learner, deck, review.pk, day_start).refusal == answering.NOTHING_TO_UNDO
    assert Memory.objects.get(user=learner, card=card).reps == 1


def test_a_learner_cannot_undo_another_learners_answer(learner, other_learner, deck):
    review = answer(learner, deck.cards.first(), scheduling.GOOD, NOON).review
    day_start = profile_for(learner).study_day(NOON)[0]
    assert undo_review(other_learner, deck, review.pk, day_start).refusal == (
        answering.NOTHING_TO_UNDO
    )
    assert Review.objects.filter(pk=review.pk).exists()


def test_progress_is_private_to_each_learner(learner, other_learner, deck):
    answer(learner, deck.cards.get(position=1), scheduling.EASY, NOON)
    assert queue(other_learner, deck, NOON).counts()["new"] == 3
    assert queue(learner, deck, NOON).counts()["new"] == 2


def test_editing_a_card_keeps_every_learners_memory_and_history(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    card.front = "Front 1, corrected"
    card.save()
    assert Memory.objects.get(user=learner, card=card).reps == 1
    assert Review.objects.filter(card=card).count() == 1


def test_a_studied_card_cannot_be_deleted(learner, deck):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    with pytest.raises(ProtectedError):
        card.delete()


def test_decks_visible_to_each_kind_of_user(db):
    owner, stranger = make_user(), make_user()
    staff = make_user(is_staff=True)
    published = make_deck("Published", cards=0)
    draft = make_deck("Draft", cards=0, published=False)
    private = make_deck("Private", cards=0, owner=owner)
    from django.contrib.auth.models import AnonymousUser

    def titles(user):
        return set(Deck.objects.visible_to(user).values_list("title", flat=True))

    assert titles(AnonymousUser()) == {"Published"}
    assert titles(stranger) == {"Published"}
    assert titles(owner) == {"Published", "Private"}
    assert titles(staff) == {"Published", "Draft"}
    assert [published.published, draft.published, private.owner] == [True, False, owner]


def test_deck_slugs_are_made_unique(db):
    first = make_deck("Spanish", cards=0)
    second = make_deck("Spanish", cards=0)
    assert (first.slug, second.slug) == ("spanish", "spanish-2")


# An answer racing another one on the same card, from a second tab or a retried request: the
# memory is read without a lock, and the write refuses a review count that moved meanwhile.


def read_with_queue(user, card, deck, now):
    return study.card_in_deck(user, card.pk, deck.slug, now, profile_for(user))


def answer_racing(user, deck, card, rating, now, stale_read, monkeypatch):
    """Answer as a request whose read of the card happened before another answer landed."""
    monkeypatch.setattr(answering, "card_in_deck", lambda *args, **kwargs: stale_read)
    return answering.answer_card(
        user,
        deck.slug,
        card.pk,
        rating,
        expected_reps=stale_read[1].reps if stale_read[1] else 0,
        now=now,
        duration_ms=1500,
        profile=profile_for(user),
    )


def test_an_answer_that_lost_the_race_to_a_different_one_is_refused(learner, deck, monkeypatch):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    later = NOON + timedelta(minutes=10)
    stale_read = read_with_queue(learner, card, deck, later)
    answer(learner, card, scheduling.AGAIN, later)
    winner = Memory.objects.get(user=learner, card=card).as_scheduling()

    lost = answer_racing(learner, deck, card, scheduling.EASY, later, stale_read, monkeypatch)
    assert lost.refusal == answering.ALREADY_ANSWERED

    assert Memory.objects.get(user=learner, card=card).as_scheduling() == winner
    assert list(Review.objects.order_by("number").values_list("rating", flat=True)) == [3, 1]


def test_the_same_answer_racing_itself_is_recorded_once(learner, deck, monkeypatch):
    card = deck.cards.get(position=1)
    answer(learner, card, scheduling.GOOD, NOON)
    later = NOON + timedelta(minutes=10)
    stale_read = read_with_queue(learner, card, deck, later)
    first = answer(learner, card, scheduling.GOOD, later).review

    again = answer_racing(learner, deck, card, scheduling.GOOD, later, stale_read, monkeypatch)

    assert not again.created and again.review == first
    assert Review.objects.filter(user=learner, card=card).count() == 2
    assert Memory.objects.get(user=learner, card=card).reps == 2


def test_a_first_answer_racing_another_first_answer_is_recorded_once(learner, deck, monkeypatch):
    card = deck.cards.get(position=1)
    stale_read = read_with_queue(learner, card, deck, NOON)
    assert stale_read[:2] == (card, None)
    first = answer(learner, card, scheduling.GOOD, NOON).review

    again = answer_racing(learner, deck, card, scheduling.GOOD, NOON, stale_read, monkeypatch)

    assert not again.created and again.review == first
    lost = answer_racing(learner, deck, card, scheduling.AGAIN, NOON, stale_read, monkeypatch)
    assert lost.refusal == answering.ALREADY_ANSWERED
    assert Memory.objects.get(user=learner, card=card).reps == 1
    assert Review.objects.filter(user=learner, card=card).count() == 1


def test_the_card_read_carries_its_deck_and_the_learners_memory_only(learner, deck):
    card = deck.cards.get(position=1)
    other = make_user()
    answer(other, card, scheduling.GOOD, NOON)
    assert read_with_queue(learner, card, deck, NOON)[:2] == (card, None)
    answer(learner, card, scheduling.EASY, NOON)

    read_card, memory, _ = read_with_queue(learner, card, deck, NOON)

    assert memory == Memory.objects.get(user=learner, card=card)
    assert memory.due == Memory.objects.get(pk=memory.pk).due and memory.due.tzinfo is not None
    assert read_card.deck == deck and read_card.deck.slug == deck.slug
    elsewhere = study.card_in_deck(learner, card.pk, "another-deck", NOON, profile_for(learner))
    assert elsewhere == (None, None, None)
    # Counted in the same query, the queue is the one study_queue() counts on its own.
    later = memory.due + timedelta(days=1)
    *_, counted_with_the_card = read_with_queue(learner, card, deck, later)
    alone = study_queue(learner, deck, later, profile_for(learner))
    assert counted_with_the_card == alone
    assert (alone.unseen, alone.due, alone.done_new) == (2, 1, 0)


# Each card's HTML is rendered when it is saved, so the study loop only reads it.


def test_saving_a_card_renders_its_markdown(deck):
    card = deck.cards.get(position=1)
    card.front, card.back = "What is **2 + 2**?", "$x^2$"
    card.save(update_fields=["front", "back"])
    card.refresh_from_db()
    assert card.front_html == "<p>What is <strong>2 + 2</strong>?</p>\n"
    assert "<math" in card.back_html
    assert card.front_rendered == card.front_html


def test_a_card_stored_without_its_html_is_rendered_when_shown(deck):
    card = deck.cards.get(position=1)
    # As loaddata stores a fixture's cards: the text only.
    Card.objects.filter(pk=card.pk).update(
        front="*Loaded*", back="`code`", front_html="", back_html=""
    )
    card.refresh_from_db()
    assert card.front_rendered == "<p><em>Loaded</em></p>\n"
    assert card.back_rendered == "<p><code>code</code></p>\n"


def test_the_queue_takes_learning_then_reviews_then_new_cards_then_learning_ahead(learner):
    deck = make_deck(cards=6)
    cards = list(deck.cards.order_by("position"))

    def remember(user, card, state, due):
        make_memory(user, card, state=state, due=due, last_review=NOON - timedelta(days=1))

    remember(learner, cards[0], scheduling.RELEARNING, NOON - timedelta(minutes=5))
    remember(learner, cards[1], scheduling.LEARNING, NOON - timedelta(minutes=10))
    remember(learner, cards[2], scheduling.REVIEW, NOON - timedelta(days=1))
    remember(learner, cards[3], scheduling.LEARNING, NOON + timedelta(minutes=15))
    # Another learner's memories change nothing of this learner's queue.
    remember(make_user(), cards[4], scheduling.LEARNING, NOON - timedelta(hours=1))

    def shown_after_putting_away(card):
        Memory.objects.filter(user=learner, card=card).update(due=NOON + timedelta(days=30))
        return queue(learner, deck, NOON).next_card()[0]

    assert queue(learner, deck, NOON).next_card()[0] == cards[1]
    assert shown_after_putting_away(cards[1]) == cards[0]
    assert shown_after_putting_away(cards[0]) == cards[2]
    assert shown_after_putting_away(cards[2]) == cards[4]
    no_new_left = replace(
        queue(learner, deck, NOON), done_new=profile_for(learner).new_cards_per_day
    )
    assert no_new_left.next_card() == (cards[3], Memory.objects.get(user=learner, card=cards[3]))
