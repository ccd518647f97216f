import io
import re
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.tasks import TaskResultStatus
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from flashcards import fitting, pooled, scheduling
from flashcards.models import Card, Deck, Memory, Profile, Review, profile_for
from flashcards.personal import fit_learner, learner_answers
from flashcards.simulation import simulate
from flashcards.tasks import fit_pooled_parameters
from tests.conftest import make_deck, make_user, run_worker
from tests.test_personal import FORGETFUL
from tests.test_views import logged_in, post_answer, reveal_url

END = datetime(2026, 6, 1, 12, tzinfo=UTC)


def forgetful(recall):
    """Learners who forget faster than FSRS's default learner: they recall a card with the
    square of the probability FSRS predicts."""

    def drawn(*args, **kwargs):
        predicted = recall(*args, **kwargs)
        return None if predicted is None else predicted**2

    return drawn


@pytest.fixture(scope="module")
def adopted(django_db_setup, django_db_blocker):
    """A curated deck whose three learners forget faster than FSRS's defaults predict, each with
    enough history for a fit of their own, and its pooled parameters fitted once for the module
    (a fit takes seconds)."""
    with django_db_blocker.unblock():
        deck = make_deck(cards=300)
        cards = list(Card.objects.filter(deck=deck).order_by("position"))
        learners = [get_user_model().objects.create(username=f"forgetful{n}") for n in range(3)]
        try:
            with mock.patch.object(
                scheduling, "retrievability", forgetful(scheduling.retrievability)
            ):
                for seed, learner in enumerate(learners):
                    profile = profile_for(learner)
                    profile.timezone = "UTC"
                    profile.save()
                    simulate(learner, cards, profile, end=END, days=150, answers=1500, seed=seed)
            pooled.fit_deck(deck, END)
            yield deck, learners
        finally:
            # Committed, unlike a test's own rows: other modules must not find them.
            for learner in learners:
                learner.delete()
            deck.delete()


def answer_a_little(user, deck, *, seed=0):
    profile = profile_for(user)
    return simulate(user, list(deck.cards.all()), profile, end=END, days=5, answers=10, seed=seed)


def test_only_real_learners_answers_on_curated_decks_are_pooled(learner, other_learner):
    curated, other_curated = make_deck(cards=3), make_deck(cards=3)
    private = make_deck(cards=3, owner=learner)
    stand_in = get_user_model().objects.create_user("(import 7)", password=None, is_active=False)
    written = answer_a_little(learner, curated) + answer_a_little(other_learner, curated, seed=1)
    assert answer_a_little(stand_in, curated)
    answer_a_little(learner, other_curated)
    answer_a_little(learner, private)
    only_stand_in = make_deck(cards=3)
    answer_a_little(stand_in, only_stand_in)

    learners = pooled.recent_learners(curated)
    answers = pooled.deck_answers(curated, learners)

    assert sorted(learners) == sorted([learner.pk, other_learner.pk])
    assert len(answers) == written
    assert [a.reviewed_at for a in answers] == sorted(a.reviewed_at for a in answers)
    # Each learner's memory of a card is a card of its own.
    assert len({a.card_id for a in answers}) == 6
    mine = [curated, other_curated, private, only_stand_in]
    assert set(pooled.decks_to_fit().filter(pk__in=[d.pk for d in mine])) == {
        curated,
        other_curated,
    }


def test_the_most_recently_active_learners_are_pooled_whole_up_to_the_cap(learner):
    deck = make_deck(cards=20)
    earlier, larger = make_user(), make_user()
    profile, cards = profile_for(learner), list(deck.cards.all())
    few = simulate(earlier, cards, profile, end=END - timedelta(days=30), days=5, answers=4)
    many = simulate(larger, cards, profile, end=END - timedelta(days=10), days=5, answers=16)
    latest = simulate(learner, cards, profile, end=END, days=5, answers=8)
    assert few < many

    # The larger learner's answers would pass the cap: the earlier learner's still fit.
    cap = latest + many - 1
    assert pooled.recent_learners(deck, limit=cap) == [learner.pk, earlier.pk]
    everyone = latest + many + few
    assert pooled.recent_learners(deck, limit=everyone) == [learner.pk, larger.pk, earlier.pk]


