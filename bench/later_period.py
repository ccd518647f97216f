"""Print whether the fitting gate's choices predict simulated learners' later answers better.

Run from the repository root:

    .venv/bin/python bench/later_period.py [--learners 56] [--seed 1] [--processes 2] [--quick]

Each simulated learner's memory follows FSRS-6 with parameters of their own: the defaults
(flashcards.fitting.default_parameters) times log-normal noise of spread 0, 0.1, 0.25 or 0.5
per parameter, clipped to py-fsrs's bounds. They study 1,000 cards, 20 new a day, once a day
at 19:00 UTC give or take an hour (study days roll over at 04:00), answering each due card
with probability 0.8; the app's scheduler with the default parameters schedules them, and
they recall a card with the probability their own memory gives. Learning and relearning
steps are passed within the session.

The first 240 days are the history: the fitting gate (flashcards.fitting.evaluate_candidate)
and the gate it replaced (re-implemented here) decide on it. The next 120 days are never used
for fitting or gating: each choice is scored there, every card's memory rebuilt from its
full earlier history, by log loss and by the card-clustered paired z against the defaults
(flashcards.fitting.paired_z). An adoption is harmful if it predicts those later answers
worse than the defaults, and significantly so at z > 2.

The second table is a class of learners studying the same curated deck, their parameters
drawn around a population mean of their own. Pooled parameters are fitted on the other
learners' first 240 days through the same gate against the defaults; newcomers with 14 or
28 days of history are then scored on their next 120 days with the defaults and with them.
The figures of the day's latest full run go to bench/results/later-period-<date>.txt.
"""

import argparse
import math
import multiprocessing
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import mean

from fsrs.scheduler import LOWER_BOUNDS_PARAMETERS, UPPER_BOUNDS_PARAMETERS

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scheduling_quality import machine  # noqa: E402

from flashcards import fitting, scheduling  # noqa: E402
from flashcards.scheduling import AGAIN, EASY, GOOD, HARD, REVIEW, Memory  # noqa: E402

RESULTS = REPO / "bench" / "results"
SPREADS = (0.0, 0.1, 0.25, 0.5)
FIRST_DAY = date(2026, 1, 5)
STUDY_HOUR = 19
JITTER_MINUTES = 60
ROLLOVER_HOUR = 4
SECONDS_PER_ANSWER = 10
# A learner does not get through every due card every day, so intervals spread beyond the
# scheduled ones, as real ones do.
ANSWERS_A_DUE_CARD = 0.8
FIRST_RATING = ((AGAIN, 0.25), (HARD, 0.05), (GOOD, 0.60), (EASY, 0.10))
# The shares of the app's own simulated learner (flashcards.simulation).
RATING_WHEN_RECALLED = ((HARD, 0.12), (GOOD, 0.78), (EASY, 0.10))
# The pooled-parameters class: how far its population mean lies from the defaults, and how far
# each learner lies from that mean.
CLASS_MEAN_SPREAD = 0.4
CLASS_SPREAD = 0.1
NEWCOMER_DAYS = (14, 28)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, help="simulated learners (56, or 4 with --quick)")
    parser.add_argument("--seed", type=int, default=1, help="seed of every draw")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: few, small learners; nothing written"
    )
    return parser.parse_args()


def sizes(quick):
    """Cards, new cards a day, history days, later days, class size and newcomers per class."""
    if quick:
        return {"cards": 300, "new_per_day": 20, "history": 90, "later": 30, "class": 4, "new": 2}
    return {"cards": 1000, "new_per_day": 20, "history": 240, "later": 120, "class": 30, "new": 12}


def answer(memory, rating, now, elapsed_days, *, seed, parameters=None):
    """The memory after one answer, `elapsed_days` study days after the card's previous one:
    the harness's one call into the app's scheduler."""
    return scheduling.review(
        memory, rating, now, elapsed_days=elapsed_days, seed=seed, parameters=parameters
    )


def true_parameters(rng, spread, around=None):
    """FSRS-6 parameters `around` the defaults (or the given ones) times log-normal noise."""
    drawn = [
        min(max(value * math.exp(spread * rng.gauss(0, 1)), low), high)
        for value, low, high in zip(
            around or fitting.default_parameters(),
            LOWER_BOUNDS_PARAMETERS,
            UPPER_BOUNDS_PARAMETERS,
            strict=True,
        )
    ]
    # A learner's memory after Again is no stronger than after Hard, Good or Easy.
    drawn[0:4] = sorted(drawn[0:4])
    return [round(value, 4) for value in drawn]


