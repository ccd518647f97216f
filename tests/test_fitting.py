"""Fitting FSRS to a learner is pure: these tests build histories by hand or simulate them."""

import math
import random
import re
from datetime import UTC, date, datetime, time, timedelta

import fsrs_rs_python
import pytest

from flashcards import fitting
from flashcards.fitting import Answer, Prediction
from flashcards.scheduling import (
    AGAIN,
    EASY,
    GOOD,
    HARD,
    NEW,
    REVIEW,
    Memory,
    forgetting_curve,
    retrievability,
    review,
)

DAY = date(2026, 3, 2)
# A learner who forgets faster than FSRS's default learner, and more steeply.
GENERATING = fitting.default_parameters()
GENERATING[0:4] = [0.1, 0.5, 1.0, 3.0]
GENERATING[8] = 0.8
GENERATING[20] = 0.5


def make_answer(card_id, days, rating, *, at=time(9), day=None):
    """An answer `days` after DAY at `at` UTC; its study day is that date unless given."""
    reviewed_at = datetime.combine(DAY + timedelta(days=days), at, tzinfo=UTC)
    return Answer(card_id, reviewed_at, day or reviewed_at.date(), rating)


def make_prediction(probability, recalled, *, elapsed_days=1, number=2, lapses=0):
    answer = make_answer(1, elapsed_days, GOOD if recalled else AGAIN)
    return Prediction(answer, probability, elapsed_days, number, lapses)


def reviews_of(item):
    """An fsrs-rs item's (rating, delta_t) pairs: the binding exposes them only in its repr."""
    return [(int(r), int(t)) for r, t in re.findall(r"rating: (\d+), delta_t: (\d+)", repr(item))]


def simulate_answers(parameters, *, cards, new_per_day, days, seed):
    """A learner whose memory follows FSRS with `parameters`, scheduled by the app's defaults.

    They study at noon and answer a due card on a given day with probability 0.7; recall
    follows their own forgetting curve; learning and relearning steps are passed the same day.
    """
    rng = random.Random(seed)
    factor, decay = forgetting_curve(parameters)
    # Per card: the memory the app schedules with, and the learner's true one.
    memories = {}
    answers = []
    for n in range(days):
        day = DAY + timedelta(days=n)
        noon = datetime.combine(day, time(12), tzinfo=UTC)
        new = range(len(memories) + 1, min(len(memories) + new_per_day, cards) + 1)
        memories.update((card_id, (Memory(), Memory())) for card_id in new)
        for card_id, (scheduled, true) in list(memories.items()):
            if scheduled.state != NEW and (scheduled.due > noon or rng.random() > 0.7):
                continue
            if true.state == NEW:
                rating = rng.choice([AGAIN, GOOD, GOOD, EASY])
            else:
                elapsed = (day - true.last_review.date()).days
                recall = (1 + factor * elapsed / true.stability) ** decay
                rating = rng.choice([HARD, GOOD, GOOD, EASY]) if rng.random() < recall else AGAIN
            while True:
                # Distinct times keep a card's answers in order.
                answers.append(Answer(card_id, noon + timedelta(seconds=len(answers)), day, rating))
                scheduled = review(
                    scheduled, rating, noon, elapsed_days=days_since(scheduled, day), seed=None
                )
                true = review(
                    true,
                    rating,
                    noon,
                    elapsed_days=days_since(true, day),
                    seed=None,
                    parameters=parameters,
                )
                if scheduled.state == REVIEW:
                    break
                rating = GOOD
            memories[card_id] = (scheduled, true)
    return answers


def days_since(memory, day):
    """Study days since the memory's last answer, given at noon UTC of its study day."""
    return None if memory.last_review is None else (day - memory.last_review.date()).days


@pytest.fixture(scope="module")
def long_history():
    return simulate_answers(GENERATING, cards=400, new_per_day=10, days=100, seed=1)


