"""Print how well each scheduler predicts recall on a real review log: log loss, RMSE(bins), AUC.

Run from the repository root:

    .venv/bin/python bench/scheduling_quality.py [--csv PATH] [--rollover-hour H] [--splits 5]

The log is a CSV with the columns card_id, review_rating (1 Again .. 4 Easy), review_time
(ISO 8601, UTC) and review_duration (ms, unused); an optional study_day column (YYYY-MM-DD)
is used as it is, otherwise a review's study day is its UTC date, rolling over at
--rollover-hour (UTC). The log does not say the learner's time zone; by default the day rolls
over in the middle of the longest run of hours in which the learner never answered, where
their own 4 AM rollover must lie. The default log, bench/data/anki-review-log-sample.csv, is
one learner's Anki history (12,580 reviews of 1,205 cards, 2024-03-29 to 2024-10-06), copied
verbatim from the test data of open-spaced-repetition/py-fsrs
(tests/review_logs_josh_1711744352250_to_1728234780857.csv), which is under the MIT licence.

As srs-benchmark does, the cross-day reviews in time order are cut by a time-series split into
--splits + 1 parts; each model is trained on everything before a part and scored on that
part's cross-day reviews, each card's memory rebuilt from its full earlier history. Scores
are over all parts together. FSRS-6 fitted is our own pipeline, flashcards.fitting. The
figures of the day's latest run go to bench/results/scheduling-quality-<csv name>-<date>.txt.
"""

import argparse
import csv
import math
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from flashcards import fitting, scheduling  # noqa: E402
from flashcards.scheduling import AGAIN, EASY, HARD  # noqa: E402

DEFAULT_CSV = REPO / "bench" / "data" / "anki-review-log-sample.csv"
RESULTS = REPO / "bench" / "results"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the review log")
    parser.add_argument(
        "--rollover-hour",
        type=int,
        default=None,
        help="UTC hour at which a study day starts, when the log has no study_day column "
        "(default: the middle of the learner's longest run of hours without an answer)",
    )
    parser.add_argument("--splits", type=int, default=5, help="scored parts of the history")
    parser.add_argument(
        "--drop-outlier-cards",
        action="store_true",
        help="score as srs-benchmark does, without the cards whose first interval is an outlier",
    )
    return parser.parse_args()