def _draw(rng, shares):
    draw = rng.random()
    for rating, share in shares:
        draw -= share
        if draw < 0:
            return rating
    return shares[-1][0]


def simulate(parameters, *, days, seed, cards, new_per_day):
    """The answers of a learner whose memory follows FSRS-6 with `parameters`, scheduled by the
    app with the default parameters, over `days` study days from FIRST_DAY."""
    rng = random.Random(seed)
    factor, decay = scheduling.forgetting_curve(parameters)
    # Card id -> (the memory the app schedules with, the learner's true one, last study day).
    known = {}
    answers = []
    for n in range(days):
        day = FIRST_DAY + timedelta(days=n)
        start = datetime(day.year, day.month, day.day, STUDY_HOUR, tzinfo=UTC) + timedelta(
            minutes=rng.uniform(-JITTER_MINUTES, JITTER_MINUTES)
        )
        day_end = datetime(day.year, day.month, day.day, ROLLOVER_HOUR, tzinfo=UTC) + timedelta(
            days=1
        )
        due = [
            card_id
            for card_id, (scheduled, _, _) in known.items()
            if scheduled.due < day_end and rng.random() < ANSWERS_A_DUE_CARD
        ]
        new = range(len(known) + 1, min(len(known) + new_per_day, cards) + 1)
        for order, card_id in enumerate([*due, *new]):
            at = start + timedelta(seconds=order * SECONDS_PER_ANSWER)
            if card_id in known:
                scheduled, true, last_day = known[card_id]
                elapsed = scheduling.study_days_between(last_day, day)
                recall = (1 + factor * elapsed / true.stability) ** decay
                rating = _draw(rng, RATING_WHEN_RECALLED) if rng.random() < recall else AGAIN
            else:
                scheduled, true, elapsed = Memory(), Memory(), None
                rating = _draw(rng, FIRST_RATING)
            while True:
                answers.append(fitting.Answer(card_id, at, day, rating))
                fuzz = scheduling.fuzz_seed(card_id, scheduled.reps)
                scheduled = answer(scheduled, rating, at, elapsed, seed=fuzz)
                true = answer(true, rating, at, elapsed, seed=None, parameters=parameters)
                if scheduled.state == REVIEW:
                    break
                # A learning or relearning step comes back within the session, and is passed.
                at, rating, elapsed = scheduled.due, GOOD, 0
            known[card_id] = (scheduled, true, day)
    return answers


def later_predictions(parameters, answers, later_from):
    """The predictions of the cross-day reviews from the study day `later_from` on, each card's
    memory rebuilt from its full earlier history."""
    return [p for p in fitting.predictions(parameters, answers) if p.answer.day >= later_from]


def shipped_gate(history):
    """The parameters the gate that shipped before would adopt, or None.

    It fitted on the answers before the last fifth of cross-day reviews, scored that fit and
    the defaults on the rest, and on any lower log loss adopted a refit on every answer.
    """
    if fitting.cross_day_count(history) < fitting.MIN_CROSS_DAY_REVIEWS:
        return None
    times = sorted(
        p.answer.reviewed_at for p in fitting.predictions(fitting.default_parameters(), history)
    )
    split_at = times[int(len(times) * 0.8)]
    tested = fitting.fit([a for a in history if a.reviewed_at < split_at])
    current, candidate, _ = fitting.compare(fitting.default_parameters(), tested, history, split_at)
    if candidate["log_loss"] >= current["log_loss"]:
        return None
    return fitting.fit(history)


