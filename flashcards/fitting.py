"""FSRS-6 parameters fitted to one learner's answers, and the gate that decides whether to use them.

Pure: no Django, no clock, no randomness. fsrs-rs (the optimiser Anki ships) fits the
parameters; `flashcards.scheduling`, the code that schedules the learner's cards, replays each
card's history to predict. Time is counted as FSRS and Anki count it, and as the live
scheduler does: in whole study days, each answer's day as the history recorded it.
"""

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from itertools import pairwise

import fsrs_rs_python
from fsrs.scheduler import DEFAULT_PARAMETERS, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

from flashcards import scheduling

# Anki asks for about a thousand reviews before it optimises; fewer fit noise.
MIN_CROSS_DAY_REVIEWS = 1000
# The gate tests fitting on the latest half of the cross-day reviews, in five time-ordered parts:
# each part is predicted by parameters fitted on every answer before it, as if the learner had
# been fitted then. Five tests on half the history tell a real gain from noise with fewer
# reviews than one test on the latest fifth.
HOLDOUT_FRACTION = 0.5
FOLDS = 5
# The fit is adopted only if the held-out log loss is lower by more than two standard errors
# (clustered by card): on simulated learners, a smaller gain was as often harm as help.
ADOPT_BELOW_Z = -2.0
# Predictions of exactly 0 or 1 would make the log loss infinite.
_EPSILON = 1e-15


@dataclass(frozen=True)
class Answer:
    """One answer as fitting sees it: which card, when, on which study day, and the rating."""

    card_id: int
    reviewed_at: datetime
    day: date
    rating: int


@dataclass(frozen=True)
class Prediction:
    """The recall probability predicted before one cross-day review, with what binning needs."""

    answer: Answer
    probability: float
    # Study days since the card's previous answer.
    elapsed_days: int
    # srs-benchmark's review number: the card's cross-day reviews so far, this one included, + 1.
    number: int
    # The card's earlier cross-day reviews answered Again.
    lapses: int

    @property
    def recalled(self):
        return self.answer.rating > scheduling.AGAIN


@dataclass(frozen=True)
class Evaluation:
    """The gate's verdict on parameters fitted to a learner's history."""

    adopt: bool
    reason: str
    cross_day: int
    current: dict | None
    candidate: dict | None
    parameters: list


def default_parameters():
    """FSRS-6's default parameters, the ones the app schedules with until a fit is adopted."""
    # py-fsrs's, to the digit; fsrs-rs holds the same values as 32-bit floats.
    return list(DEFAULT_PARAMETERS)


def _histories(answers):
    """Each card's answers in time order, with the study days elapsed since the one before."""
    by_card = defaultdict(list)
    for answer in sorted(answers, key=lambda answer: answer.reviewed_at):
        by_card[answer.card_id].append(answer)
    histories = {}
    for card_id, card_answers in by_card.items():
        elapsed = [0] + [
            scheduling.study_days_between(previous.day, answer.day)
            for previous, answer in pairwise(card_answers)
        ]
        histories[card_id] = list(zip(card_answers, elapsed, strict=True))
    return histories


def _cross_day_items(answers):
    """(card id, training item) for each cross-day review, a card's items in time order."""
    for card_id, history in _histories(answers).items():
        reviews = [fsrs_rs_python.FSRSReview(answer.rating, days) for answer, days in history]
        for n, (_, days) in enumerate(history):
            if n > 0 and days > 0:
                yield card_id, fsrs_rs_python.FSRSItem(reviews[: n + 1])


def training_items(answers):
    """fsrs-rs's training items: one per cross-day review, holding the card's history up to it.

    As in fsrs-rs's own converter and Anki's, a card's first answer has delta_t 0 and items
    ending in a same-day review are left out: those reviews shape the memory through the
    history of later items, but FSRS is scored only on recall across days.
    """
    return [item for _, item in _cross_day_items(answers)]


def cross_day_count(answers):
    """How many answers came on a later study day than the card's previous answer."""
    return sum(
        1
        for history in _histories(answers).values()
        for n, (_, days) in enumerate(history)
        if n > 0 and days > 0
    )


def fit(answers):
    """The 21 FSRS-6 parameters that best predict these answers, as fsrs-rs optimises them."""
    found = list(_cross_day_items(answers))
    if not found:
        return default_parameters()
    fitted = fsrs_rs_python.FSRS(default_parameters()).compute_parameters(
        [item for _, item in found],
        # With the card of each item, fsrs-rs trains a card's items as one growing sequence.
        card_ids=[card_id for card_id, _ in found],
        enable_short_term=True,
        num_relearning_steps=len(scheduling.RELEARNING_STEPS),
    )
    # fsrs-rs works in 32-bit floats: 0.8 comes back as 0.800000011920929, which py-fsrs
    # refuses as out of bounds. Anki stores parameters to four places too.
    return [
        min(max(round(value, 4), low), high)
        for value, low, high in zip(
            fitted, LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS, strict=True
        )
    ]


