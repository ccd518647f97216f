import math
import re

import fsrs_rs_python
import pytest
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from flashcards import fitting, scheduling, workload
from flashcards.models import profile_for
from flashcards.tasks import compute_workload
from tests.conftest import make_deck, make_user, run_worker
from tests.test_views import logged_in, post_answer

DEFAULTS = fitting.default_parameters()
# A learner whose memories grow less with each successful review: w[8] scales the growth.
SLOW_GROWING = [*DEFAULTS[:8], DEFAULTS[8] - 1, *DEFAULTS[9:]]
HTMX = {"HTTP_HX_REQUEST": "true"}


def year(parameters=DEFAULTS, cards=400, new_cards_per_day=20, seconds_per_answer=8, **kwargs):
    return workload.workload(
        parameters,
        cards=cards,
        new_cards_per_day=new_cards_per_day,
        seconds_per_answer=seconds_per_answer,
        **kwargs,
    )


def by_retention(table):
    return {row.retention: row for row in table.rows}


# The simulation.


def test_each_row_is_fsrs_simulators_year_for_the_same_inputs():
    table = year(cards=500, new_cards_per_day=20, seconds_per_answer=7)

    # The simulator as the table describes it, set up here independently.
    config = fsrs_rs_python.default_simulator_config()
    config.deck_size, config.learn_limit, config.learn_span = 500, 20, 365
    config.max_cost_perday = math.inf
    config.state_rating_costs = [[7.0] * 4, [7.0] * 4, [7.0] * 4]
    assert table.optimal == round(fsrs_rs_python.optimal_retention(config, DEFAULTS), 2)
    assert [row.retention for row in table.rows] == sorted(
        {0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.97, table.optimal}
    )

    def mean_over_seeds_42_to_45(retention, figure):
        results = [fsrs_rs_python.simulate(DEFAULTS, retention, config, s) for s in range(42, 46)]
        return sum(figure(result) for result in results) / 4

    def reviews(result):
        return sum(result.review_cnt_per_day) / 365

    at_reference = mean_over_seeds_42_to_45(0.90, reviews)
    for row in table.rows:
        figures = {
            "reviews_a_day": reviews,
            "minutes_a_day": lambda result: sum(result.cost_per_day) / 365 / 60,
            "known_after_month": lambda result: result.memorized_cnt_per_day[29],
            "known_after_year": lambda result: result.memorized_cnt_per_day[364],
        }
        for name, figure in figures.items():
            expected = mean_over_seeds_42_to_45(row.retention, figure)
            assert getattr(row, name) == pytest.approx(expected, rel=1e-6), name
        assert row.against_reference == pytest.approx(row.reviews_a_day / at_reference, rel=1e-6)


def test_reviews_a_day_rise_with_the_desired_retention_as_fsrs_simulates_them():
    table = year(cards=1000, new_cards_per_day=20)

    relative = [row.against_reference for row in table.rows]
    assert relative == sorted(relative)
    assert len(set(relative)) == len(relative)
    rows = by_retention(table)
    assert rows[0.90].against_reference == 1
    # The interval ratio alone said 0.11× and 4.49×; FSRS's simulator says about 0.4× and 2.4×.
    assert 0.3 < rows[0.70].against_reference < 0.6
    assert 1.8 < rows[0.97].against_reference < 3


def test_a_learner_whose_memories_grow_slowly_reviews_more_at_every_retention():
    usual, slow = by_retention(year()), by_retention(year(SLOW_GROWING))

    for retention in workload.RETENTIONS:
        assert slow[retention].reviews_a_day > 1.5 * usual[retention].reviews_a_day
        assert slow[retention].minutes_a_day > 1.5 * usual[retention].minutes_a_day


def test_more_cards_are_more_work_and_more_known_once_the_smaller_deck_is_all_learnt():
    # 40 new cards a day learn 400 cards in ten days, 1,200 in thirty.
    small = by_retention(year(cards=400, new_cards_per_day=40))
    large = by_retention(year(cards=1200, new_cards_per_day=40))

    for retention in workload.RETENTIONS:
        assert large[retention].reviews_a_day > small[retention].reviews_a_day
        assert large[retention].known_after_year > small[retention].known_after_year


