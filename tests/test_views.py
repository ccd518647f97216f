import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from flashcards import scheduling
from flashcards.models import Card, Memory, Review, profile_for
from tests.conftest import make_deck, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def study_url(deck):
    return reverse("flashcards:study", args=[deck.slug])


def answer_url(deck):
    return reverse("flashcards:answer", args=[deck.slug])


def undo_url(deck):
    return reverse("flashcards:undo", args=[deck.slug])


def reveal_url(deck, card):
    return reverse("flashcards:reveal", args=[deck.slug, card.pk])


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def post_answer(client, deck, card, rating, reps=0, htmx=True):
    data = {"card": card.pk, "rating": rating, "reps": reps, "shown_at": 0}
    return client.post(answer_url(deck), data, **(HTMX if htmx else {}))


@pytest.fixture
def private_deck(learner):
    return make_deck("Mine", cards=3, owner=learner)


# Access: anonymous, owner, another learner.


def test_anonymous_visitors_see_published_decks_and_how_to_sign_up(client, deck):
    response = client.get("/")
    assert response.status_code == 200
    assert "Capitals" in response.text
    assert reverse("flashcards:signup") in response.text
    assert "Learning</dt>" not in response.text


def test_the_deck_list_shows_each_learners_counts(learner, deck):
    client = logged_in(learner)
    card = deck.cards.get(position=1)
    # At noon: the learning step is due before the study day rolls over (4 AM).
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        post_answer(client, deck, card, scheduling.GOOD)
        text = logged_in(learner).get("/").text
    counts = re.findall(r"<dt>(New|Learning|Due)</dt><dd>(\d+)</dd>", text)
    assert counts == [("New", "2"), ("Learning", "1"), ("Due", "0")]


def test_a_private_deck_is_listed_only_for_its_owner(learner, other_learner, private_deck):
    assert "Mine" in logged_in(learner).get("/").text
    assert "Mine" not in logged_in(other_learner).get("/").text
    assert "Mine" not in Client().get("/").text


@pytest.mark.parametrize("view", ["study", "reveal", "answer", "undo"])
def test_study_views_tell_a_logged_out_htmx_request_so_in_a_fragment(client, deck, view):
    card = deck.cards.first()
    url = {
        "study": study_url(deck),
        "reveal": reveal_url(deck, card),
        "answer": answer_url(deck),
        "undo": undo_url(deck),
    }[view]
    method = client.get if view in ("study", "reveal") else client.post
    htmx_response = method(url, **HTMX)
    assert htmx_response.status_code == 401
    assert "You are logged out" in htmx_response.text
    assert "<html" not in htmx_response.text
    assert not Review.objects.exists()


def test_another_learners_answer_and_undo_in_a_private_deck_change_nothing(
    learner, other_learner, private_deck
):
    first, second = private_deck.cards.get(position=1), private_deck.cards.get(position=2)
    post_answer(logged_in(learner), private_deck, first, scheduling.GOOD)
    owners = Review.objects.get()
    stranger = logged_in(other_learner)
    post_answer(stranger, private_deck, second, scheduling.GOOD)
    stranger.post(undo_url(private_deck), {"review": owners.pk})
    assert list(Review.objects.all()) == [owners]
    assert list(Memory.objects.values_list("user", "card")) == [(learner.pk, first.pk)]


def test_a_card_of_another_deck_cannot_be_revealed_or_answered(learner, deck):
    elsewhere = make_deck("Elsewhere", owner=make_user()).cards.first()
    client = logged_in(learner)
    response = client.get(reveal_url(deck, elsewhere), **HTMX)
    assert response.status_code == 409
    assert "Front 1" in response.text
    response = post_answer(client, deck, elsewhere, scheduling.GOOD)
    assert response.status_code == 400
    assert "not in this deck" in response.text
    assert not Review.objects.exists()


@pytest.mark.parametrize("url", ["progress", "settings"])
def test_account_pages_show_only_the_learners_own_data(url, learner, other_learner, deck):
    path = reverse(f"flashcards:{url}")
    post_answer(logged_in(learner), deck, deck.cards.get(position=1), scheduling.GOOD)
    mine = logged_in(learner).get(path)
    theirs = logged_in(other_learner).get(path)
    assert mine.status_code == theirs.status_code == 200
    if url == "progress":
        assert "Front 1" in mine.text
        assert "Front 1" not in theirs.text


# The study loop.