def judge_learner(task):
    """One learner's row of the first table."""
    index, base_seed, quick = task
    size = sizes(quick)
    spread = SPREADS[index % len(SPREADS)]
    seed = base_seed * 1000 + index
    truth = true_parameters(random.Random(f"parameters {seed}"), spread)
    answers = simulate(
        truth,
        days=size["history"] + size["later"],
        seed=seed,
        cards=size["cards"],
        new_per_day=size["new_per_day"],
    )
    later_from = FIRST_DAY + timedelta(days=size["history"])
    history = [a for a in answers if a.day < later_from]
    evaluation = fitting.evaluate_candidate(history)
    shipped = shipped_gate(history)
    default = fitting.default_parameters()
    scored = {
        "default": later_predictions(default, answers, later_from),
        "true": later_predictions(truth, answers, later_from),
    }
    scored["old"] = later_predictions(shipped, answers, later_from) if shipped else None
    scored["new"] = (
        later_predictions(evaluation.parameters, answers, later_from) if evaluation.adopt else None
    )
    row = {
        "learner": index,
        "spread": spread,
        "seed": seed,
        "cross_day": evaluation.cross_day,
        "later_reviews": len(scored["default"]),
        "gate_z": evaluation.candidate["z"] if evaluation.candidate else None,
        "old_adopts": shipped is not None,
        "new_adopts": evaluation.adopt,
    }
    for name, predictions in scored.items():
        chosen = predictions or scored["default"]
        row[f"{name}_log_loss"] = fitting.metrics(chosen)["log_loss"]
        row[f"{name}_z"] = fitting.paired_z(scored["default"], chosen) if predictions else None
    return row


def class_parameters(base_seed, size):
    """The population mean of a class and the parameters of its members and its newcomers."""
    rng = random.Random(f"class {base_seed}")
    population = true_parameters(rng, CLASS_MEAN_SPREAD)
    members = [true_parameters(rng, CLASS_SPREAD, population) for _ in range(size["class"])]
    newcomers = [true_parameters(rng, CLASS_SPREAD, population) for _ in range(size["new"])]
    return population, members, newcomers


def member_history(task):
    """A class member's history, card ids made unique across the class."""
    index, parameters, base_seed, quick = task
    size = sizes(quick)
    answers = simulate(
        parameters,
        days=size["history"],
        seed=f"member {base_seed} {index}",
        cards=size["cards"],
        new_per_day=size["new_per_day"],
    )
    return [
        fitting.Answer(index * 10**6 + a.card_id, a.reviewed_at, a.day, a.rating) for a in answers
    ]


def judge_newcomer(task):
    """A newcomer's rows of the second table: one per length of their own history."""
    index, parameters, pooled, base_seed, quick = task
    size = sizes(quick)
    answers = simulate(
        parameters,
        days=max(NEWCOMER_DAYS) + size["later"],
        seed=f"newcomer {base_seed} {index}",
        cards=size["cards"],
        new_per_day=size["new_per_day"],
    )
    rows = []
    for own_days in NEWCOMER_DAYS:
        later_from = FIRST_DAY + timedelta(days=own_days)
        until = later_from + timedelta(days=size["later"])
        window = [a for a in answers if a.day < until]
        default = later_predictions(fitting.default_parameters(), window, later_from)
        with_pooled = later_predictions(pooled, window, later_from)
        true = later_predictions(parameters, window, later_from)
        rows.append(
            {
                "newcomer": index,
                "own_days": own_days,
                "own_cross_day": fitting.cross_day_count([a for a in window if a.day < later_from]),
                "later_reviews": len(default),
                "default_log_loss": fitting.metrics(default)["log_loss"],
                "pooled_log_loss": fitting.metrics(with_pooled)["log_loss"],
                "true_log_loss": fitting.metrics(true)["log_loss"],
                "pooled_z": fitting.paired_z(default, with_pooled),
            }
        )
    return rows


def columns(header, rows):
    """Rows of cells as right-aligned columns under a header."""
    widths = [max(len(str(line[n])) for line in [header, *rows]) for n in range(len(header))]
    return [
        "  ".join(str(cell).rjust(width) for cell, width in zip(line, widths, strict=True))
        for line in [header, ["-" * width for width in widths], *rows]
    ]


def _figure(value, digits=4):
    return "-" if value is None else f"{value:.{digits}f}"


def _harm(adopts, z):
    if not adopts:
        return ""
    return "HARM z>2" if z > 2 else "worse" if z > 0 else ""


