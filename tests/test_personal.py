import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.urls import reverse

from flashcards import scheduling
from flashcards.models import Card, Memory, Profile, Review, profile_for
from flashcards.personal import fit_learner, learner_answers
from flashcards.simulation import simulate
from tests.conftest import make_deck, make_user, run_worker
from tests.test_views import logged_in, post_answer, reveal_url

END = datetime(2026, 6, 1, 12, tzinfo=UTC)
# A learner who forgets much faster than FSRS's default learner: fitting should notice.
FORGETFUL = [
    0.1, 0.3, 0.8, 3.0, 7.5, 0.6, 2.0, 0.1, 1.2, 0.1, 2.5, 1.5, 0.08, 0.4, 1.8, 0.4, 1.5,
    0.6, 0.3, 0.1, 0.3,
]  # fmt: skip


@pytest.fixture
def experienced_learner(db):
    learner = make_user()
    profile = profile_for(learner)
    decks = [make_deck(cards=250), make_deck(cards=250)]
    cards = Card.objects.filter(deck__in=decks).order_by("deck", "position")
    simulate(learner, cards, profile, end=END, days=300, answers=6000, seed=5)
    return learner


def test_the_gate_refuses_to_fit_a_tiny_history_and_says_why(learner, deck):
    client = logged_in(learner)
    for card in deck.cards.all():
        post_answer(client, deck, card, scheduling.GOOD)

    call_command("fit_parameters", user=learner.username, stdout=io.StringIO())

    profile = Profile.objects.get(user=learner)
    assert profile.fit_status == "kept"
    assert profile.parameters == []
    assert re.match(r"Only 0 reviews on a later day .* at least 1000\.", profile.fit_message)
    page = client.get(reverse("flashcards:settings"))
    assert "Kept the previous parameters" in page.text
    assert "fitting needs at least 1000" in page.text


def test_a_fit_is_queued_from_the_settings_page_and_done_by_the_worker(
    experienced_learner, django_capture_on_commit_callbacks
):
    client = logged_in(experienced_learner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("flashcards:request_fit"), follow=True)
    assert "Queued" in response.text
    assert Profile.objects.get(user=experienced_learner).fit_status == "queued"

    run_worker()

    profile = Profile.objects.get(user=experienced_learner)
    # Simulated with FSRS's default curve: a fit to it does not beat the defaults by enough.
    assert profile.fit_status == "kept"
    assert profile.parameters == []
    assert profile.fit_evaluation["cross_day"] >= 1000
    assert profile.fit_evaluation["candidate"]["log_loss"] > 0
    page = client.get(reverse("flashcards:settings"))
    assert profile.get_fit_status_display() in page.text


def test_adopted_parameters_are_kept_with_the_previous_ones_and_reschedule_cards(
    experienced_learner,
):
    profile = profile_for(experienced_learner)
    profile.parameters = FORGETFUL
    profile.save()
    fitted = fit_learner(experienced_learner, END)
    # The history was simulated with the default curve: a fit beats the forgetful one.
    assert fitted.fit_status == "adopted", fitted.fit_message
    assert fitted.previous_parameters == FORGETFUL
    # Every memory is its history replayed with the adopted parameters.
    memory = Memory.objects.filter(user=experienced_learner).order_by("?").first()
    state, last_day = scheduling.Memory(), None
    for review in Review.objects.filter(user=experienced_learner, card=memory.card).order_by(
        "reviewed_at"
    ):
        # ...and so is the memory each answer holds.
        assert review.memory_before() == state
        state = scheduling.review(
            state,
            review.rating,
            review.reviewed_at,
            elapsed_days=last_day and (review.study_day - last_day).days,
            seed=scheduling.fuzz_seed(memory.card_id, state.reps),
            **fitted.scheduler_options(memory.card.deck),
        )
        last_day = review.study_day
        assert (review.stability_after, review.due_after) == (state.stability, state.due)
    assert memory.as_scheduling() == state
    page = logged_in(experienced_learner).get(reverse("flashcards:settings"))
    z = fitted.fit_evaluation["candidate"]["z"]
    assert z < -2
    assert "reviews on a later day are split by time into 5 parts" in page.text
    assert "lower than that of the parameters in use by more than 2 standard errors" in page.text
    assert f"This time: z = {z:.2f}." in page.text