def test_the_study_page_shows_the_first_front_and_the_shortcuts(learner, deck):
    response = logged_in(learner).get(study_url(deck))
    assert response.status_code == 200
    assert "<p>Front 1</p>" in response.text
    # The answer comes along, hidden until revealed.
    assert re.search(r'<div class="answer-side" hidden>.*Back 1', response.text, re.S)
    assert 'aria-live="polite"' in response.text
    assert "<kbd>Space</kbd>" in response.text
    assert "HX-Request" in response["Vary"]


def test_an_htmx_request_gets_only_the_study_fragment(learner, deck):
    response = logged_in(learner).get(study_url(deck), **HTMX)
    assert response.status_code == 200
    assert "<p>Front 1</p>" in response.text
    assert "<html" not in response.text
    assert 'id="study"' not in response.text


def test_revealing_shows_the_back_and_four_buttons_with_their_intervals(learner, deck):
    card = deck.cards.get(position=1)
    for htmx in (True, False):
        response = logged_in(learner).get(reveal_url(deck, card), **(HTMX if htmx else {}))
        assert response.status_code == 200
        assert "Back 1" in response.text
        assert ("<html" in response.text) is not htmx
        labels = re.findall(r'<span class="interval">([^<]+)</span>', response.text)
        assert labels[:3] == ["1m", "6m", "10m"]
        assert labels[3].endswith("d")


def test_the_interval_on_each_button_is_the_one_applied(learner, deck):
    card = deck.cards.get(position=1)
    client = logged_in(learner)
    # Take the card to review, where fuzz applies, then compare preview and result.
    post_answer(client, deck, card, scheduling.EASY)
    memory = Memory.objects.get(user=learner, card=card)
    later = memory.due + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        text = client.get(reveal_url(deck, card)).text
        shown = re.findall(r'<span class="interval">([^<]+)</span>', text)
        post_answer(client, deck, card, scheduling.GOOD, reps=1)
    memory.refresh_from_db()
    assert scheduling.format_interval(memory.due - later) == shown[scheduling.GOOD - 1]


def test_answering_by_htmx_swaps_in_the_next_card_and_the_counts(learner, deck):
    # At noon: the learning step is due before the study day rolls over (4 AM).
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False):
        card = deck.cards.get(position=1)
        response = post_answer(logged_in(learner), deck, card, scheduling.GOOD)
    assert response.status_code == 200
    assert "<p>Front 2</p>" in response.text
    assert re.findall(r"<dt>(\w+)</dt><dd>(\d+)</dd>", response.text) == [
        ("New", "2"),
        ("Learning", "1"),
        ("Due", "0"),
    ]
    assert "Undo" in response.text
    assert Review.objects.filter(user=learner).count() == 1


def test_answering_without_javascript_redirects_back_to_the_study_page(learner, deck):
    response = post_answer(
        logged_in(learner), deck, deck.cards.get(position=1), scheduling.GOOD, htmx=False
    )
    assert response.status_code == 302
    assert response["Location"] == study_url(deck)
    assert Review.objects.filter(user=learner).count() == 1


def test_the_answer_duration_is_measured_from_when_the_card_was_shown(learner, deck):
    card = deck.cards.get(position=1)
    client = logged_in(learner)
    with time_machine.travel(timezone.now(), tick=False):
        shown_at = int((timezone.now() - timedelta(seconds=7)).timestamp() * 1000)
        data = {"card": card.pk, "rating": 3, "reps": 0, "shown_at": shown_at}
        client.post(answer_url(deck), data, **HTMX)
    assert Review.objects.get().duration_ms == 7000


def test_a_long_pause_counts_as_one_minute(learner, deck):
    card = deck.cards.get(position=1)
    data = {"card": card.pk, "rating": 3, "reps": 0, "shown_at": 1}
    logged_in(learner).post(answer_url(deck), data, **HTMX)
    assert Review.objects.get().duration_ms == 60_000


@pytest.mark.parametrize("rating", ["0", "5", "good", ""])
def test_a_rating_outside_1_to_4_gets_a_message_and_records_nothing(learner, deck, rating):
    card = deck.cards.get(position=1)
    data = {"card": card.pk, "rating": rating, "reps": 0}
    client = logged_in(learner)
    htmx_response = client.post(answer_url(deck), data, **HTMX)
    plain_response = client.post(answer_url(deck), data)
    for response in (htmx_response, plain_response):
        assert response.status_code == 400
        assert "Choose Again, Hard, Good or Easy" in response.text
        assert "<p>Front 1</p>" in response.text
    assert "<html" in plain_response.text and "<html" not in htmx_response.text
    assert not Review.objects.exists()