def quiet_hour(path):
    """The UTC hour in the middle of the longest run of hours in which no answer was given."""
    busy = set()
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            busy.add(datetime.fromisoformat(row.get("review_time") or row["reviewed_at"]).hour)
    best_start, best_length = 4, 0
    for start in range(24):
        length = 0
        while length < 24 and (start + length) % 24 not in busy:
            length += 1
        if length > best_length:
            best_start, best_length = start, length
    return (best_start + best_length // 2) % 24


def read_answers(path, rollover_hour):
    answers = []
    with open(path, newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            # The Anki log's columns, or those of the app's own export (/progress/export/csv/).
            reviewed_at = datetime.fromisoformat(row.get("review_time") or row["reviewed_at"])
            # The format says UTC; a time written without its offset is taken at its word.
            if reviewed_at.tzinfo is None:
                reviewed_at = reviewed_at.replace(tzinfo=UTC)
            reviewed_at = reviewed_at.astimezone(UTC)
            if row.get("study_day"):
                day = date.fromisoformat(row["study_day"])
            else:
                day = (reviewed_at - timedelta(hours=rollover_hour)).date()
            answers.append(
                fitting.Answer(
                    int(row["card_id"]),
                    reviewed_at,
                    day,
                    int(row.get("review_rating") or row["rating"]),
                )
            )
    return answers


def by_card(answers):
    cards = defaultdict(list)
    for answer in sorted(answers, key=lambda answer: answer.reviewed_at):
        cards[answer.card_id].append(answer)
    return cards


def anki_sm2_probabilities(answers):
    """{id(answer): p} for cross-day reviews under Anki's default SM-2, as srs-benchmark's
    SM-2 baselines predict: p = 0.9 ** (days elapsed / interval); same-day answers are unseen."""
    found = {}
    for history in by_card(answers).values():
        first = history[0]
        interval, ease, last_day = (4 if first.rating == EASY else 1), 2.5, first.day
        for answer in history[1:]:
            elapsed = (answer.day - last_day).days
            if elapsed <= 0:
                continue
            found[id(answer)] = 0.9 ** (elapsed / interval)
            interval, ease = anki_sm2_review(interval, ease, elapsed, answer.rating)
            last_day = answer.day
    return found


def anki_sm2_review(interval, ease, elapsed, rating):
    """Anki's SM-2 with its default options (rslib states/review.rs): the new interval and ease."""
    hard_factor, easy_bonus = 1.2, 1.3
    if rating == AGAIN:
        return 1, max(1.3, ease - 0.2)
    if elapsed < interval:
        hard = max(elapsed * hard_factor, interval * hard_factor / 2)
        good = max(elapsed * ease, interval)
        easy = good * (easy_bonus - (easy_bonus - 1) / 2)
    else:
        late = elapsed - interval
        hard = max(interval * hard_factor, interval + 1)
        good = max((interval + late / 2) * ease, hard + 1)
        easy = max((interval + late) * ease * easy_bonus, good + 1)
    if rating == HARD:
        return max(1, round(hard)), max(1.3, ease - 0.15)
    if rating == EASY:
        return max(1, round(easy)), ease + 0.15
    return max(1, round(good)), ease


def drop_outlier_cards(answers, reviews):
    """The cards srs-benchmark leaves out: those whose first cross-day interval, among cards of
    the same first rating, is one of the rarest (5 %, at least 20 reviews), is shared by fewer
    than 6 cards, or is longer than 100 days (365 after Easy)."""
    first_rating = {history[0].card_id: history[0].rating for history in by_card(answers).values()}
    groups = defaultdict(lambda: defaultdict(list))
    for prediction in reviews:
        if prediction.number == 2:
            card_id = prediction.answer.card_id
            groups[first_rating[card_id]][prediction.elapsed_days].append(card_id)
    dropped = set()
    for rating, by_interval in groups.items():
        total = sum(len(cards) for cards in by_interval.values())
        removed = 0
        rarest_first = sorted(by_interval.items(), key=lambda group: (len(group[1]), -group[0]))
        for days, cards in rarest_first:
            rare = removed + len(cards) < max(total * 0.05, 20)
            if rare or len(cards) < 6 or days > (365 if rating == EASY else 100):
                dropped.update(cards)
                removed += len(cards)
    return dropped


def periods_of_24_hours(answers, *, predict_in_study_days=False):
    """{id(answer): p} for cross-day reviews as the scheduler predicted them before it counted
    study days: time since the previous answer in whole 24-hour periods, for the memory update
    and (unless `predict_in_study_days`) for the prediction."""
    factor, decay = scheduling.forgetting_curve()
    found = {}
    for history in by_card(answers).values():
        memory, previous, last_day = scheduling.Memory(), None, None
        for answer in history:
            periods = None if previous is None else (answer.reviewed_at - previous).days
            days = None if previous is None else scheduling.study_days_between(last_day, answer.day)
            if days:
                elapsed = days if predict_in_study_days else periods
                found[id(answer)] = (1 + factor * elapsed / memory.stability) ** decay
            memory = scheduling.review(
                memory, answer.rating, answer.reviewed_at, elapsed_days=periods, seed=None
            )
            previous, last_day = answer.reviewed_at, answer.day
    return found


def next_day_under_24_hours(answers, reviews):
    """Reviews on the study day after the card's previous answer but less than 24 hours after
    it: (how many, observed recall, mean predicted before, mean predicted now)."""
    previous = {}
    for history in by_card(answers).values():
        for earlier, answer in zip(history, history[1:], strict=False):
            previous[id(answer)] = earlier.reviewed_at
    hours = periods_of_24_hours(answers)
    found = [
        p
        for p in reviews
        if p.elapsed_days == 1 and p.answer.reviewed_at - previous[id(p.answer)] < timedelta(1)
    ]
    if not found:
        return 0, None, None, None
    return (
        len(found),
        sum(p.recalled for p in found) / len(found),
        sum(hours[id(p.answer)] for p in found) / len(found),
        sum(p.probability for p in found) / len(found),
    )


def live_replay_agrees(answers, reviews):
    """How many of the fit's predictions (`reviews`) the live scheduler's own replay of each
    card (scheduling.replay, which rescheduling and imports use) gives to the last digit."""
    by_answer = {id(p.answer): p for p in reviews}
    agree = 0
    for history in by_card(answers).values():
        steps = [(a.rating, a.reviewed_at, a.day, n == 0) for n, a in enumerate(history)]
        for answer, (before, _) in zip(history, scheduling.replay(steps), strict=True):
            prediction = by_answer.get(id(answer))
            if prediction is not None:
                live = scheduling.retrievability(before, prediction.elapsed_days)
                agree += math.isclose(live, prediction.probability, rel_tol=1e-12)
    return agree


def score(answers, splits, drop_outliers):
    reviews = fitting.predictions(fitting.default_parameters(), answers)
    dropped = drop_outlier_cards(answers, reviews) if drop_outliers else set()
    reviews = [p for p in reviews if p.answer.card_id not in dropped]
    # sklearn's TimeSeriesSplit: equal parts at the end, the remainder goes to the first.
    size = len(reviews) // (splits + 1)
    starts = [len(reviews) - (splits - n) * size for n in range(splits)]
    sm2 = anki_sm2_probabilities(answers)
    hours = periods_of_24_hours(answers)
    hours_updated = periods_of_24_hours(answers, predict_in_study_days=True)
    scored = defaultdict(list)
    for start in starts:
        part = reviews[start : start + size]
        split_at = part[0].answer.reviewed_at
        before = [answer for answer in answers if answer.reviewed_at < split_at]
        pass_rate = sum(p.recalled for p in reviews[:start]) / start
        fitted = fitting.fit(before)
        fitted_reviews = {id(p.answer): p for p in fitting.predictions(fitted, answers)}
        scored["constant average (pass rate before)"] += [
            replace(p, probability=pass_rate) for p in part
        ]
        scored["SM-2 (Anki's defaults)"] += [
            replace(p, probability=sm2[id(p.answer)]) for p in part
        ]
        scored["FSRS-6 default, 24-hour periods (before)"] += [
            replace(p, probability=hours[id(p.answer)]) for p in part
        ]
        scored["FSRS-6 default, updated in 24-hour periods"] += [
            replace(p, probability=hours_updated[id(p.answer)]) for p in part
        ]
        scored["FSRS-6 default parameters"] += part
        scored["FSRS-6 fitted (flashcards.fitting)"] += [fitted_reviews[id(p.answer)] for p in part]
    return reviews, dropped, size * splits, scored


def machine():
    commit = subprocess.run(
        ["git", "describe", "--always", "--dirty"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"fsrs-rs-python {version('fsrs-rs-python')}, fsrs (py-fsrs) {version('fsrs')}, "
        f"commit {commit or 'unknown'}"
    )


def table(scored):
    header = ("model", "log loss", "RMSE(bins)", "AUC")
    lines = []
    for name, predictions in scored.items():
        figures = fitting.metrics(predictions)
        lines.append(
            (name,)
            + tuple(
                "-" if figures[key] is None else f"{figures[key]:.4f}"
                for key in ("log_loss", "rmse_bins", "auc")
            )
        )
    widths = [max(len(line[n]) for line in [header, *lines]) for n in range(len(header))]
    rows = []
    for line in [header, ["-" * width for width in widths], *lines]:
        cells = [line[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        rows.append("  ".join(cells))
    return rows


def main():
    args = parse_args()
    started = time.perf_counter()
    if args.rollover_hour is None:
        args.rollover_hour = quiet_hour(args.csv)
    answers = read_answers(args.csv, args.rollover_hour)
    reviews, dropped, scored_count, scored = score(answers, args.splits, args.drop_outlier_cards)
    cards = len({answer.card_id for answer in answers})
    days = sorted(answer.day for answer in answers)
    try:
        shown_csv = args.csv.resolve().relative_to(REPO)
    except ValueError:
        shown_csv = args.csv
    lines = [
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC  "
        + " ".join(["bench/scheduling_quality.py", *sys.argv[1:]]),
        machine(),
        f"{shown_csv}: {len(answers):,} answers of {cards:,} cards, {days[0]} to {days[-1]}; "
        f"study days roll over at {args.rollover_hour:02d}:00 UTC unless the log says",
        f"{fitting.cross_day_count(answers):,} cross-day reviews"
        + (
            f", {len(reviews):,} left after dropping {len(dropped)} outlier cards"
            if args.drop_outlier_cards
            else ""
        )
        + f"; {scored_count:,} scored in {args.splits} time-ordered parts, "
        "each model trained on everything before the part",
        "",
        *table(scored),
        "",
        "{:,} reviews came on the next study day but under 24 hours after the card's previous "
        "answer: recalled {:.3f}; predicted {:.3f} counting 24-hour periods, {:.3f} counting study "
        "days.".format(*next_day_under_24_hours(answers, reviews)),
        f"The live scheduler's replay (scheduling.replay) gives the fit's prediction on "
        f"{live_replay_agrees(answers, reviews):,} of {len(reviews):,} cross-day reviews.",
        f"FSRS-6 fitted on every answer: {fitting.fit(answers)}",
        f"ran in {time.perf_counter() - started:.1f} s",
    ]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"scheduling-quality-{args.csv.stem}-{datetime.now(UTC):%Y-%m-%d}.txt"
    out.write_text(text, encoding="utf-8")
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    main()