def test_a_slower_pace_is_more_minutes_for_the_same_reviews():
    quick, slow = year(seconds_per_answer=5), year(seconds_per_answer=10)

    for fast_row, slow_row in zip(quick.rows, slow.rows, strict=True):
        assert slow_row.reviews_a_day == fast_row.reviews_a_day
        assert slow_row.minutes_a_day == pytest.approx(2 * fast_row.minutes_a_day, rel=1e-6)


def test_the_learners_own_retention_gets_a_row_of_its_own():
    rows = by_retention(year(cards=100, also=[0.88]))

    assert 0.88 in rows
    assert rows[0.85].reviews_a_day < rows[0.88].reviews_a_day < rows[0.90].reviews_a_day


def test_a_year_is_simulated_for_no_more_than_the_cap_of_cards():
    config = workload.simulator_config(cards=10**9, new_cards_per_day=10**9, seconds_per_answer=8)

    assert config.deck_size == workload.MAX_CARDS
    assert config.learn_limit == workload.MAX_CARDS


@pytest.mark.parametrize(("cards", "new_cards_per_day"), [(0, 20), (100, 0)])
def test_no_year_is_simulated_without_cards_or_new_cards(cards, new_cards_per_day):
    with pytest.raises(ValueError, match="at least one card and one new card a day"):
        year(cards=cards, new_cards_per_day=new_cards_per_day)


# The settings page.


def workload_rows(text):
    """{retention: (its marks, [the row's figures])} of the workload table on the page."""
    table = re.search(r"<caption>A year at each desired retention.*?</table>", text, re.S).group(0)
    rows = re.findall(r"<th scope=\"row\">(0\.\d\d)(.*?)</th>(.*?)</tr>", table, re.S)
    return {
        float(retention): (re.findall(r"\((\w+)\)", marks), re.findall(r"<td>([^<]*)</td>", cells))
        for retention, marks, cells in rows
    }


def settings_page(client, **headers):
    return client.get(reverse("flashcards:settings"), **headers).text


def compute(client, django_capture_on_commit_callbacks):
    """Visit the settings page, so that the simulation is queued, and run the worker."""
    with django_capture_on_commit_callbacks(execute=True):
        settings_page(client)
    run_worker()


def test_the_settings_page_shows_the_simulated_year_once_the_worker_has_computed_it(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=300)
    client = logged_in(learner)
    with django_capture_on_commit_callbacks(execute=True):
        first = settings_page(client)
    assert "FSRS is simulating a year of study of your 300 cards" in first
    assert 'hx-get="/settings/" hx-trigger="every 2s"' in first
    assert "<caption>A year at each desired retention" not in first

    run_worker()

    page = settings_page(client)
    expected = year(cards=300, new_cards_per_day=20, seconds_per_answer=8, also=[0.9])
    assert (
        "300 cards, all new at first: 20 new a day, 8 s an answer (your pace), FSRS’s default"
        in page
    )
    assert f"Recommended: {expected.optimal:.2f}." in page
    rows = workload_rows(page)
    assert list(rows) == [row.retention for row in expected.rows]
    for row in expected.rows:
        marks, figures = rows[row.retention]
        shown = [float(figure.replace(",", "").removesuffix("×")) for figure in figures]
        # Each figure as the page rounds it: reviews and minutes to a tenth, the ratio to a
        # hundredth, cards to a whole.
        assert shown == [
            pytest.approx(row.reviews_a_day, abs=0.05),
            pytest.approx(row.against_reference, abs=0.005),
            pytest.approx(row.minutes_a_day, abs=0.05),
            pytest.approx(row.known_after_month, abs=0.5),
            pytest.approx(row.known_after_year, abs=0.5),
        ]
        assert ("yours" in marks) == (row.retention == 0.90)
        assert ("recommended" in marks) == (row.retention == expected.optimal)
    assert "hx-get" not in page.split('id="workload"')[1].split(">")[0]