def test_fitted_parameters_change_the_intervals_on_the_buttons(learner):
    deck = make_deck(cards=1)
    card = deck.cards.get()
    client = logged_in(learner)
    post_answer(client, deck, card, scheduling.EASY)
    due = Memory.objects.get(user=learner).due

    def button_labels():
        with time_machine.travel(due + timedelta(hours=1), tick=False):
            text = client.get(reveal_url(deck, card)).text
        return re.findall(r'<span class="interval">([^<]+)</span>', text)

    default = button_labels()
    profile = profile_for(learner)
    profile.parameters = FORGETFUL
    profile.save()
    forgetful = button_labels()
    assert default != forgetful
    # And the interval shown is the one applied.
    with time_machine.travel(due + timedelta(hours=1), tick=False):
        post_answer(client, deck, card, scheduling.GOOD, reps=1)
    memory = Memory.objects.get(user=learner)
    applied = scheduling.format_interval(memory.due - (due + timedelta(hours=1)))
    assert applied == forgetful[scheduling.GOOD - 1]


def test_desired_retention_changes_the_intervals(learner):
    deck = make_deck(cards=1)
    card = deck.cards.get()
    client = logged_in(learner)
    post_answer(client, deck, card, scheduling.EASY)
    due = Memory.objects.get(user=learner).due
    labels = {}
    for retention in (0.80, 0.95):
        profile = profile_for(learner)
        profile.desired_retention = retention
        profile.save()
        with time_machine.travel(due + timedelta(hours=1), tick=False):
            text = client.get(reveal_url(deck, card)).text
        labels[retention] = re.findall(r'<span class="interval">([^<]+)</span>', text)
    good_at_80, good_at_95 = days(labels[0.80][2]), days(labels[0.95][2])
    assert good_at_80 > good_at_95


def days(label):
    number, unit = re.fullmatch(r"([\d.]+)(s|m|h|d|mo|y)", label).groups()
    per_day = {"s": 1 / 86400, "m": 1 / 1440, "h": 1 / 24, "d": 1, "mo": 30, "y": 365}
    return float(number) * per_day[unit]


def test_the_settings_page_shows_the_workload_of_each_retention(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=100)
    client = logged_in(learner)
    # The first visit queues FSRS's simulation; the worker computes it.
    with django_capture_on_commit_callbacks(execute=True):
        client.get(reverse("flashcards:settings"))
    run_worker()
    text = client.get(reverse("flashcards:settings")).text
    # Each row's reviews a day against 0.90: its second figure.
    rows = dict(
        re.findall(
            r"<th scope=\"row\">(0\.\d\d)(?:[^<]|<span[^>]*>[^<]*</span>)*</th>"
            r"<td>[^<]*</td><td>([\d.]+)×",
            text,
        )
    )
    assert rows["0.90"] == "1.00"
    assert float(rows["0.80"]) < 1 < float(rows["0.95"])


def test_desired_retention_outside_0_70_to_0_97_is_refused(learner):
    data = {
        "timezone": "UTC",
        "new_cards_per_day": 20,
        "reviews_per_day": 200,
        "desired_retention": 0.99,
    }
    response = logged_in(learner).post(reverse("flashcards:settings"), data)
    assert response.status_code == 200
    assert "less than or equal to 0.97" in response.text
    assert profile_for(learner).desired_retention == 0.9


def test_the_answers_given_to_fitting_are_the_learners_own_in_time_order(
    experienced_learner, other_learner
):
    answers = learner_answers(experienced_learner)
    assert len(answers) == Review.objects.filter(user=experienced_learner).count()
    assert [a.reviewed_at for a in answers] == sorted(a.reviewed_at for a in answers)
    assert not learner_answers(other_learner)
