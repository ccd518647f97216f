import csv
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flashcards import scheduling
from flashcards.models import Card, Review, profile_for
from flashcards.simulation import simulate
from tests.conftest import make_deck, make_memory, make_review, make_user

AGAIN, HARD, GOOD, EASY = scheduling.RATINGS
NEW, LEARNING, REVIEW = scheduling.NEW, scheduling.LEARNING, scheduling.REVIEW

TODAY = date(2026, 3, 10)
NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def write_review(user, card, *, at=NOON, rating=GOOD, state_before=REVIEW, duration_ms=3000):
    """One answer at noon by default, to a card that was not new due at it after 4 days."""
    return make_review(
        user,
        card,
        at=at,
        rating=rating,
        duration_ms=duration_ms,
        state_before=state_before,
        interval_days=None if state_before == NEW else 4,
        stability_after=12.5,
        difficulty_after=4.25,
        due_after=at + timedelta(days=5),
    )


def write_memory(user, card, *, due=NOON + timedelta(days=2), difficulty=5.0):
    return make_memory(user, card, due=due, difficulty=difficulty)


def get_at_noon(user, url):
    with time_machine.travel(NOON, tick=False):
        return logged_in(user).get(url)


def progress_url(deck=None):
    if deck is None:
        return reverse("flashcards:progress")
    return reverse("flashcards:deck_progress", args=[deck.slug])


def history_url(card):
    return reverse("flashcards:card_history", args=[card.pk])


def export_url(fmt):
    return reverse("flashcards:export_history", args=[fmt])


def streamed_text(response):
    assert response.streaming
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def private_deck(learner):
    return make_deck("Mine", cards=2, owner=learner)


# Progress.


def test_progress_shows_the_learners_own_answers_only(learner, other_learner, deck):
    first, second, _ = deck.cards.order_by("position")
    write_review(learner, first, rating=AGAIN, duration_ms=90_000)
    write_review(learner, second, at=NOON - timedelta(days=1))
    write_review(other_learner, first, duration_ms=30_000)
    write_review(other_learner, second)

    mine = get_at_noon(learner, progress_url())
    theirs = get_at_noon(other_learner, progress_url())

    assert mine.status_code == theirs.status_code == 200
    assert mine.context["today"] == {"answers": 1, "minutes": 1.5, "again_rate": 1.0}
    assert theirs.context["today"] == {"answers": 2, "minutes": 0.55, "again_rate": 0.0}
    assert mine.context["streak"] == 2
    assert theirs.context["streak"] == 1
    assert [r.user_id for r in mine.context["recent"]] == [learner.pk, learner.pk]
    assert "Again</span>" in mine.text
    assert "Again</span>" not in theirs.text


def test_the_progress_page_states_the_retention_the_learner_chose(learner, deck):
    profile = profile_for(learner)
    profile.desired_retention = 0.85
    profile.save()

    response = get_at_noon(learner, progress_url())

    assert "The scheduler aims for <strong>85.0%</strong>" in response.text


def test_the_deck_filter_limits_every_figure_to_that_deck(learner, deck):
    other_deck = make_deck("Rivers", cards=2)
    for card in deck.cards.all():
        write_review(learner, card)
        write_memory(learner, card, due=NOON - timedelta(days=1))
    for card in other_deck.cards.all():
        write_review(learner, card, rating=AGAIN)
    write_memory(learner, other_deck.cards.first(), due=NOON + timedelta(days=1))

    everything = get_at_noon(learner, progress_url()).context
    capitals = get_at_noon(learner, progress_url(deck)).context

    assert everything["deck"] is None
    assert everything["today"]["answers"] == 5
    assert {row["deck"].title for row in everything["rows"]} == {"Capitals", "Rivers"}
    assert [due for _, due, _ in everything["forecast"][:2]] == [3, 1]
    assert capitals["deck"] == deck
    assert capitals["today"] == {"answers": 3, "minutes": 0.15, "again_rate": 0.0}
    assert [row["deck"].title for row in capitals["rows"]] == ["Capitals"]
    assert capitals["rows"][0]["young"] == 3
    assert capitals["left_today"] == 3
    assert [due for _, due, _ in capitals["forecast"][:2]] == [3, 0]
    assert {review.deck_id for review in capitals["recent"]} == {deck.pk}
    # The filter still links every deck.
    assert [each.title for each in capitals["decks"]] == ["Capitals", "Rivers"]


