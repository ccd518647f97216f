"""A learner's journey through the app in a real Chromium: sign up, study by keyboard, progress."""

import re

import pytest
from playwright.sync_api import expect

from flashcards.models import Review
from tests.browser.conftest import DESKTOP, PHONE, SOURCE_CARDS, log_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

PASSWORD = "a long and unusual passphrase 7"
DECK = "Deep Learning Flashcards"
STUDY_PATH = "/decks/deep-learning-flashcards/study/"


def sign_up(page, live_server, username):
    page.goto(live_server.url + "/accounts/signup/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text(f"Welcome, {username}!")
    expect(page.get_by_role("button", name=re.compile(rf"Log out \({username}\)"))).to_be_visible()


def nav_link(page, name):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def section(page, heading):
    return page.get_by_role("region", name=heading, exact=True)


def table_row(table, name):
    """The cells of the row headed `name` in this table, keyed by column header."""
    headers = table.locator("thead th").all_inner_texts()
    row = table.locator("tbody tr").filter(has=table.page.get_by_role("rowheader", name=name))
    cells = row.locator("th, td")
    expect(cells).to_have_count(len(headers))
    return {header: cells.nth(i) for i, header in enumerate(headers)}


def expect_progress(page, *, answers_today, by_state):
    """The progress dashboard's answers today and the deck's row of cards by state."""
    expect(page.get_by_role("heading", level=1)).to_have_text("Your progress")
    today = section(page, "Today")
    answers = today.get_by_role("term").filter(has_text=re.compile(r"^Answers$"))
    expect(answers.locator("xpath=following-sibling::dd")).to_have_text(str(answers_today))
    row = table_row(section(page, "Cards by state").get_by_role("table"), DECK)
    for column, value in by_state.items():
        expect(row[column]).to_have_text(str(value))


def test_a_new_learner_signs_up_studies_the_whole_deck_by_keyboard_and_sees_progress(
    page, live_server, source_deck, screenshot, study_screen
):
    sign_up(page, live_server, "ada")
    deck_item = page.get_by_role("listitem").filter(
        has=page.get_by_role("link", name=DECK, exact=True)
    )
    expect(deck_item).to_contain_text("15 cards")
    expect(deck_item.get_by_role("definition")).to_have_text(["15", "0", "0"])
    screenshot(page, "deck-list")

    page.get_by_role("link", name=DECK, exact=True).click()
    expect(page).to_have_url(live_server.url + STUDY_PATH)
    expect(page.get_by_role("heading", level=1)).to_have_text(DECK)
    study = study_screen(page)
    study.expect_counts(new=15, learning=0, due=0)
    reloads = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))

    answered = []
    undone = False
    while len(answered) < 15:
        front = study.front_text()
        assert front in SOURCE_CARDS, f"{front!r} is not one of the deck's fronts"
        assert front not in answered, f"{front!r} came back after Easy"
        # The answer is on the page already, hidden until revealed.
        expect(study.back).to_be_hidden()
        expect(study.ratings.first).to_be_hidden()
        if not answered:
            screenshot(page, "study-question")

        study.settled()
        expect(study.region.get_by_role("link", name="Show answer")).to_be_focused()
        page.keyboard.press("Space")
        intervals = study.expect_answer_side(front)
        assert intervals[:3] == ["1m", "6m", "10m"], intervals
        assert re.fullmatch(r"\d+d", intervals[3]), intervals
        if not answered:
            screenshot(page, "study-answer")
            page.set_viewport_size(PHONE)
            expect(study.ratings.nth(3)).to_be_visible()
            screenshot(page, "study-answer-phone", full_page=False)  # what the learner sees
            screenshot(page, "study-answer-phone-full")
            page.set_viewport_size(DESKTOP)

        study.settled()
        expect(study.ratings.nth(2)).to_be_focused()  # Good, which Enter would choose
        page.keyboard.press("4")
        answered.append(front)
        if len(answered) < 15:
            expect(study.front).not_to_have_text(front)
        study.expect_counts(new=15 - len(answered), learning=0, due=0)
        undo = study.region.get_by_role("button", name=re.compile(r"^Undo "))
        expect(undo).to_contain_text(f"“{front[:39]}")
        expect(undo).to_contain_text("(Easy)")

        if len(answered) == 5 and not undone:
            study.settled()
            page.keyboard.press("u")
            expect(study.notice).to_have_text("Undone. Answer the card again.")
            expect(study.front).to_have_text(front)
            study.expect_counts(new=15 - 4, learning=0, due=0)
            answered.pop()
            undone = True

    assert undone
    assert reloads == [], "studying by keyboard reloaded the page"
    assert sorted(answered) == sorted(SOURCE_CARDS)
    expect(study.finished).to_be_visible()
    expect(study.front).to_have_count(0)
    study.expect_counts(new=0, learning=0, due=0)
    expect(study.region).to_contain_text("The next card is due in")
    screenshot(page, "study-finished")

    nav_link(page, "Progress").click()
    # Easy on a new card gives days, under the 21 that make a card mature.
    expect_progress(
        page,
        answers_today=15,
        by_state={"New": 0, "Learning": 0, "Young": 15, "Mature": 0, "Relearning": 0},
    )
    recent_rows = section(page, "Recent answers").locator("tbody tr")
    expect(recent_rows).to_have_count(15)
    # Newest first: the order the cards were answered in, reversed.
    expect(recent_rows.locator("td:nth-child(2)")).to_have_text(list(reversed(answered)))
    expect(recent_rows.locator("td:nth-child(3)")).to_have_text([DECK] * 15)
    expect(recent_rows.locator("td:nth-child(4)")).to_have_text(["Easy"] * 15)
    expect(recent_rows.locator("td:nth-child(5)")).to_have_text([re.compile(r"^\d+d$")] * 15)
    screenshot(page, "progress")

    page.get_by_role("button", name=re.compile(r"^Log out")).click()
    expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name=re.compile(r"^Log out"))).to_have_count(0)

    sign_up(page, live_server, "grace")
    expect(deck_item.get_by_role("definition")).to_have_text(["15", "0", "0"])
    nav_link(page, "Progress").click()
    expect_progress(
        page,
        answers_today=0,
        by_state={"New": 15, "Learning": 0, "Young": 0, "Mature": 0, "Relearning": 0},
    )
    expect(section(page, "Recent answers").get_by_role("table")).to_have_count(0)
    expect(section(page, "Recent answers")).to_contain_text("No answers yet.")
    for front in SOURCE_CARDS:
        expect(page.get_by_text(front, exact=True)).to_have_count(0)