def learner_table(rows):
    header = (
        "learner",
        "spread",
        "seed",
        "cross-day",
        "old",
        "new",
        "gate z",
        "default",
        "old",
        "new",
        "true",
        "old z",
        "new z",
        "old harm",
        "new harm",
    )
    lines = []
    for row in rows:
        lines.append(
            (
                row["learner"],
                f"{row['spread']:g}",
                row["seed"],
                f"{row['cross_day']:,}",
                "adopt" if row["old_adopts"] else "keep",
                "adopt" if row["new_adopts"] else "keep",
                _figure(row["gate_z"], 2),
                _figure(row["default_log_loss"]),
                _figure(row["old_log_loss"]),
                _figure(row["new_log_loss"]),
                _figure(row["true_log_loss"]),
                _figure(row["old_z"], 2),
                _figure(row["new_z"], 2),
                _harm(row["old_adopts"], row["old_z"]),
                _harm(row["new_adopts"], row["new_z"]),
            )
        )
    return columns(header, lines)


def gate_summary(rows):
    """Adoptions, harm and mean later log loss for each gate, over all learners and per spread."""
    groups = [("all", rows)] + [
        (f"spread {spread:g}", [row for row in rows if row["spread"] == spread])
        for spread in SPREADS
    ]
    lines = []
    for name, group in groups:
        if not group:
            continue
        cells = [name, len(group)]
        for gate in ("old", "new"):
            adopted = [row for row in group if row[f"{gate}_adopts"]]
            cells += [
                len(adopted),
                sum(row[f"{gate}_z"] > 0 for row in adopted),
                sum(row[f"{gate}_z"] > 2 for row in adopted),
                sum(row[f"{gate}_z"] < -2 for row in adopted),
            ]
        cells += [
            _figure(mean(row[f"{name}_log_loss"] for row in group))
            for name in ("default", "old", "new", "true")
        ]
        lines.append(cells)
    header = (
        "learners",
        "n",
        "old adopts",
        "worse",
        "z>2",
        "z<-2",
        "new adopts",
        "worse",
        "z>2",
        "z<-2",
        "default",
        "old",
        "new",
        "true",
    )
    return columns(header, lines)


def gates_compared(rows):
    """Where the two gates' choices part: learner by learner, and the adoptions refused."""
    differences = [row["new_log_loss"] - row["old_log_loss"] for row in rows]
    refused = [row for row in rows if row["old_adopts"] and not row["new_adopts"]]
    return [
        "Learner by learner, the new gate's choice predicts the later days better than the "
        f"shipped gate's for {sum(d < 0 for d in differences)}, worse for "
        f"{sum(d > 0 for d in differences)}, equally for {sum(d == 0 for d in differences)}.",
        f"Of the shipped gate's {len(refused)} adoptions that the new gate refused, "
        f"{sum(row['old_z'] < -2 for row in refused)} predicted the later days significantly "
        f"better than the defaults (z < -2) and {sum(row['old_z'] > 2 for row in refused)} "
        "significantly worse (z > 2).",
    ]


def newcomer_table(rows):
    header = (
        "newcomer",
        "own days",
        "own cross-day",
        "later reviews",
        "default",
        "pooled",
        "true",
        "pooled z",
    )
    return columns(
        header,
        [
            (
                row["newcomer"],
                row["own_days"],
                f"{row['own_cross_day']:,}",
                f"{row['later_reviews']:,}",
                _figure(row["default_log_loss"]),
                _figure(row["pooled_log_loss"]),
                _figure(row["true_log_loss"]),
                _figure(row["pooled_z"], 2),
            )
            for row in rows
        ],
    )


def newcomer_summary(rows):
    lines = []
    for own_days in NEWCOMER_DAYS:
        group = [row for row in rows if row["own_days"] == own_days]
        lines.append(
            (
                own_days,
                len(group),
                _figure(mean(row["default_log_loss"] for row in group)),
                _figure(mean(row["pooled_log_loss"] for row in group)),
                _figure(mean(row["true_log_loss"] for row in group)),
                sum(row["pooled_z"] < 0 for row in group),
                sum(row["pooled_z"] < -2 for row in group),
                sum(row["pooled_z"] > 0 for row in group),
                sum(row["pooled_z"] > 2 for row in group),
            )
        )
    header = (
        "own days",
        "newcomers",
        "default",
        "pooled",
        "true",
        "better",
        "z<-2",
        "worse",
        "z>2",
    )
    return columns(header, lines)


def _progress(message):
    print(message, file=sys.stderr, flush=True)