def test_a_double_submitted_answer_records_one_review(learner, deck):
    client = logged_in(learner)
    card = deck.cards.get(position=1)
    first = post_answer(client, deck, card, scheduling.GOOD)
    second = post_answer(client, deck, card, scheduling.GOOD)
    assert first.status_code == second.status_code == 200
    assert "<p>Front 2</p>" in second.text
    assert Review.objects.filter(user=learner, card=card).count() == 1


def test_an_answer_from_a_stale_tab_is_refused_with_the_next_card(learner, deck):
    client = logged_in(learner)
    card = deck.cards.get(position=1)
    post_answer(client, deck, card, scheduling.GOOD)
    response = post_answer(client, deck, card, scheduling.EASY)
    assert response.status_code == 409
    assert "already answered" in response.text
    assert "<p>Front 2</p>" in response.text
    assert Review.objects.filter(user=learner).count() == 1


def test_an_answer_to_a_card_that_is_not_due_is_refused(learner, deck):
    client = logged_in(learner)
    card = deck.cards.get(position=1)
    post_answer(client, deck, card, scheduling.EASY)
    response = post_answer(client, deck, card, scheduling.GOOD, reps=1)
    assert response.status_code == 409
    assert "not due" in response.text
    assert Review.objects.filter(user=learner).count() == 1


def test_undo_brings_back_the_card_and_its_count(learner, deck):
    client = logged_in(learner)
    card = deck.cards.get(position=2)
    post_answer(client, deck, deck.cards.get(position=1), scheduling.EASY)
    post_answer(client, deck, card, scheduling.EASY)
    review = Review.objects.get(card=card)
    response = client.post(undo_url(deck), {"review": review.pk}, **HTMX)
    assert response.status_code == 200
    assert "<p>Front 2</p>" in response.text
    assert "Undone" in response.text
    assert re.findall(r"<dt>New</dt><dd>(\d+)</dd>", response.text) == ["2"]
    assert not Review.objects.filter(pk=review.pk).exists()


def test_undo_works_after_the_last_card_and_without_javascript(learner):
    deck = make_deck(cards=1)
    client = logged_in(learner)
    card = deck.cards.get()
    post_answer(client, deck, card, scheduling.EASY)
    finished = client.get(study_url(deck))
    assert "You have finished this deck for now." in finished.text
    assert "The next card is due in" in finished.text
    review = Review.objects.get()
    assert f'name="review" value="{review.pk}"' in finished.text
    response = client.post(undo_url(deck), {"review": review.pk})
    assert response.status_code == 302
    assert response["Location"] == f"{study_url(deck)}?card={card.pk}"
    assert "<p>Front 1</p>" in client.get(response["Location"]).text
    assert not Review.objects.exists()


def test_undoing_twice_is_refused_the_second_time(learner, deck):
    client = logged_in(learner)
    post_answer(client, deck, deck.cards.get(position=1), scheduling.GOOD)
    review = Review.objects.get()
    client.post(undo_url(deck), {"review": review.pk}, **HTMX)
    response = client.post(undo_url(deck), {"review": review.pk}, **HTMX)
    assert response.status_code == 409
    assert "nothing to undo" in response.text


def test_study_reads_no_get_side_effects(learner, deck):
    client = logged_in(learner)
    client.get(study_url(deck))
    client.get(reveal_url(deck, deck.cards.first()))
    assert not Review.objects.exists() and not Memory.objects.exists()


def test_the_answer_step_needs_as_many_queries_for_2000_cards_as_for_15(learner):
    def queries_for_one_answer(deck):
        client = logged_in(learner)
        card = deck.cards.order_by("position").first()
        with CaptureQueriesContext(connection) as queries:
            response = post_answer(client, deck, card, scheduling.GOOD)
        assert response.status_code == 200
        return len(queries)

    profile_for(learner)
    small, large = make_deck(cards=15), make_deck(cards=2000)
    assert queries_for_one_answer(small) == queries_for_one_answer(large)