def test_a_learner_with_fitted_parameters_sees_the_year_simulated_with_them(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=60)
    profile = profile_for(learner)
    profile.parameters = SLOW_GROWING
    profile.save()
    client = logged_in(learner)

    compute(client, django_capture_on_commit_callbacks)

    page = settings_page(client)
    assert "your fitted parameters." in page
    shown = {
        retention: float(figures[0]) for retention, (_, figures) in workload_rows(page).items()
    }
    expected = year(SLOW_GROWING, cards=60, also=[0.9])
    assert shown == {
        row.retention: pytest.approx(row.reviews_a_day, abs=0.05) for row in expected.rows
    }
    assert shown != {
        row.retention: pytest.approx(row.reviews_a_day, abs=0.05)
        for row in year(cards=60, also=[0.9]).rows
    }


def test_a_learner_who_chose_an_unlisted_retention_sees_it_marked_as_theirs(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=50)
    profile = profile_for(learner)
    profile.desired_retention = 0.8810000001  # the form's step is a hint, not a check
    profile.save()
    client = logged_in(learner)

    compute(client, django_capture_on_commit_callbacks)

    rows = workload_rows(settings_page(client))
    assert [retention for retention, (marks, _) in rows.items() if "yours" in marks] == [0.88]
    assert 0.88 in rows and 0.85 in rows and 0.90 in rows


def test_reloading_while_it_is_computed_queues_the_simulation_once(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=20)
    client = logged_in(learner)
    for _ in range(3):
        with django_capture_on_commit_callbacks(execute=True):
            assert "FSRS is simulating" in settings_page(client)

    assert DBTaskResult.objects.filter(task_path=compute_workload.module_path).count() == 1


def test_settings_changed_while_a_simulation_waits_are_simulated_once_it_is_done(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=20)
    client = logged_in(learner)
    profile = profile_for(learner)
    for new_cards_per_day in (20, 21, 22):
        profile.new_cards_per_day = new_cards_per_day
        profile.save()
        with django_capture_on_commit_callbacks(execute=True):
            settings_page(client)
    assert DBTaskResult.objects.filter(task_path=compute_workload.module_path).count() == 1

    run_worker()
    with django_capture_on_commit_callbacks(execute=True):
        assert "FSRS is simulating" in settings_page(client)  # 20 a day is done, 22 is not
    run_worker()

    assert "22 new a day" in settings_page(client)
    assert DBTaskResult.objects.filter(task_path=compute_workload.module_path).count() == 2


def test_the_pages_poll_changes_nothing_until_the_table_is_computed_then_gets_only_it(
    learner, django_capture_on_commit_callbacks
):
    make_deck(cards=20)
    client = logged_in(learner)
    with django_capture_on_commit_callbacks(execute=True):
        settings_page(client)
    poll = client.get(reverse("flashcards:settings"), **HTMX)
    assert poll.status_code == 204  # htmx swaps nothing: the focus stays where it is

    run_worker()

    part = settings_page(client, **HTMX)

    assert part.lstrip().startswith('<div id="workload">')
    assert "<caption>A year at each desired retention" in part
    assert "<form" not in part and "<h1" not in part


def test_the_simulated_cards_are_those_of_the_decks_the_learner_studies(
    learner, other_learner, deck
):
    make_deck(cards=40)
    make_deck(cards=500, owner=other_learner)
    mine = make_deck(cards=7, owner=learner)
    newcomer = make_user()

    # Before any answer: every deck listed for them, never another learner's private deck.
    assert "your 50 cards" in settings_page(logged_in(learner))
    assert "your 43 cards" in settings_page(logged_in(newcomer))
    assert "your 543 cards" in settings_page(logged_in(other_learner))

    client = logged_in(learner)
    post_answer(client, mine, mine.cards.first(), scheduling.GOOD)
    post_answer(client, deck, deck.cards.first(), scheduling.GOOD)
    assert "your 10 cards" in settings_page(client)


def test_a_learner_without_new_cards_a_day_is_told_why_there_is_no_table(learner, deck):
    profile = profile_for(learner)
    profile.new_cards_per_day = 0
    profile.save()

    page = settings_page(logged_in(learner))

    assert "With no new cards a day there is no year of study to simulate" in page
    assert not DBTaskResult.objects.exists()
