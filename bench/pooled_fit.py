"""Print how long fitting a curated deck's pooled parameters takes, and how much memory, by size.

Run from the repository root:

    .venv/bin/python bench/pooled_fit.py [--answers 25000 50000 100000 200000] [--seed 1]

For each size, learners are simulated on one deck of 500 cards, 10 new a day, once a day at
noon, by py-fsrs with FSRS's default parameters; they recall a card with the square of the
probability FSRS predicts, so that a fit has something to find. Their answers, each (learner,
card) a card of its own as flashcards.pooled numbers them, go through the fitting gate
(flashcards.fitting.evaluate_candidate against the defaults), as the nightly task does after
reading them. Each size runs in a fresh process: the wall time and CPU time of the fit and
the gate, and the process's peak resident memory, are printed.
"""

import argparse
import multiprocessing
import platform
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

import fsrs

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flashcards import fitting  # noqa: E402

CARDS = 500
NEW_PER_DAY = 10
DAYS = 200
START = datetime(2026, 1, 1, 12, tzinfo=UTC)
# The shares of the app's own simulated learner (flashcards.simulation).
RATING_WHEN_RECALLED = (
    (fsrs.Rating.Hard, 0.12),
    (fsrs.Rating.Good, 0.78),
    (fsrs.Rating.Easy, 0.10),
)


def learner_answers(rng, first_id):
    """One forgetful learner's answers on the deck, their cards numbered from `first_id`."""
    scheduler = fsrs.Scheduler(enable_fuzzing=False)
    cards, answers = {}, []
    for day in range(DAYS):
        now = START + timedelta(days=day)
        due = [card_id for card_id, card in cards.items() if card.due <= now + timedelta(hours=12)]
        new = range(len(cards), min(len(cards) + NEW_PER_DAY, CARDS))
        for number in [*due, *new]:
            card = cards.get(number) or fsrs.Card()
            at = now
            while True:
                recall = (
                    scheduler.get_card_retrievability(card, at) ** 2 if number in cards else 0.75
                )
                rating = fsrs.Rating.Again
                if rng.random() < recall:
                    draw, rating = rng.random(), fsrs.Rating.Good
                    for option, share in RATING_WHEN_RECALLED:
                        draw -= share
                        if draw < 0:
                            rating = option
                            break
                card, _ = scheduler.review_card(card, rating, at)
                cards[number] = card
                answers.append(fitting.Answer(first_id + number, at, at.date(), int(rating)))
                # Learning steps come back within the session.
                if card.state == fsrs.State.Review:
                    break
                at = max(card.due, at + timedelta(seconds=1))
    return answers


def measure(size, seed):
    rng = random.Random(seed)
    answers, learners = [], 0
    while len(answers) < size:
        answers += learner_answers(rng, learners * CARDS)
        learners += 1
    answers = sorted(answers, key=lambda answer: answer.reviewed_at)[:size]
    started, cpu_started = time.perf_counter(), time.process_time()
    evaluation = fitting.evaluate_candidate(answers, fitting.default_parameters())
    fitted, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return size, learners, evaluation.cross_day, fitted, cpu, peak_mb, evaluation.adopt


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--answers", type=int, nargs="+", default=[25_000, 50_000, 100_000, 200_000]
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"fsrs-rs-python {version('fsrs-rs-python')}, fsrs {version('fsrs')}, "
        f"{multiprocessing.cpu_count()} CPUs"
    )
    print(
        f"{'answers':>8} {'learners':>8} {'cross-day':>9} {'fit + gate':>10} {'CPU':>7} "
        f"{'peak RSS':>9}  adopted"
    )
    context = multiprocessing.get_context("spawn")
    for size in args.answers:
        with context.Pool(1) as pool:
            size, learners, cross_day, fitted, cpu, peak_mb, adopt = pool.apply(
                measure, (size, args.seed)
            )
        print(
            f"{size:>8,} {learners:>8} {cross_day:>9,} {fitted:>9.1f}s {cpu:>6.1f}s "
            f"{peak_mb:>7.0f}MB  "
            f"{'yes' if adopt else 'no'}"
        )


if __name__ == "__main__":
    main()