def test_pooled_parameters_are_adopted_through_the_gate_with_the_figures_they_scored(adopted, db):
    deck, learners = adopted
    deck.refresh_from_db()
    figures = deck.pooled_evaluation

    assert figures["status"] == "adopted", figures["reason"]
    assert figures["learners"] == 3
    assert figures["answers"] == Review.objects.filter(card__deck=deck).count()
    assert figures["z"] < fitting.ADOPT_BELOW_Z
    assert figures["adopted_at"] == END.isoformat()
    assert deck.pooled_at == END
    # The parameters stored are the fit tested on the latest reviews, with the figures of
    # fitting on every held-out part against the defaults.
    answers = pooled.deck_answers(deck, [learner.pk for learner in learners])
    assert figures["cross_day"] == fitting.cross_day_count(answers)
    current, candidate, z, tested = fitting.fit_forward(
        fitting.default_parameters(), answers, fitting.fold_starts(answers)
    )
    assert deck.pooled_parameters == tested
    assert figures["current"]["log_loss"] == current["log_loss"]
    assert figures["candidate"]["log_loss"] == candidate["log_loss"]
    assert figures["z"] == z
    assert deck.pooled_parameters != fitting.default_parameters()


def button_labels(client, deck, card, at):
    with time_machine.travel(at, tick=False):
        text = client.get(reveal_url(deck, card)).text
    return re.findall(r'<span class="interval">([^<]+)</span>', text)


def test_a_learner_without_a_fit_of_their_own_is_scheduled_with_the_pooled_parameters(
    adopted, learner
):
    deck, _ = adopted
    card = deck.cards.order_by("position").first()
    client = logged_in(learner)
    post_answer(client, deck, card, scheduling.EASY)
    later = Memory.objects.get(user=learner).due + timedelta(hours=1)

    with_pooled = button_labels(client, deck, card, later)
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=[])
    with_defaults = button_labels(client, deck, card, later)
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=deck.pooled_parameters)
    assert with_pooled != with_defaults
    with time_machine.travel(later, tick=False):
        post_answer(client, deck, card, scheduling.GOOD, reps=1)
    applied = Memory.objects.get(user=learner).due - later
    assert scheduling.format_interval(applied) == with_pooled[scheduling.GOOD - 1]


def test_a_learners_own_fit_competes_against_the_pooled_parameters_of_their_cards(adopted, db):
    deck, learners = adopted
    learner = learners[0]
    answers = learner_answers(learner)
    split_at = fitting.fold_starts(answers)[0]
    with_pooled, with_defaults, _ = fitting.compare(
        deck.pooled_parameters, fitting.default_parameters(), answers, split_at
    )

    profile = fit_learner(learner, END)

    assert profile.fit_status in ("adopted", "kept"), profile.fit_message
    assert profile.fit_evaluation["current"]["log_loss"] == with_pooled["log_loss"]
    assert with_pooled["log_loss"] != with_defaults["log_loss"]
    if profile.fit_status == "adopted":
        assert profile.parameters_for(deck) == profile.parameters


def test_a_learner_with_a_fit_of_their_own_is_gated_against_it_alone(learner, deck):
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=FORGETFUL)
    answer_a_little(learner, deck)
    profile = profile_for(learner)

    assert set(pooled.card_parameters(learner)) == set(deck.cards.values_list("pk", flat=True))
    profile.parameters = fitting.default_parameters()
    profile.save()
    with mock.patch.object(fitting, "evaluate_candidate", wraps=fitting.evaluate_candidate) as gate:
        fit_learner(learner, END)
    assert gate.call_args.kwargs["card_parameters"] is None


def test_the_task_fits_a_deck_in_the_worker_and_keeps_the_pooled_parameters_it_cannot_beat(
    learner, deck
):
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=FORGETFUL)
    written = answer_a_little(learner, deck)

    fit_pooled_parameters.enqueue(deck.pk)
    run_worker()

    deck.refresh_from_db()
    result = DBTaskResult.objects.get()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "kept"
    assert deck.pooled_parameters == FORGETFUL
    figures = deck.pooled_evaluation
    assert (figures["learners"], figures["answers"]) == (1, written)
    assert re.match(r"Only \d+ reviews on a later day", figures["reason"])
    assert deck.pooled_at is not None