def test_each_cross_day_review_makes_an_item_holding_the_cards_history_up_to_it():
    answers = [
        make_answer(1, 0, AGAIN, at=time(8)),
        make_answer(1, 0, GOOD, at=time(8, 10)),
        make_answer(1, 1, GOOD),
        make_answer(1, 4, AGAIN),
        make_answer(1, 4, GOOD, at=time(9, 10)),
        make_answer(1, 9, GOOD),
    ]

    items = fitting.training_items(answers)

    assert [reviews_of(item) for item in items] == [
        [(1, 0), (3, 0), (3, 1)],
        [(1, 0), (3, 0), (3, 1), (1, 3)],
        [(1, 0), (3, 0), (3, 1), (1, 3), (3, 0), (3, 5)],
    ]
    assert fitting.cross_day_count(answers) == 3


def test_items_count_study_days_not_hours():
    answers = [
        make_answer(1, 0, GOOD, at=time(23, 30)),
        # 02:00 the next morning still belongs to the study day before, which ends at 4 AM.
        make_answer(1, 1, GOOD, at=time(2), day=DAY),
        # Ten hours later is a new study day.
        make_answer(1, 1, GOOD, at=time(12)),
    ]

    items = fitting.training_items(answers)

    assert [reviews_of(item) for item in items] == [[(3, 0), (3, 0), (3, 1)]]


def test_items_follow_each_cards_answers_in_time_order_whatever_order_they_come_in():
    answers = [
        make_answer(2, 3, AGAIN),
        make_answer(1, 2, GOOD),
        make_answer(2, 0, GOOD),
        make_answer(1, 0, EASY),
    ]

    items = fitting.training_items(list(reversed(answers))) + fitting.training_items(answers)

    assert sorted(str(reviews_of(item)) for item in items) == sorted(
        2 * [str([(4, 0), (3, 2)]), str([(3, 0), (1, 3)])]
    )


def test_fitting_without_a_cross_day_review_keeps_the_default_parameters():
    answers = [make_answer(1, 0, AGAIN), make_answer(1, 0, GOOD, at=time(9, 10))]

    assert fitting.fit(answers) == fitting.default_parameters()


def test_a_prediction_with_default_parameters_is_the_retrievability_the_scheduler_reports():
    first = make_answer(1, 0, GOOD, at=time(12))
    answers = [first, make_answer(1, 5, GOOD, at=time(18))]

    [prediction] = fitting.predictions(fitting.default_parameters(), answers)

    memory = review(Memory(), GOOD, first.reviewed_at, elapsed_days=None, seed=None)
    expected = retrievability(memory, 5)
    assert prediction.probability == pytest.approx(expected, rel=1e-12)
    assert (prediction.elapsed_days, prediction.number, prediction.lapses) == (5, 2, 0)


def test_the_scheduler_predicts_with_fitted_parameters_what_fsrs_rs_was_fitted_to_predict():
    # Same-day steps, a lapse and a relearning step: every branch of the memory model.
    ratings = [(0, AGAIN), (0, GOOD), (1, GOOD), (4, AGAIN), (4, GOOD), (9, HARD), (30, EASY)]
    answers = [
        make_answer(1, days, rating, at=time(9, n)) for n, (days, rating) in enumerate(ratings)
    ]
    model = fsrs_rs_python.FSRS(GENERATING)
    factor = 0.9 ** (-1 / GENERATING[20]) - 1

    found = fitting.predictions(GENERATING, answers)

    items = fitting.training_items(answers)
    assert len(found) == len(items) == 4
    for prediction, item in zip(found, items, strict=True):
        *history, (_, days) = reviews_of(item)
        state = model.memory_state(
            fsrs_rs_python.FSRSItem([fsrs_rs_python.FSRSReview(r, t) for r, t in history])
        )
        expected = (1 + factor * days / state.stability) ** -GENERATING[20]
        assert prediction.probability == pytest.approx(expected, abs=1e-5)
    assert [p.lapses for p in found] == [0, 0, 1, 1]