def predictions(parameters, answers, *, card_parameters=None):
    """For every cross-day review, the recall probability the scheduler gave it just before.

    Each card's history is replayed through `scheduling.review` with these parameters (or, for
    a card in `card_parameters`, with its own), so a prediction is what the app would have
    believed about the card at that moment.
    """
    found = []
    for card_id, history in _histories(answers).items():
        in_use = (card_parameters or {}).get(card_id, parameters)
        factor, decay = scheduling.forgetting_curve(in_use)
        memory = scheduling.Memory()
        number = 1
        lapses = 0
        for n, (answer, days) in enumerate(history):
            if n > 0 and days > 0:
                number += 1
                probability = (1 + factor * days / memory.stability) ** decay
                found.append(Prediction(answer, probability, days, number, lapses))
                lapses += answer.rating == scheduling.AGAIN
            memory = scheduling.review(
                memory,
                answer.rating,
                answer.reviewed_at,
                elapsed_days=days,
                seed=None,
                parameters=in_use,
            )
    found.sort(key=lambda prediction: prediction.answer.reviewed_at)
    return found


def metrics(predictions):
    """Log loss, RMSE(bins) and AUC of predictions, as srs-benchmark computes them.

    RMSE(bins) groups reviews by the interval, the review number and the lapse count (each on
    srs-benchmark's logarithmic bins), compares the mean prediction with the pass rate in each
    group, and weights each group by its size.
    """
    if not predictions:
        return {"log_loss": None, "rmse_bins": None, "auc": None, "reviews": 0}
    return {
        "reviews": len(predictions),
        "log_loss": sum(_log_loss(p) for p in predictions) / len(predictions),
        "rmse_bins": _rmse_bins(predictions),
        "auc": _auc(predictions),
    }


def _log_loss(prediction):
    probability = min(max(prediction.probability, _EPSILON), 1 - _EPSILON)
    return -math.log(probability if prediction.recalled else 1 - probability)


def _log_bin(value, scale, base, digits):
    return round(scale * base ** math.floor(math.log(value) / math.log(base)), digits)


def _rmse_bins(predictions):
    bins = defaultdict(lambda: [0, 0.0, 0.0])
    for p in predictions:
        key = (
            _log_bin(max(p.elapsed_days, 1e-6), 2.48, 3.62, 2),
            _log_bin(p.number, 1.99, 1.89, 0),
            _log_bin(p.lapses, 1.65, 1.73, 0) if p.lapses else 0,
        )
        group = bins[key]
        group[0] += 1
        group[1] += p.recalled
        group[2] += p.probability
    squared = sum((recalled - predicted) ** 2 / n for n, recalled, predicted in bins.values())
    return math.sqrt(squared / len(predictions))


def _auc(predictions):
    """The probability that a recalled review was predicted higher than a forgotten one."""
    ranked = sorted(predictions, key=lambda p: p.probability)
    rank_sum, recalled, start = 0.0, 0, 0
    while start < len(ranked):
        end = start
        while end < len(ranked) and ranked[end].probability == ranked[start].probability:
            end += 1
        # Ties share the mean of the ranks they span (ranks count from 1).
        tied_recalled = sum(p.recalled for p in ranked[start:end])
        rank_sum += tied_recalled * (start + end + 1) / 2
        recalled += tied_recalled
        start = end
    forgotten = len(ranked) - recalled
    if not recalled or not forgotten:
        return None
    return (rank_sum - recalled * (recalled + 1) / 2) / (recalled * forgotten)


def paired_z(current, candidate):
    """How many standard errors the candidate's mean log loss lies below or above the current's.

    Both lists hold the predictions of the same reviews in the same order. A card's reviews are
    not independent of each other, so the standard error is clustered by card: each card's
    summed difference is one observation. Negative means the candidate predicts better.
    """
    n = len(current)
    by_card = defaultdict(float)
    for now, then in zip(current, candidate, strict=True):
        by_card[now.answer.card_id] += _log_loss(then) - _log_loss(now)
    mean = sum(by_card.values()) / n
    counts = defaultdict(int)
    for prediction in current:
        counts[prediction.answer.card_id] += 1
    clusters = len(by_card)
    if clusters < 2:
        return 0.0
    spread = sum((total - counts[card] * mean) ** 2 for card, total in by_card.items())
    variance = clusters / (clusters - 1) * spread / n**2
    if variance == 0:
        return 0.0 if mean == 0 else math.copysign(math.inf, mean)
    return mean / math.sqrt(variance)