def test_a_failed_fit_says_why_and_keeps_the_pooled_parameters(learner, deck):
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=FORGETFUL)
    answer_a_little(learner, deck)

    with mock.patch.object(fitting, "evaluate_candidate", side_effect=ValueError("no memory")):
        pooled.fit_deck(deck, END)

    deck.refresh_from_db()
    assert deck.pooled_parameters == FORGETFUL
    assert deck.pooled_evaluation["status"] == "failed"
    assert deck.pooled_evaluation["reason"] == "The fit failed: no memory"


def test_the_nightly_pooled_fit_queues_each_curated_deck_with_answers_once(adopted, learner):
    answered, waiting = make_deck(), make_deck()
    make_deck()  # never answered
    private = make_deck(owner=learner)
    for deck in (answered, waiting, private):
        answer_a_little(learner, deck)
    fit_pooled_parameters.enqueue(waiting.pk)
    out = io.StringIO()

    call_command("fit_parameters", pooled=True, stdout=out)

    assert out.getvalue() == (
        "Queued 2 fits of a curated deck's pooled parameters for the workers (1 already waiting).\n"
    )
    queued = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=fit_pooled_parameters.module_path
    )
    # The shared deck, learners' answers on it, is one of them.
    assert sorted(task.args_kwargs["args"][0] for task in queued) == sorted(
        [adopted[0].pk, answered.pk, waiting.pk]
    )


def test_one_curated_deck_is_fitted_now_by_its_slug(learner, deck):
    answer_a_little(learner, deck)
    out = io.StringIO()

    call_command("fit_parameters", deck=deck.slug, stdout=out)

    assert out.getvalue().startswith(f"{deck.slug}: kept. Only ")
    assert Deck.objects.get(pk=deck.pk).pooled_evaluation["status"] == "kept"


def test_the_settings_page_names_the_decks_scheduled_with_pooled_parameters(
    learner, other_learner, deck
):
    Deck.objects.filter(pk=deck.pk).update(pooled_parameters=FORGETFUL)
    unpooled = make_deck("Rivers")
    for studied in (deck, unpooled):
        post_answer(logged_in(learner), studied, studied.cards.first(), scheduling.GOOD)

    page = logged_in(learner).get(reverse("flashcards:settings")).text
    assert "Except on Capitals: there FSRS-6 uses parameters fitted to all learners" in page
    # Nor for a learner who has not studied the deck, nor once a learner has their own fit.
    assert "Except on" not in logged_in(other_learner).get(reverse("flashcards:settings")).text
    Profile.objects.filter(user=learner).update(parameters=fitting.default_parameters())
    assert "Except on" not in logged_in(learner).get(reverse("flashcards:settings")).text


def test_the_admin_shows_a_decks_pooled_fit(adopted, db):
    fitted, _ = adopted
    # A deck of few cards, whose change page is quick to render, with the shared deck's fit.
    deck = make_deck(cards=1)
    Deck.objects.filter(pk=deck.pk).update(
        pooled_parameters=fitted.pooled_parameters,
        pooled_evaluation=fitted.pooled_evaluation,
        pooled_at=fitted.pooled_at,
    )
    staff = make_user(is_staff=True, is_superuser=True)

    page = logged_in(staff).get(reverse("admin:flashcards_deck_change", args=[deck.pk])).text

    figures = fitted.pooled_evaluation
    assert "<strong>Adopted</strong>" in page
    assert f"3 learners, {figures['answers']} answers" in page
    assert f"{figures['candidate']['log_loss']:.4f} fitted (z = {figures['z']:.2f})" in page
    first = f"{fitted.pooled_parameters[0]:.4f}"
    assert f"scheduled with these since {END:%Y-%m-%d}: <code>{first}, " in page
    new_deck_page = logged_in(staff).get(reverse("admin:flashcards_deck_add")).text
    assert "Never fitted." in new_deck_page