def test_the_progress_page_needs_as_many_queries_for_2000_answers_as_for_200(db):
    decks = [make_deck(cards=150), make_deck(cards=150)]
    cards = list(Card.objects.filter(deck__in=decks).order_by("deck", "position"))
    end = datetime(2026, 3, 10, 17, 0, tzinfo=UTC)

    def queries_for(answers):
        user = make_user()
        written = simulate(user, cards, profile_for(user), end=end, days=180, answers=answers)
        assert written == Review.objects.filter(user=user).count() > answers * 0.85
        with time_machine.travel(end, tick=False):
            client = logged_in(user)
            with CaptureQueriesContext(connection) as queries:
                response = client.get(progress_url())
        assert response.status_code == 200
        assert len(response.context["recent"]) == 20
        return len(queries)

    assert queries_for(200) == queries_for(2000)


def test_the_progress_page_needs_eleven_queries_and_one_for_each_decks_queue(
    learner, deck, private_deck, django_assert_num_queries
):
    for card in deck.cards.all():
        write_review(learner, card)
        write_memory(learner, card)
    write_review(learner, private_deck.cards.first(), at=NOON - timedelta(days=3))
    client = logged_in(learner)
    with time_machine.travel(NOON, tick=False):
        # The first visit of the day makes the learner's profile and sums their memories.
        client.get(progress_url())

    # Every figure of the answers comes from three queries of them summed by study day: the
    # past days not kept as totals yet, the totals, and the latest days' answers. Every figure
    # of the memories from four: today's answers, their cards' memories, the day's sums of
    # every memory, and which of those decks still exist.
    with time_machine.travel(NOON, tick=False), django_assert_num_queries(11 + 2):
        response = client.get(progress_url())
    with time_machine.travel(NOON, tick=False), django_assert_num_queries(12 + 1):
        one_deck = client.get(progress_url(deck))

    assert response.context["today"]["answers"] == 3
    assert response.context["streak"] == 1
    assert one_deck.context["today"]["answers"] == 3
    assert response.context["heatmap"]["total"] == 4
    assert one_deck.context["heatmap"]["total"] == 3


def test_the_heatmap_shows_each_days_date_and_answers(learner, deck):
    first, second, _ = deck.cards.order_by("position")
    write_review(learner, first)
    write_review(learner, second, rating=AGAIN)
    write_review(learner, first, at=NOON - timedelta(days=1))

    response = get_at_noon(learner, progress_url())

    assert "<title>Tue 10 Mar 2026: 2 answers</title>" in response.text
    assert 'data-readout="Mon 9 Mar 2026: 1 answer"' in response.text
    assert 'data-readout="Sun 8 Mar 2026: 0 answers"' in response.text
    assert "<tr><td>Tue 10 Mar 2026</td><td>2</td></tr>" in response.text
    assert "<tr><td>Mon 9 Mar 2026</td><td>1</td></tr>" in response.text
    assert "<td>Sun 8 Mar 2026</td>" not in response.text


def test_the_cards_by_state_rows_are_in_title_order_like_the_deck_filter(learner):
    for title in ("Zoology", "Botany", "Anatomy"):
        make_deck(title, cards=1)

    context = logged_in(learner).get(progress_url()).context

    assert [each.title for each in context["decks"]] == ["Anatomy", "Botany", "Zoology"]
    assert [row["deck"].title for row in context["rows"]] == ["Anatomy", "Botany", "Zoology"]


# Card history.


def test_card_history_lists_only_the_learners_own_answers(learner, other_learner, deck):
    card = deck.cards.get(position=1)
    first = write_review(learner, card, at=NOON - timedelta(days=5), state_before=NEW)
    second = write_review(learner, card, rating=HARD)
    write_review(other_learner, card, rating=AGAIN)
    write_review(learner, deck.cards.get(position=2))
    memory = write_memory(learner, card)
    write_memory(other_learner, card, difficulty=9.0)

    response = logged_in(learner).get(history_url(card))

    assert response.status_code == 200
    assert list(response.context["reviews"]) == [first, second]
    assert response.context["memory"] == memory
    assert "Again</span>" not in response.text
    assert "Hard</span>" in response.text
    assert response.text.count('class="rating-tag') == 2


