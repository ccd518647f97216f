"""The whole of a learner's first session in a Chromium with JavaScript off: plain links and
forms, a full page load for every step."""

import re

import pytest
from playwright.sync_api import expect

from flashcards.models import Review
from tests.browser.conftest import SOURCE_CARDS, StudyScreen

pytestmark = pytest.mark.browser

PASSWORD = "a long and unusual passphrase 7"
DECK = "Deep Learning Flashcards"


def test_without_javascript_a_new_learner_signs_up_studies_the_whole_deck_undoes_and_logs_out(
    browser, browser_context_args, live_server, source_deck
):
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url + "/")
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Sign up", exact=True).click()
        page.get_by_label("Username").fill("ada")
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Password confirmation").fill(PASSWORD)
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("status")).to_contain_text("Welcome, ada!")
        expect(page.locator("html")).not_to_have_class(re.compile(r"\bjs\b"))

        page.get_by_role("link", name=DECK, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(DECK)
        study = StudyScreen(page)
        study.expect_counts(new=15, learning=0, due=0)

        answered = []
        for _ in range(60):  # more than enough for 15 cards and any learning steps
            if study.finished.count():
                break
            front = study.front_text()
            assert front in SOURCE_CARDS, f"{front!r} is not one of the deck's fronts"
            page.get_by_role("link", name="Show answer").click()
            expect(page).to_have_url(re.compile(r"/study/\d+/reveal/\?shown=\d+$"))
            study.expect_answer_side(front)
            study.region.get_by_role("button", name=re.compile(r"^Easy ")).click()
            answered.append(front)
        expect(study.finished).to_be_visible()
        expect(study.region).to_contain_text("You have finished this deck for now.")
        assert sorted(set(answered)) == sorted(SOURCE_CARDS)
        study.expect_counts(new=0, learning=0, due=0)
        assert Review.objects.filter(user__username="ada").count() == len(answered)

        last = answered[-1]
        study.region.get_by_role("button", name=re.compile(r"^Undo ")).click()
        expect(page.get_by_role("status")).to_contain_text("Undone. Answer the card again.")
        expect(study.front).to_have_text(last)
        expect(study.finished).to_have_count(0)
        assert Review.objects.filter(user__username="ada").count() == len(answered) - 1

        page.get_by_role("link", name="Show answer").click()
        study.expect_answer_side(last)
        study.region.get_by_role("button", name=re.compile(r"^Easy ")).click()
        expect(study.finished).to_be_visible()

        nav.get_by_role("link", name="Progress", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Your progress")
        today = page.get_by_role("region", name="Today", exact=True)
        answers = today.get_by_role("term").filter(has_text=re.compile(r"^Answers$"))
        expect(answers.locator("xpath=following-sibling::dd")).to_have_text("15")

        page.get_by_role("button", name=re.compile(r"^Log out")).click()
        expect(page.get_by_role("link", name="Log in", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name=re.compile(r"^Log out"))).to_have_count(0)
    finally:
        context.close()
