"""Print the reviews a day of a learner who studies at the same hour every day, scheduled by the
app's scheduler counting study days, by the same scheduler counting 24-hour periods (as it did
before), and by FSRS's own simulator (fsrs_rs_python.simulate) for the same deck.

Run from the repository root:

    .venv/bin/python bench/daily_workload.py [--cards 1000] [--new 20] [--days 365] [--seed 1]

The learner answers every card due that day at about 09:00 (± --jitter minutes), then learns
up to --new new cards, passing their learning steps the same day. Their memory follows FSRS-6
with its default parameters (the ones scheduling them), so a card is recalled with the
probability the scheduler itself predicts; ratings follow the simulator's default shares. A
review is an answer to a card in review, as the simulator counts them. The figures of the day's
latest run go to bench/results/daily-workload-<date>.txt.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fsrs_rs_python

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flashcards import scheduling  # noqa: E402

RESULTS = REPO / "bench" / "results"
START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ROLLOVER = timedelta(hours=4)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cards", type=int, default=1000)
    parser.add_argument("--new", type=int, default=20, help="new cards a day")
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--jitter", type=float, default=15, help="minutes either side of 09:00")
    parser.add_argument("--retention", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=1)
    return parser.parse_args()


def study_date(at):
    return (at - ROLLOVER).date()


def rating(rng, config, recall, first):
    if first:
        return rng.choices(scheduling.RATINGS, weights=config.first_rating_prob)[0]
    if rng.random() > recall:
        return scheduling.AGAIN
    return rng.choices(scheduling.RATINGS[1:], weights=config.review_rating_prob)[0]


def simulate(args, config, *, study_days):
    """Mean reviews a day over the run, scheduled counting study days or 24-hour periods."""
    rng = random.Random(args.seed)
    memories = {}
    reviews_per_day = []
    for day in range(args.days):
        now = START + timedelta(days=day, minutes=rng.uniform(-args.jitter, args.jitter))
        day_end = START.replace(hour=4) + timedelta(days=day + 1)
        due = sorted(card for card, memory in memories.items() if memory.due < day_end)
        new = range(len(memories), min(len(memories) + args.new, args.cards))
        reviews = 0
        for card in [*due, *new]:
            memory = memories.get(card, scheduling.Memory())
            reviews += memory.state == scheduling.REVIEW
            first = memory.state == scheduling.NEW
            while True:
                if first:
                    elapsed = None
                elif study_days:
                    elapsed = (study_date(now) - study_date(memory.last_review)).days
                else:
                    elapsed = (now - memory.last_review).days
                recall = (
                    1.0
                    if first
                    else scheduling.retrievability(
                        memory, (study_date(now) - study_date(memory.last_review)).days
                    )
                )
                memory = scheduling.review(
                    memory,
                    rating(rng, config, recall, first),
                    now,
                    elapsed_days=elapsed,
                    seed=scheduling.fuzz_seed(card, memory.reps),
                    desired_retention=args.retention,
                )
                first = False
                now += timedelta(seconds=10)
                if memory.state == scheduling.REVIEW:
                    break
                # A learning step: answered Good when it comes due, the same day.
                now = max(now, memory.due)
            memories[card] = memory
        reviews_per_day.append(reviews)
    return statistics.mean(reviews_per_day)


def main():
    args = parse_args()
    started = time.perf_counter()
    config = fsrs_rs_python.default_simulator_config()
    config.deck_size = args.cards
    config.learn_span = args.days
    config.learn_limit = args.new
    config.max_cost_perday = 1e9
    simulator = fsrs_rs_python.simulate(
        fsrs_rs_python.DEFAULT_PARAMETERS, args.retention, config, args.seed
    )
    rows = [
        ("app scheduler, study days", simulate(args, config, study_days=True)),
        ("app scheduler, 24-hour periods (before)", simulate(args, config, study_days=False)),
        ("fsrs_rs_python.simulate", statistics.mean(simulator.review_cnt_per_day)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
        + " ".join(["bench/daily_workload.py", *sys.argv[1:]]),
        f"{args.cards:,} cards, {args.new} new a day, {args.days} days, desired retention "
        f"{args.retention}, studied at 09:00 ± {args.jitter:g} min UTC, FSRS-6 defaults",
        "",
        f"{'scheduler'.ljust(width)}  reviews a day",
        *(f"{name.ljust(width)}  {mean:13.1f}" for name, mean in rows),
        "",
        f"ran in {time.perf_counter() - started:.1f} s",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"daily-workload-{datetime.now(UTC):%Y-%m-%d}.txt"
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