def test_card_history_of_a_card_never_answered_says_so(learner, other_learner, deck):
    card = deck.cards.first()
    write_review(other_learner, card)

    response = logged_in(learner).get(history_url(card))

    assert response.status_code == 200
    assert list(response.context["reviews"]) == []
    assert response.context["memory"] is None
    assert "You have not answered this card yet." in response.text


# Export.


@pytest.fixture
def two_histories(learner, other_learner, deck, private_deck):
    """The learner's answers in a curated and a private deck; another learner's elsewhere."""
    tricky = deck.cards.get(position=1)
    tricky.front = 'Capital of "Italy", then Spain?\nTwo lines, Ünïcode'
    tricky.save()
    mine = [
        write_review(learner, tricky, at=NOON - timedelta(days=2), state_before=NEW),
        write_review(learner, private_deck.cards.first(), at=NOON - timedelta(days=1), rating=EASY),
        write_review(learner, tricky, rating=AGAIN),
    ]
    secret = make_deck("Secret deck", owner=other_learner)
    secret.cards.update(front="Secret front")
    write_review(other_learner, secret.cards.first(), at=NOON - timedelta(hours=1))
    write_review(other_learner, tricky, at=NOON + timedelta(minutes=1))
    return mine


def expected_export(reviews):
    return [
        {
            "reviewed_at": review.reviewed_at.isoformat(),
            "study_day": review.study_day.isoformat(),
            "deck": review.deck.title,
            "card_id": review.card_id,
            "front": review.card.front,
            "rating": review.rating,
            "rating_label": scheduling.RATING_LABELS[review.rating],
            "duration_ms": 3000,
            "state_before": scheduling.STATE_LABELS[review.state_before],
            "state_after": "Review",
            "stability_after": 12.5,
            "difficulty_after": 4.25,
            "due_after": review.due_after.isoformat(),
        }
        for review in reviews
    ]


def test_the_csv_export_holds_every_answer_of_the_learner_and_nothing_else(learner, two_histories):
    response = get_at_noon(learner, export_url("csv"))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        'attachment; filename="flashcards-history-20260310.csv"'
    )
    text = streamed_text(response)
    assert "Secret" not in text
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    as_text = [
        {key: str(value) for key, value in row.items()} for row in expected_export(two_histories)
    ]
    assert rows == as_text
    assert [row["deck"] for row in rows] == ["Capitals", "Mine", "Capitals"]


def test_the_csv_export_writes_a_formula_in_a_front_or_deck_title_as_text(learner, private_deck):
    private_deck.title = '=HYPERLINK("http://evil.example","click")'
    private_deck.save()
    card = private_deck.cards.first()
    card.front = "@SUM(1+1)*cmd|' /C calc'!A0"
    card.save()
    write_review(learner, card, at=NOON)

    text = streamed_text(logged_in(learner).get(export_url("csv")))

    (row,) = csv.DictReader(io.StringIO(text, newline=""))
    assert row["deck"] == "'" + private_deck.title
    assert row["front"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert row["rating"] == "3"


def test_the_json_export_holds_every_answer_of_the_learner_and_nothing_else(
    learner, other_learner, two_histories
):
    response = logged_in(learner).get(export_url("json"))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].endswith('.json"')
    text = streamed_text(response)
    assert json.loads(text) == expected_export(two_histories)
    assert "Secret" not in text
    theirs = json.loads(streamed_text(logged_in(other_learner).get(export_url("json"))))
    assert [row["front"] for row in theirs] == ["Secret front", two_histories[0].card.front]


def test_the_export_of_a_learner_without_answers_is_empty(learner):
    assert json.loads(streamed_text(logged_in(learner).get(export_url("json")))) == []
    text = streamed_text(logged_in(learner).get(export_url("csv")))
    assert text.splitlines() == [
        ",".join(
            [
                "reviewed_at",
                "study_day",
                "deck",
                "card_id",
                "front",
                "rating",
                "rating_label",
                "duration_ms",
                "state_before",
                "state_after",
                "stability_after",
                "difficulty_after",
                "due_after",
            ]
        )
    ]