def test_answering_a_card_swaps_the_study_region_without_reloading_the_page_and_updates_the_counts(
    page, live_server, source_deck, study_screen
):
    learner = make_user()
    log_in(page.context, live_server, learner)
    page.goto(live_server.url + STUDY_PATH)
    study = study_screen(page)
    study.expect_counts(new=15, learning=0, due=0)
    first = study.front_text()
    page.evaluate("window.__marker = 1")
    swaps = []

    def note_swap(request):
        if request.method != "GET" or request.headers.get("hx-request"):
            swaps.append(request)

    page.on("request", note_swap)
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    page.get_by_role("link", name="Show answer").click()
    study.expect_answer_side(first)
    assert page.evaluate("window.__marker") == 1

    study.settled()
    study.region.get_by_role("button", name=re.compile(r"^Good 10m")).click()
    expect(study.front).not_to_have_text(first)
    study.expect_counts(new=14, learning=1, due=0)
    assert page.evaluate("window.__marker") == 1
    assert page.url == live_server.url + STUDY_PATH
    assert navigations == []
    # Revealing asks the server nothing; answering is one request that brings the next card.
    assert [(r.method, r.headers.get("hx-request")) for r in swaps] == [("POST", "true")]
    # A fragment, not a whole page, was swapped in: still one header and one study region.
    expect(page.locator("header.site-header")).to_have_count(1)
    expect(page.locator("#study")).to_have_count(1)
    assert Review.objects.filter(user=learner, card__front=first, rating=3).count() == 1


def test_without_javascript_a_learner_can_show_the_answer_answer_and_undo_with_links_and_forms(
    browser, browser_context_args, live_server, source_deck, study_screen, screenshot
):
    learner = make_user()
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        log_in(context, live_server, learner)
        page = context.new_page()
        page.goto(live_server.url + STUDY_PATH)
        study = study_screen(page)
        study.expect_counts(new=15, learning=0, due=0)
        first = study.front_text()

        page.get_by_role("link", name="Show answer").click()
        expect(page).to_have_url(re.compile(r"/study/\d+/reveal/\?shown=\d+$"))
        study.expect_answer_side(first)
        screenshot(page, "no-js-answer")

        study.region.get_by_role("button", name=re.compile(r"^Easy \d+d")).click()
        expect(page).to_have_url(live_server.url + STUDY_PATH)
        expect(study.front).not_to_have_text(first)
        study.expect_counts(new=14, learning=0, due=0)
        assert Review.objects.filter(user=learner, card__front=first, rating=4).count() == 1

        study.region.get_by_role("button", name=re.compile(rf"^Undo “{re.escape(first)}")).click()
        expect(page).to_have_url(re.compile(rf"{re.escape(STUDY_PATH)}\?card=\d+$"))
        expect(study.front).to_have_text(first)
        study.expect_counts(new=15, learning=0, due=0)
        assert not Review.objects.filter(user=learner).exists()
        screenshot(page, "no-js-after-undo")

        page.get_by_role("link", name="Show answer").click()
        study.expect_answer_side(first)
        study.region.get_by_role("button", name=re.compile(r"^Good 10m")).click()
        expect(page).to_have_url(live_server.url + STUDY_PATH)
        study.expect_counts(new=14, learning=1, due=0)
    finally:
        context.close()