def test_the_gate_refuses_a_short_history_and_says_why():
    answers = [make_answer(card_id, days, GOOD) for card_id in range(25) for days in (0, 3)]

    evaluation = fitting.evaluate_candidate(answers, GENERATING)

    assert not evaluation.adopt
    assert evaluation.reason == (
        "Only 25 reviews on a later day than the card's previous answer; "
        "fitting needs at least 1000."
    )
    assert evaluation.cross_day == 25
    assert evaluation.current is None and evaluation.candidate is None
    assert evaluation.parameters == GENERATING


def test_the_gate_adopts_parameters_fitted_to_a_learner_unlike_the_default(long_history):
    evaluation = fitting.evaluate_candidate(long_history, None)

    assert evaluation.adopt, evaluation.reason
    assert evaluation.reason.startswith(
        "The fitted parameters predict significantly better: log loss"
    )
    assert evaluation.cross_day >= fitting.MIN_CROSS_DAY_REVIEWS
    assert evaluation.candidate["log_loss"] < evaluation.current["log_loss"]
    assert evaluation.candidate["z"] < fitting.ADOPT_BELOW_Z
    # The adopted parameters are exactly the ones scored on the latest part of the reviews...
    last_part = fitting.fold_starts(long_history)[-1]
    assert evaluation.parameters == fitting.fit(
        [a for a in long_history if a.reviewed_at < last_part]
    )
    # ...ones the scheduler accepts...
    review(
        Memory(),
        GOOD,
        long_history[-1].reviewed_at,
        elapsed_days=None,
        seed=None,
        parameters=evaluation.parameters,
    )
    # ...and predict recall closer to the learner's true memory than the defaults do.
    truth = fitting.predictions(GENERATING, long_history)
    errors = {
        name: sum(
            abs(p.probability - t.probability)
            for p, t in zip(fitting.predictions(parameters, long_history), truth, strict=True)
        )
        / len(truth)
        for name, parameters in [
            ("fitted", evaluation.parameters),
            ("default", fitting.default_parameters()),
        ]
    }
    assert errors["fitted"] < errors["default"] / 2


def test_the_gate_tests_fitting_on_the_latest_half_of_reviews_in_five_parts(long_history):
    """Each part is predicted by a fit on the answers before it; the figures cover them all."""
    starts = fitting.fold_starts(long_history)
    later = sorted(p.answer.reviewed_at for p in fitting.predictions(GENERATING, long_history))

    assert len(starts) == fitting.FOLDS == 5
    assert starts == sorted(set(starts))
    held_out = [at for at in later if at >= starts[0]]
    assert len(held_out) == pytest.approx(len(later) / 2, abs=1)
    parts = [
        sum(start <= at < end for at in later)
        for start, end in zip(starts, [*starts[1:], later[-1] + timedelta(days=1)], strict=True)
    ]
    assert max(parts) - min(parts) <= 1
    evaluation = fitting.evaluate_candidate(long_history, GENERATING)
    assert evaluation.candidate["reviews"] == evaluation.current["reviews"] == len(held_out)


def test_the_gate_keeps_parameters_that_already_describe_the_learner(long_history):
    evaluation = fitting.evaluate_candidate(long_history, GENERATING)

    assert not evaluation.adopt
    assert evaluation.reason.startswith("The fitted parameters predict no better by the rule")
    assert evaluation.candidate["z"] >= fitting.ADOPT_BELOW_Z
    assert evaluation.parameters == GENERATING


def test_the_gate_keeps_the_parameters_in_use_on_a_gain_that_is_not_significant():
    current = {"log_loss": 0.4000, "reviews": 500}
    candidate = {"log_loss": 0.3999, "reviews": 500}

    kept = fitting.decide(GENERATING, fitting.default_parameters(), current, candidate, -1.9, 2000)
    adopted = fitting.decide(
        GENERATING, fitting.default_parameters(), current, candidate, -2.1, 2000
    )

    assert not kept.adopt and kept.parameters == fitting.default_parameters()
    assert "z = -1.90" in kept.reason
    assert adopted.adopt and adopted.parameters == GENERATING