# Insight for staff.


@pytest.fixture
def staff(db):
    return make_user("staff_member", is_staff=True)


@pytest.fixture
def superuser(db):
    return make_user("super_admin", is_staff=True, is_superuser=True)


def test_insight_shows_each_decks_figures_of_the_last_seven_days(staff, deck):
    ada, grace, old_timer = make_user("ada_lovelace"), make_user("grace_hopper"), make_user()
    rivers = make_deck("Rivers", cards=2)
    first, second, _ = deck.cards.order_by("position")
    write_review(ada, first, rating=GOOD)
    write_review(ada, second, rating=AGAIN, at=NOON - timedelta(days=6, hours=23))
    write_review(grace, first, rating=HARD)
    write_review(grace, second, state_before=NEW)
    write_review(old_timer, first, rating=AGAIN, at=NOON - timedelta(days=7, minutes=1))

    response = get_at_noon(staff, reverse("flashcards:insight"))

    rows = {row["deck"].title: row for row in response.context["rows"]}
    assert set(rows) == {"Capitals", "Rivers"}
    capitals = rows["Capitals"]
    assert capitals["deck"].card_count == 3
    assert (capitals["learners"], capitals["answers"]) == (2, 4)
    assert (capitals["passed"], capitals["reviewed"]) == (2, 3)
    assert capitals["retention"] == pytest.approx(2 / 3)
    assert rows["Rivers"]["deck"] == rivers
    assert (rows["Rivers"]["answers"], rows["Rivers"]["retention"]) == (0, None)
    assert "66.7%" in response.text
    assert "(2 of 3)" in response.text
    assert "ada_lovelace" not in response.text
    assert "grace_hopper" not in response.text


def test_insight_lists_the_decks_by_title(staff):
    for title in ("Zoology", "Botany", "Anatomy"):
        make_deck(title, cards=1)

    rows = logged_in(staff).get(reverse("flashcards:insight")).context["rows"]

    assert [row["deck"].title for row in rows] == ["Anatomy", "Botany", "Zoology"]


@pytest.fixture
def struggled_deck(deck):
    """Two learners' answers on three cards whose fronts sort differently from their order."""
    zebra, apple, mango = deck.cards.order_by("position")
    for card, front in ((zebra, "Zebra"), (apple, "Apple"), (mango, "Mango")):
        card.front = front
        card.save()
    ada, grace = make_user("ada_lovelace"), make_user("grace_hopper")
    write_memory(ada, zebra, difficulty=4.0)
    write_memory(grace, zebra, difficulty=6.5)
    write_review(ada, zebra, rating=AGAIN, at=NOON - timedelta(days=400))
    write_review(ada, zebra, rating=GOOD)
    write_review(grace, zebra, state_before=NEW, rating=AGAIN)  # not a lapse: a new card
    write_review(grace, zebra, rating=AGAIN)
    write_memory(ada, apple, difficulty=8.0)
    write_review(ada, apple, state_before=NEW)
    write_review(ada, apple, state_before=LEARNING)
    for rating in (GOOD, GOOD, HARD):
        write_review(ada, apple, rating=rating)
    return deck


def test_deck_insight_shows_each_cards_figures_across_learners(staff, struggled_deck):
    response = logged_in(staff).get(reverse("flashcards:deck_insight", args=[struggled_deck.slug]))

    assert response.status_code == 200
    figures = {
        card.front: (card.learners, card.answers, card.reviewed, card.lapsed, card.lapse_rate)
        for card in response.context["page"]
    }
    assert figures == {
        "Zebra": (2, 4, 3, 2, pytest.approx(2 / 3)),
        "Apple": (1, 5, 3, 0, 0.0),
        "Mango": (0, 0, None, None, None),
    }
    difficulty = {card.front: card.difficulty for card in response.context["page"]}
    assert difficulty == {"Zebra": pytest.approx(5.25), "Apple": pytest.approx(8.0), "Mango": None}
    assert "66.7%" in response.text
    assert "<td>5.3</td>" in response.text
    assert "ada_lovelace" not in response.text
    assert "grace_hopper" not in response.text