def main():
    args = parse_args()
    started = time.perf_counter()
    size = sizes(args.quick)
    learners = args.learners or (4 if args.quick else 56)
    with multiprocessing.Pool(args.processes) as pool:
        rows = []
        tasks = [(index, args.seed, args.quick) for index in range(learners)]
        for row in pool.imap(judge_learner, tasks):
            rows.append(row)
            _progress(f"learner {row['learner']} done at {time.perf_counter() - started:.0f} s")
        learners_done = time.perf_counter()

        population, members, newcomers = class_parameters(args.seed, size)
        pooled_answers = []
        member_tasks = [(n, p, args.seed, args.quick) for n, p in enumerate(members, 1)]
        for answers in pool.imap(member_history, member_tasks):
            pooled_answers += answers
        _progress(f"class simulated at {time.perf_counter() - started:.0f} s")
        evaluation = fitting.evaluate_candidate(pooled_answers)
        _progress(f"pooled parameters judged at {time.perf_counter() - started:.0f} s")
        pooled = evaluation.parameters
        newcomer_rows = []
        newcomer_tasks = [(n, p, pooled, args.seed, args.quick) for n, p in enumerate(newcomers)]
        for found in pool.imap(judge_newcomer, newcomer_tasks):
            newcomer_rows += found
    old_mean = mean(row["old_log_loss"] for row in rows)
    new_mean = mean(row["new_log_loss"] for row in rows)
    new_harm = sum(row["new_adopts"] and row["new_z"] > 2 for row in rows)
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
        + " ".join(["bench/later_period.py", *sys.argv[1:]]),
        machine(),
        f"{learners} simulated learners: {size['cards']:,} cards, {size['new_per_day']} new a "
        f"day, {size['history']} days of history for fitting and gating, the next "
        f"{size['later']} days for scoring only; true parameters = defaults x log-normal "
        f"noise of spread {', '.join(f'{s:g}' for s in SPREADS)} in turn",
        "old: the shipped gate (adopt a refit on every answer on any held-out gain); new: "
        f"flashcards.fitting.evaluate_candidate (fits on the answers before each of "
        f"{fitting.FOLDS} parts of the latest {fitting.HOLDOUT_FRACTION:.0%} of cross-day "
        f"reviews; adopt the last part's fit if z < {fitting.ADOPT_BELOW_Z:g} over all parts); "
        "gate z: the new gate's held-out z",
        "log loss on the later days of the defaults / each gate's choice / the true "
        "parameters; old z, new z: the choice against the defaults on the later days, "
        "clustered by card (positive = worse)",
        "",
        *learner_table(rows),
        "",
        "Summary (worse: adopted parameters predict the later days worse than the defaults; "
        "z>2: significantly so; z<-2: significantly better; mean log loss per learner)",
        "",
        *gate_summary(rows),
        "",
        f"New gate: {new_harm} significantly harmful adoptions; mean later log loss "
        f"{new_mean:.4f} against the shipped gate's {old_mean:.4f} "
        f"({'no worse' if new_mean <= old_mean else 'WORSE'}).",
        *gates_compared(rows),
        f"({learners_done - started:.0f} s)",
        "",
        f"Pooled parameters: a class of {len(members)} learners on one deck, parameters drawn "
        f"around a population mean (defaults x noise of spread {CLASS_MEAN_SPREAD:g}) with "
        f"spread {CLASS_SPREAD:g}; pooled over their {size['history']} days "
        f"({len(pooled_answers):,} answers, {evaluation.cross_day:,} cross-day)",
        f"population mean: {population}",
        f"gate against the defaults: {'adopted' if evaluation.adopt else 'kept the defaults'}. "
        f"{evaluation.reason}",
        f"pooled parameters in use: {pooled}",
        f"{len(newcomers)} newcomers of the same class, scored on the {size['later']} days "
        f"after {' or '.join(str(d) for d in NEWCOMER_DAYS)} days of their own history",
        "",
        *newcomer_table(newcomer_rows),
        "",
        *newcomer_summary(newcomer_rows),
        "",
        f"ran in {time.perf_counter() - started:.0f} s with {args.processes} processes",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if args.quick:
        return
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"later-period-{datetime.now(UTC):%Y-%m-%d}.txt"
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