def test_the_answer_step_runs_seven_statements_for_a_new_card_and_for_a_review(
    learner, deck, django_assert_num_queries
):
    client = logged_in(learner)
    first, second = deck.cards.get(position=1), deck.cards.get(position=2)
    post_answer(client, deck, first, scheduling.GOOD)
    # The learner; a savepoint; the card with its deck, memory and queue counts; the memory
    # written; the answer written; the savepoint released; the next card. The new-card cursor
    # stays at the first card until it lags queue.CURSOR_SLACK cards behind.
    with django_assert_num_queries(7):
        post_answer(client, deck, second, scheduling.GOOD)
    Memory.objects.filter(user=learner, card=first).update(due=timezone.now())
    client.get(reverse("flashcards:study", args=[deck.slug]))
    with django_assert_num_queries(7):
        post_answer(client, deck, first, scheduling.GOOD, reps=1)


# Accounts and settings.


def test_signing_up_logs_the_new_learner_in(client, db):
    data = {"username": "ada", "password1": "analytical engine 1843", "password2": ""}
    data["password2"] = data["password1"]
    response = client.post(reverse("flashcards:signup"), data, follow=True)
    assert response.context["user"].username == "ada"
    assert "Welcome, ada" in response.text


def test_sign_up_re_renders_with_errors(client, db):
    make_user("ada")
    data = {"username": "ada", "password1": "short", "password2": "other"}
    response = client.post(reverse("flashcards:signup"), data)
    assert response.status_code == 200
    assert "already exists" in response.text
    assert "didn’t match" in response.text


def test_settings_change_the_time_zone_and_limits(learner):
    client = logged_in(learner)
    data = {
        "timezone": "Europe/Paris",
        "new_cards_per_day": 5,
        "reviews_per_day": 50,
        "desired_retention": 0.85,
    }
    response = client.post(reverse("flashcards:settings"), data, follow=True)
    assert "Settings saved." in response.text
    profile = profile_for(learner)
    assert (profile.timezone, profile.new_cards_per_day, profile.reviews_per_day) == (
        "Europe/Paris",
        5,
        50,
    )
    assert profile.desired_retention == 0.85


def test_settings_re_render_with_errors_and_keep_nothing(learner):
    client = logged_in(learner)
    data = {"timezone": "Mars/Olympus", "new_cards_per_day": -1, "reviews_per_day": 50}
    response = client.post(reverse("flashcards:settings"), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert "greater than or equal to 0" in response.text
    assert profile_for(learner).new_cards_per_day == 20


def test_the_new_card_limit_from_settings_applies_to_the_study_page(learner, deck):
    profile = profile_for(learner)
    profile.new_cards_per_day = 1
    profile.save()
    client = logged_in(learner)
    post_answer(client, deck, deck.cards.get(position=1), scheduling.EASY)
    assert "You have finished this deck for now." in client.get(study_url(deck)).text


def test_logging_out_ends_the_session(learner):
    client = logged_in(learner)
    client.post(reverse("logout"))
    response = client.get(reverse("flashcards:progress"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_password_change(learner):
    client = logged_in(learner)
    data = {
        "old_password": "correct horse 42",
        "new_password1": "battery staple 77",
        "new_password2": "battery staple 77",
    }
    response = client.post(reverse("password_change"), data)
    assert response.status_code == 302
    learner.refresh_from_db()
    assert learner.check_password("battery staple 77")


# Admin.


def test_staff_edit_a_deck_with_its_cards_inline_in_the_admin(deck):
    staff = make_user(is_staff=True, is_superuser=True)
    client = logged_in(staff)
    response = client.get(reverse("admin:flashcards_deck_change", args=[deck.pk]))
    assert response.status_code == 200
    assert "Front 1" in response.text
    search = client.get(reverse("admin:flashcards_card_changelist"), {"q": "Front 2"})
    assert list(search.context["cl"].result_list) == [deck.cards.get(position=2)]


def test_history_is_read_only_in_the_admin(learner, deck):
    post_answer(logged_in(learner), deck, deck.cards.first(), scheduling.GOOD)
    review = Review.objects.get()
    client = logged_in(make_user(is_staff=True, is_superuser=True))
    client.post(reverse("admin:flashcards_review_change", args=[review.pk]), {"rating": 1})
    review.refresh_from_db()
    assert review.rating == scheduling.GOOD


def test_card_text_is_rendered_as_sanitised_markdown(learner):
    deck = make_deck(cards=0)
    Card.objects.create(
        deck=deck, front="**Bold** <script>alert(1)</script>", back="- a\n- b", position=1
    )
    text = logged_in(learner).get(study_url(deck)).text
    assert "<strong>Bold</strong>" in text
    assert "alert(1)" not in text