def sorted_header(response):
    """The column the table says it is sorted by, and in which direction."""
    found = re.findall(r'aria-sort="(\w+)">\s*<a href="\?sort=(\w+)"', response.text)
    assert len(found) == 1
    direction, key = found[0]
    return key, direction


@pytest.mark.parametrize(
    "sort, fronts, direction",
    [
        ("position", ["Zebra", "Apple", "Mango"], "ascending"),
        ("front", ["Apple", "Mango", "Zebra"], "ascending"),
        ("learners", ["Zebra", "Apple", "Mango"], "descending"),
        ("answers", ["Apple", "Zebra", "Mango"], "descending"),
        ("lapse_rate", ["Zebra", "Apple", "Mango"], "descending"),
        ("difficulty", ["Apple", "Zebra", "Mango"], "descending"),
    ],
)
def test_deck_insight_sorts_by_each_column(staff, struggled_deck, sort, fronts, direction):
    url = reverse("flashcards:deck_insight", args=[struggled_deck.slug])

    response = logged_in(staff).get(url, {"sort": sort})

    assert response.context["sort"] == sort
    assert [card.front for card in response.context["page"]] == fronts
    key, announced = sorted_header(response)
    assert key == sort
    assert announced == direction


@pytest.mark.parametrize("query", [{}, {"sort": "password"}, {"sort": "-lapse_rate"}])
def test_deck_insight_falls_back_to_the_lapse_rate_for_an_unknown_sort(
    staff, struggled_deck, query
):
    url = reverse("flashcards:deck_insight", args=[struggled_deck.slug])

    response = logged_in(staff).get(url, query)

    assert response.status_code == 200
    assert response.context["sort"] == "lapse_rate"
    assert [card.front for card in response.context["page"]] == ["Zebra", "Apple", "Mango"]


def test_staff_see_curated_decks_and_a_superuser_also_private_ones(
    staff, superuser, learner, deck, private_deck
):
    draft = make_deck("Draft", published=False)
    write_review(learner, private_deck.cards.first())
    private_url = reverse("flashcards:deck_insight", args=[private_deck.slug])

    staff_rows = logged_in(staff).get(reverse("flashcards:insight")).context["rows"]
    super_rows = logged_in(superuser).get(reverse("flashcards:insight")).context["rows"]

    assert {row["deck"] for row in staff_rows} == {deck, draft}
    assert {row["deck"] for row in super_rows} == {deck, draft, private_deck}
    response = logged_in(superuser).get(private_url)
    assert [card.answers for card in response.context["page"]] == [1, 0]


def test_sorting_by_card_front_is_announced_as_ascending(staff, struggled_deck):
    url = reverse("flashcards:deck_insight", args=[struggled_deck.slug])

    response = logged_in(staff).get(url, {"sort": "front"})

    assert [card.front for card in response.context["page"]] == ["Apple", "Mango", "Zebra"]
    assert sorted_header(response) == ("front", "ascending")


# The Django admin: one learner's answers are for superusers only.


@pytest.mark.parametrize("model", ["review", "memory"])
def test_the_admin_lists_a_learners_answers_to_a_superuser_and_does_not_link_them_for_staff(
    learner, staff, superuser, deck, model
):
    card = deck.cards.first()
    write_review(learner, card)
    write_memory(learner, card)
    url = reverse(f"admin:flashcards_{model}_changelist")

    response = logged_in(superuser).get(url)
    assert response.context["cl"].result_count == 1
    assert "flashcards/review/" not in logged_in(staff).get(reverse("admin:index")).text


def test_deck_insight_pages_a_long_deck_and_keeps_the_sort(staff):
    long_deck = make_deck("Long", cards=105)
    url = reverse("flashcards:deck_insight", args=[long_deck.slug])

    first = logged_in(staff).get(url, {"sort": "position"})
    second = logged_in(staff).get(url, {"sort": "position", "page": 2})

    assert [card.position for card in first.context["page"]] == list(range(1, 101))
    assert [card.position for card in second.context["page"]] == list(range(101, 106))
    assert "?sort=position&amp;page=2" in first.text
    assert "?sort=position&amp;page=1" in second.text