def fold_starts(answers):
    """When each of the FOLDS held-out parts starts: the latest HOLDOUT_FRACTION of cross-day
    reviews, split by time into parts of equal count."""
    times = sorted(
        answer.reviewed_at
        for history in _histories(answers).values()
        for n, (answer, days) in enumerate(history)
        if n > 0 and days > 0
    )
    held_out = len(times) * HOLDOUT_FRACTION
    first = len(times) - held_out
    return [times[int(first + held_out * fold / FOLDS)] for fold in range(FOLDS)]


def compare(current_parameters, candidate_parameters, answers, split_at, *, card_parameters=None):
    """Score two sets of parameters on the cross-day reviews from `split_at` on, each card's
    memory rebuilt from its full earlier history: (current metrics, candidate metrics, z).

    `card_parameters` ({card id: parameters}) gives the cards scheduled with other parameters
    than `current_parameters` (a curated deck's pooled ones).
    """
    current = [
        p
        for p in predictions(current_parameters, answers, card_parameters=card_parameters)
        if p.answer.reviewed_at >= split_at
    ]
    candidate = [
        p for p in predictions(candidate_parameters, answers) if p.answer.reviewed_at >= split_at
    ]
    return metrics(current), metrics(candidate), paired_z(current, candidate)


def fit_forward(current_parameters, answers, starts, *, card_parameters=None):
    """Score fitting itself on the held-out parts that begin at `starts`: each part is predicted
    by parameters fitted on every answer before it, and by the parameters in use.

    Returns (current metrics, candidate metrics, z over every part, the last part's fit).
    """
    current = [
        p
        for p in predictions(current_parameters, answers, card_parameters=card_parameters)
        if p.answer.reviewed_at >= starts[0]
    ]
    candidate = []
    for start, end in zip(starts, [*starts[1:], None], strict=True):
        fitted = fit([answer for answer in answers if answer.reviewed_at < start])
        candidate += [
            p
            for p in predictions(fitted, answers)
            if p.answer.reviewed_at >= start and (end is None or p.answer.reviewed_at < end)
        ]
    return metrics(current), metrics(candidate), paired_z(current, candidate), fitted


def evaluate_candidate(answers, current_parameters=None, *, card_parameters=None):
    """Test fitting on the later reviews, and adopt a fit only if it predicts them better.

    Each of the FOLDS latest parts of the cross-day reviews is predicted by parameters fitted
    on the answers before it. If over all parts the fits' log loss is lower than that of the
    parameters in use by more than ADOPT_BELOW_Z card-clustered standard errors, the last
    part's fit is adopted: parameters that were themselves tested, never a refit.
    """
    current_parameters = list(current_parameters or default_parameters())
    cross_day = cross_day_count(answers)
    if cross_day < MIN_CROSS_DAY_REVIEWS:
        return Evaluation(
            adopt=False,
            reason=(
                f"Only {cross_day} reviews on a later day than the card's previous answer; "
                f"fitting needs at least {MIN_CROSS_DAY_REVIEWS}."
            ),
            cross_day=cross_day,
            current=None,
            candidate=None,
            parameters=current_parameters,
        )
    current, candidate, z, candidate_parameters = fit_forward(
        current_parameters, answers, fold_starts(answers), card_parameters=card_parameters
    )
    return decide(candidate_parameters, current_parameters, current, candidate, z, cross_day)


def decide(candidate_parameters, current_parameters, current, candidate, z, cross_day):
    """The gate's rule: adopt the tested candidate only on a significant held-out gain."""
    current["z"] = candidate["z"] = z
    scores = (
        f"log loss {candidate['log_loss']:.4f} against {current['log_loss']:.4f} on the "
        f"{current['reviews']} latest reviews on a later day, z = {z:.2f}"
    )
    if z < ADOPT_BELOW_Z:
        return Evaluation(
            adopt=True,
            reason=f"The fitted parameters predict significantly better: {scores}.",
            cross_day=cross_day,
            current=current,
            candidate=candidate,
            parameters=list(candidate_parameters),
        )
    return Evaluation(
        adopt=False,
        reason=(
            f"The fitted parameters predict no better by the rule (z below {ADOPT_BELOW_Z:g}): "
            f"{scores}."
        ),
        cross_day=cross_day,
        current=current,
        candidate=candidate,
        parameters=current_parameters,
    )
