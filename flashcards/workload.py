"""What each desired retention asks of a learner and what it gives back, from FSRS's simulator.

A year of study of the learner's cards is simulated by `fsrs_rs_python.simulate` at each desired
retention, with their parameters, their number of cards, their new cards a day and their time per
answer; `fsrs_rs_python.optimal_retention` searches for the retention at which a card known at
the end of that year costs the least time. Pure: no Django, and the seeds are fixed.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import fsrs_rs_python

# The desired retentions the settings form accepts, from its lowest to its highest.
RETENTIONS = (0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.97)
# Each row's reviews are also given against those at FSRS's default desired retention.
REFERENCE = 0.90
DAYS = 365
FIRST_MONTH = 30
# The year is simulated card by card, and optimal_retention simulates it 16 times for each
# retention it tries: 10,000 cards keep the worst case (all new on the first day) near 20 CPU
# seconds in a worker, and at 20 new cards a day a year introduces only 7,300 of them anyway.
MAX_CARDS = 10_000
# A year's figures vary with the simulator's draws (at 1,000 cards, the reviews at 0.97 against
# 0.90 from 2.2x to 2.6x between seeds): each row is the mean of four fixed ones, numbered from
# 42 as optimal_retention numbers its own, so the same inputs always give the same table.
SEEDS = (42, 43, 44, 45)


@dataclass(frozen=True)
class Row:
    """One desired retention's simulated year: daily means, and the cards known on two days."""

    retention: float
    reviews_a_day: float
    minutes_a_day: float
    known_after_month: float
    known_after_year: float
    # Reviews a day over those at REFERENCE; None when nothing is reviewed at REFERENCE.
    against_reference: float | None


@dataclass(frozen=True)
class Workload:
    """The simulated rows, the retention FSRS recommends, and the inputs they were made from."""

    rows: tuple[Row, ...]
    # Rounded to a hundredth, as the form takes it; None when the search found no minimum.
    optimal: float | None
    cards: int
    new_cards_per_day: int
    seconds_per_answer: float


def simulator_config(
    *, cards: int, new_cards_per_day: int, seconds_per_answer: float
) -> fsrs_rs_python.SimulatorConfig:
    """FSRS's default simulator, set to the learner's cards, new cards a day and pace."""
    config = fsrs_rs_python.default_simulator_config()
    config.deck_size = min(cards, MAX_CARDS)
    config.learn_span = DAYS
    config.learn_limit = min(new_cards_per_day, MAX_CARDS)
    # No cap on the time a day (FSRS's default is 30 minutes): the table shows what each
    # retention asks for, not what a cap would leave undone.
    config.max_cost_perday = math.inf
    # The learner's average time per answer, over every state and rating, prices each answer.
    config.state_rating_costs = [[seconds_per_answer] * 4 for _ in range(3)]
    return config


def workload(
    parameters: Sequence[float],
    *,
    cards: int,
    new_cards_per_day: int,
    seconds_per_answer: float,
    also: Sequence[float] = (),
) -> Workload:
    """Simulate a year at each of RETENTIONS, at `also` (the learner's own) and at the optimum.

    Needs at least one card and one new card a day: with neither, there is no year to simulate.
    """
    if cards < 1 or new_cards_per_day < 1:
        raise ValueError("a year of study needs at least one card and one new card a day")
    parameters = list(parameters)
    config = simulator_config(
        cards=cards, new_cards_per_day=new_cards_per_day, seconds_per_answer=seconds_per_answer
    )
    try:
        optimal = round(fsrs_rs_python.optimal_retention(config, parameters), 2)
    except ValueError:  # its search ended without a minimum between 0.70 and 0.95
        optimal = None
    extra = [optimal] if optimal is not None else []
    retentions = sorted({*RETENTIONS, *also, *extra})
    years = {retention: _year(parameters, retention, config) for retention in retentions}
    reference = years[REFERENCE]["reviews_a_day"]
    rows = tuple(
        Row(
            retention=retention,
            **year,
            against_reference=year["reviews_a_day"] / reference if reference else None,
        )
        for retention, year in years.items()
    )
    return Workload(
        rows=rows,
        optimal=optimal,
        cards=config.deck_size,
        new_cards_per_day=new_cards_per_day,
        seconds_per_answer=seconds_per_answer,
    )


def _year(parameters, retention, config):
    results = [fsrs_rs_python.simulate(parameters, retention, config, seed) for seed in SEEDS]

    def mean(figure):
        return sum(figure(result) for result in results) / len(results)

    return {
        "reviews_a_day": mean(lambda result: sum(result.review_cnt_per_day) / DAYS),
        "minutes_a_day": mean(lambda result: sum(result.cost_per_day) / DAYS / 60),
        # The count on a day's index holds the cards known at that day's end.
        "known_after_month": mean(lambda result: result.memorized_cnt_per_day[FIRST_MONTH - 1]),
        "known_after_year": mean(lambda result: result.memorized_cnt_per_day[DAYS - 1]),
    }