def test_the_gain_of_one_card_is_not_significant_however_large():
    """Reviews of one card are not independent: a gain on it alone proves nothing."""
    current = [make_prediction(0.5, True) for _ in range(40)]
    better_on_card_1 = [make_prediction(0.9, True) for _ in range(40)]
    assert fitting.paired_z(current, better_on_card_1) == 0.0  # one cluster: no error estimate

    cards = [replace_card(p, n % 20) for n, p in enumerate(current)]
    better_on_one = [
        replace_card(make_prediction(0.9 if n % 20 == 0 else 0.5, True), n % 20) for n in range(40)
    ]
    better_on_all = [
        replace_card(make_prediction(0.6 + 0.01 * (n % 7), True), n % 20) for n in range(40)
    ]
    assert -2 < fitting.paired_z(cards, better_on_one) < 0
    assert fitting.paired_z(cards, better_on_all) < -2
    assert fitting.paired_z(better_on_all, cards) > 2


def replace_card(prediction, card_id):
    answer = prediction.answer
    return Prediction(
        Answer(card_id, answer.reviewed_at, answer.day, answer.rating),
        prediction.probability,
        prediction.elapsed_days,
        prediction.number,
        prediction.lapses,
    )


def test_the_gate_does_not_adopt_a_fit_for_a_learner_the_defaults_describe():
    history = simulate_answers(
        fitting.default_parameters(), cards=400, new_per_day=10, days=100, seed=2
    )

    evaluation = fitting.evaluate_candidate(history, None)

    assert evaluation.cross_day >= fitting.MIN_CROSS_DAY_REVIEWS
    assert not evaluation.adopt, evaluation.reason


def test_constant_predictions_score_their_cross_entropy_and_rank_nothing():
    predictions = [make_prediction(0.8, recalled) for recalled in [True] * 4 + [False]]

    scores = fitting.metrics(predictions)

    assert scores["log_loss"] == pytest.approx(-(4 * math.log(0.8) + math.log(0.2)) / 5)
    assert scores["rmse_bins"] == pytest.approx(0)
    assert scores["auc"] == 0.5


def test_a_perfect_ranking_has_an_auc_of_one_and_a_reversed_one_of_zero():
    recalled = [make_prediction(p, True) for p in (0.7, 0.8, 0.9)]
    forgotten = [make_prediction(p, False) for p in (0.2, 0.5)]

    assert fitting.metrics(recalled + forgotten)["auc"] == 1
    assert fitting.metrics(
        [make_prediction(1 - p.probability, p.recalled) for p in recalled + forgotten]
    )["auc"] == pytest.approx(0)


def test_rmse_bins_compares_pass_rates_with_mean_predictions_bin_by_bin():
    # A day's interval and a month's fall in different bins: off by 0.1, then spot on.
    predictions = [make_prediction(0.9, True, elapsed_days=1) for _ in range(2)] + [
        make_prediction(0.5, recalled, elapsed_days=30) for recalled in (True, False)
    ]

    assert fitting.metrics(predictions)["rmse_bins"] == pytest.approx(math.sqrt(2 * 0.1**2 / 4))


def test_rmse_bins_tells_reviews_apart_by_their_number_and_lapses():
    together = [make_prediction(0.5, True), make_prediction(0.5, False)]
    apart_by_number = [make_prediction(0.5, True), make_prediction(0.5, False, number=5)]
    apart_by_lapses = [make_prediction(0.5, True), make_prediction(0.5, False, lapses=1)]

    assert fitting.metrics(together)["rmse_bins"] == 0
    assert fitting.metrics(apart_by_number)["rmse_bins"] == pytest.approx(0.5)
    assert fitting.metrics(apart_by_lapses)["rmse_bins"] == pytest.approx(0.5)


def test_no_predictions_have_no_scores():
    assert fitting.metrics([]) == {"log_loss": None, "rmse_bins": None, "auc": None, "reviews": 0}
