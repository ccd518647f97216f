"""Authoring in a real Chromium: a learner builds a deck with a live preview; staff edit a card
while studying it."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from flashcards import scheduling
from flashcards.models import Card, Deck, Memory, Review
from tests.browser.conftest import log_in
from tests.conftest import answer, make_deck, make_user

pytestmark = pytest.mark.browser


def card_list_fronts(page):
    return page.locator(".card-list > li.card-row .card-row-text .front")


def progress_of(user):
    return (
        list(Memory.objects.filter(user=user).order_by("pk").values()),
        list(Review.objects.filter(user=user).order_by("pk").values()),
    )


def test_a_learner_creates_a_deck_adds_cards_with_a_live_preview_reorders_and_studies_it(
    page, live_server, learner, screenshot, study_screen
):
    log_in(page.context, live_server, learner)
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="New deck").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New deck")
    expect(page.get_by_label("Curated for all learners")).to_have_count(0)
    page.get_by_label("Title").fill("Geometry")
    page.get_by_role("button", name="Create deck").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Geometry")
    expect(page.get_by_role("status")).to_contain_text("Created “Geometry”.")
    expect(page.locator("#cards h2").first).to_have_text("0 cards")
    front, back = page.get_by_label("Front", exact=True), page.get_by_label("Back", exact=True)
    preview = page.locator(".card-editor .preview")

    front.fill("Pythagoras")
    expect(preview.locator(".front")).to_have_text("Pythagoras")
    back.press_sequentially("In a right triangle, $a^2+b^2=c^2$, **always**.")
    # Each keystroke restarts the 300 ms delay; the preview catches up with the last one.
    expect(preview.locator(".back strong")).to_have_text("always")
    expect(preview.locator(".back math")).to_have_count(1)
    expect(preview.locator(".back math msup")).to_have_count(3)
    expect(preview.locator(".back")).to_contain_text("In a right triangle,")
    screenshot(page, "authoring-deck-editor-preview")
    page.get_by_role("button", name="Add card").click()

    expect(page.locator("#cards h2").first).to_have_text("1 card")
    expect(card_list_fronts(page)).to_have_text(["Pythagoras"])
    expect(front).to_have_value("")
    expect(back).to_have_value("")
    front.fill("Right angle")
    back.fill("90 degrees, or $\\frac{\\pi}{2}$")
    expect(preview.locator(".back math mfrac")).to_have_count(1)
    page.get_by_role("button", name="Add card").click()
    expect(page.locator("#cards h2").first).to_have_text("2 cards")
    expect(card_list_fronts(page)).to_have_text(["Pythagoras", "Right angle"])

    page.get_by_role("button", name="Move “Right angle” up").click()
    expect(card_list_fronts(page)).to_have_text(["Right angle", "Pythagoras"])
    deck = Deck.objects.get(title="Geometry")
    assert deck.owner == learner
    assert list(deck.cards.order_by("position").values_list("front", "position")) == [
        ("Right angle", 1),
        ("Pythagoras", 2),
    ]
    page.get_by_role("button", name="Move “Right angle” up").click()  # already first
    expect(card_list_fronts(page)).to_have_text(["Right angle", "Pythagoras"])
    screenshot(page, "authoring-deck-reordered")

    page.get_by_role("link", name="Study", exact=True).click()
    study = study_screen(page)
    study.expect_counts(new=2, learning=0, due=0)
    expect(study.front).to_have_text("Right angle")
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_contain_text("90 degrees")
    expect(study.back.locator("math mfrac")).to_have_count(1)
    study.settled()
    page.keyboard.press("3")
    expect(study.front).to_have_text("Pythagoras")
    study.settled()
    page.keyboard.press("Space")
    expect(study.back.locator("math msup")).to_have_count(3)
    screenshot(page, "authoring-study-own-deck")
    study.settled()
    page.keyboard.press("4")
    study.expect_counts(new=0, learning=1, due=0)
    assert list(Review.objects.order_by("pk").values_list("card__front", "rating")) == [
        ("Right angle", scheduling.GOOD),
        ("Pythagoras", scheduling.EASY),
    ]


def test_staff_press_e_on_the_study_screen_edit_the_back_and_see_the_same_card_again(
    page, live_server, learner, screenshot, study_screen
):
    deck = make_deck("Capitals", cards=3)
    first = deck.cards.get(position=1)
    answer(learner, first, scheduling.GOOD, timezone.now(), duration_ms=4000)
    learners_progress = progress_of(learner)
    staff = make_user(is_staff=True)
    log_in(page.context, live_server, staff)
    page.goto(live_server.url + reverse("flashcards:study", args=[deck.slug]))
    study = study_screen(page)
    expect(study.front).to_have_text("Front 1")
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_have_text("Back 1")

    study.settled()
    page.keyboard.press("e")
    form = study.region.locator("form.card-editor")
    expect(form.get_by_role("heading", name="Edit this card")).to_be_visible()
    back = form.get_by_label("Back", exact=True)
    expect(back).to_have_value("Back 1")
    expect(form.get_by_label("Front", exact=True)).to_have_value("Front 1")
    back.fill("Back 1, whose area is $\\pi r^2$")
    expect(form.locator(".preview .back math")).to_have_count(1)
    expect(form.locator(".preview .back")).to_contain_text("Back 1, whose area is")
    screenshot(page, "authoring-study-edit-form")
    form.get_by_role("button", name="Save card").click()

    expect(study.notice).to_have_text("Card saved.")
    expect(study.front).to_have_text("Front 1")
    expect(form).to_have_count(0)
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_contain_text("Back 1, whose area is")
    expect(study.back.locator("math msup")).to_have_count(1)
    screenshot(page, "authoring-study-after-edit")

    first.refresh_from_db()
    assert first.back == "Back 1, whose area is $\\pi r^2$"
    assert progress_of(learner) == learners_progress
    assert not Review.objects.filter(user=staff).exists()


def test_cancelling_an_edit_on_the_study_screen_keeps_the_card_and_its_text(
    page, live_server, study_screen
):
    deck = make_deck("Capitals", cards=2)
    log_in(page.context, live_server, make_user(is_staff=True))
    page.goto(live_server.url + reverse("flashcards:study", args=[deck.slug]))
    study = study_screen(page)
    expect(study.front).to_have_text("Front 1")

    study.settled()
    page.keyboard.press("E")
    form = study.region.locator("form.card-editor")
    form.get_by_label("Back", exact=True).fill("Never saved")
    form.get_by_role("link", name="Cancel").click()

    expect(form).to_have_count(0)
    expect(study.front).to_have_text("Front 1")
    assert Card.objects.get(deck=deck, position=1).back == "Back 1"


def test_the_study_screens_edit_link_opened_in_its_own_tab_saves_the_card(page, live_server):
    deck = make_deck("Capitals", cards=2)
    card = deck.cards.get(position=1)
    log_in(page.context, live_server, make_user(is_staff=True))
    page.goto(live_server.url + reverse("flashcards:card_edit", args=[card.pk]) + "?from=study")
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit a card of Capitals")

    page.get_by_label("Back", exact=True).fill("Edited in its own tab")
    page.get_by_role("button", name="Save card").click()

    # A plain form on a page of its own: saving goes back to the study screen on that card.
    expect(page).to_have_url(re.compile(rf"/study/\?card={card.pk}$"), timeout=3000)
    card.refresh_from_db()
    assert card.back == "Edited in its own tab"
