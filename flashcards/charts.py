"""Geometry of the server-rendered SVG charts: plain data in, coordinates out."""

from dataclasses import dataclass
from datetime import timedelta

CELL = 13  # px per heatmap day, gap included
BAR_WIDTH = 16
BAR_AREA_HEIGHT = 120


@dataclass(frozen=True)
class HeatmapDay:
    date: object
    answers: int
    level: int
    x: int
    y: int
    # Written once here: formatting a year of days in the template took longer than the queries.
    date_text: str  # Mon 3 Mar 2025
    label: str  # Mon 3 Mar 2025: 12 answers


def heatmap(answers_by_date, today, days=365):
    """Days as a calendar grid, one column per week from Monday; level 0-4 by answers."""
    first = today - timedelta(days=days - 1)
    monday = first - timedelta(days=first.weekday())
    busiest = max(answers_by_date.values(), default=0)
    cells, months = [], []
    for offset in range((today - monday).days + 1):
        date = monday + timedelta(days=offset)
        if date < first:
            continue
        week, weekday = divmod(offset, 7)
        answers = answers_by_date.get(date, 0)
        level = 0 if answers == 0 else min(4, 1 + (4 * (answers - 1)) // max(busiest, 1))
        date_text = f"{date:%a} {date.day} {date:%b} {date.year}"
        label = f"{date_text}: {answers} answer{'' if answers == 1 else 's'}"
        cells.append(
            HeatmapDay(date, answers, level, week * CELL, weekday * CELL, date_text, label)
        )
        if date.day == 1 or date == first:
            months.append({"x": week * CELL, "label": date.strftime("%b")})
    weeks = (today - monday).days // 7 + 1
    # A label for the first, partial month only when there is room before the next one.
    if len(months) > 1 and months[1]["x"] - months[0]["x"] < 3 * CELL:
        months = months[1:]
    return {
        "days": cells,
        "months": months,
        "width": weeks * CELL,
        "height": 7 * CELL,
        "busiest": busiest,
        "total": sum(answers_by_date.values()),
        "active_days": sum(1 for n in answers_by_date.values() if n),
    }


def bars(values):
    """[(label, value)] as bars: x, y, height in px within a fixed-height area."""
    highest = max((value for _, value in values), default=0)
    result = []
    for n, (label, value) in enumerate(values):
        height = round(BAR_AREA_HEIGHT * value / highest) if highest else 0
        result.append(
            {
                "label": label,
                "value": value,
                "x": n * (BAR_WIDTH + 4),
                "y": BAR_AREA_HEIGHT - height,
                "height": height,
            }
        )
    return {
        "bars": result,
        "width": len(values) * (BAR_WIDTH + 4),
        "height": BAR_AREA_HEIGHT,
        "highest": highest,
    }
