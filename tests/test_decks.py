"""Authoring: decks and their cards edited in place, by whom, and what editing leaves alone."""

import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from flashcards import scheduling
from flashcards.models import Card, Deck, Memory, Review, profile_for
from flashcards.queue import study_queue
from tests.conftest import make_deck, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}
DUPLICATE = "Another card of this deck has this front."
DAY_ONE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def deck_url(deck):
    return reverse("flashcards:deck_detail", args=[deck.slug])


def study_url(deck):
    return reverse("flashcards:study", args=[deck.slug])


def edit_url(card, from_study=False):
    url = reverse("flashcards:card_edit", args=[card.pk])
    return f"{url}?from=study" if from_study else url


def row_url(card, from_study=False):
    url = reverse("flashcards:card_row", args=[card.pk])
    return f"{url}?from=study" if from_study else url


def move_url(card, direction):
    return reverse("flashcards:card_move", args=[card.pk, direction])


def delete_url(card):
    return reverse("flashcards:card_delete", args=[card.pk])


def create_url(deck):
    return reverse("flashcards:card_create", args=[deck.slug])


def answer(client, deck, card, rating, reps=0):
    """Reveal the card, then answer it, as the study screen does."""
    client.get(reverse("flashcards:reveal", args=[deck.slug, card.pk]), **HTMX)
    data = {"card": card.pk, "rating": rating, "reps": reps, "shown_at": 0}
    return client.post(reverse("flashcards:answer", args=[deck.slug]), data, **HTMX)


def fronts(deck):
    """The deck's fronts in study order, with their positions."""
    return list(deck.cards.order_by("position", "id").values_list("front", "position"))


def shown_fronts(html):
    """The fronts a deck page or its card list shows, in order."""
    return re.findall(r'<div class="front"><p>(.*?)</p>', html)


def card_side(html, side):
    """The inner HTML of the study card's front or back."""
    return re.search(rf'<div class="{side}">(.*?)</div>', html, re.S).group(1).strip()


def snapshot():
    """Everything authoring could change, to show that a refused request changed nothing."""
    return (
        list(Deck.objects.order_by("pk").values_list("slug", "title", "owner_id", "published")),
        list(Card.objects.order_by("pk").values_list("pk", "deck_id", "front", "back", "position")),
        Review.objects.count(),
    )


def history():
    return (
        list(Memory.objects.order_by("pk").values()),
        list(Review.objects.order_by("pk").values()),
    )


@pytest.fixture
def private_deck(learner):
    return make_deck("Mine", cards=3, owner=learner)


@pytest.fixture
def staff(db):
    return make_user(is_staff=True)


@pytest.fixture
def superuser(db):
    return make_user(is_staff=True, is_superuser=True)


# Who may open each view is stated once, in the access matrix (tests/test_security.py): here,
# what a request leaves in the database, and how htmx requests are answered.


def authoring_requests(deck):
    """Every authoring request on one deck: (method, url, data)."""
    first, second = deck.cards.order_by("position")[:2]
    return {
        "deck_detail": ("get", deck_url(deck), None),
        "deck_edit_form": ("get", reverse("flashcards:deck_edit", args=[deck.slug]), None),
        "deck_edit": ("post", reverse("flashcards:deck_edit", args=[deck.slug]), {"title": "X"}),
        "deck_delete": ("post", reverse("flashcards:deck_delete", args=[deck.slug]), {}),
        "card_create": ("post", create_url(deck), {"front": "Injected", "back": "Injected"}),
        "card_row": ("get", row_url(first), None),
        "card_edit_form": ("get", edit_url(first), None),
        "card_edit": ("post", edit_url(first), {"front": "Changed", "back": "Changed"}),
        "study_edit": ("post", edit_url(first, True), {"front": "Changed", "back": "Changed"}),
        "card_delete": ("post", delete_url(second), {}),
        "card_move": ("post", move_url(first, "down"), {}),
    }


VIEWS = [
    "deck_detail",
    "deck_edit_form",
    "deck_edit",
    "deck_delete",
    "card_create",
    "card_row",
    "card_edit_form",
    "card_edit",
    "study_edit",
    "card_delete",
    "card_move",
]
EDITING_VIEWS = [view for view in VIEWS if view != "deck_detail"]


def send(client, request, htmx=False):
    method, url, data = request
    headers = HTMX if htmx else {}
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, data, **headers)


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("view", [*VIEWS, "deck_create_form", "deck_create", "markdown_preview"])
def test_anonymous_visitors_change_nothing_and_htmx_loads_the_login_page(client, deck, view, htmx):
    requests = {
        **authoring_requests(deck),
        "deck_create_form": ("get", reverse("flashcards:deck_create"), None),
        "deck_create": ("post", reverse("flashcards:deck_create"), {"title": "Anonymous"}),
        "markdown_preview": ("post", reverse("flashcards:markdown_preview"), {"back": "*x*"}),
    }
    before = snapshot()

    response = send(client, requests[view], htmx)

    if htmx:
        # htmx loads the login page whole rather than swapping it into the page.
        assert response.status_code == 200
        assert response["HX-Redirect"].startswith(reverse("login") + "?next=")
    assert "<em>x</em>" not in response.text
    assert snapshot() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("role", ["other learner", "staff"])
def test_nobody_else_changes_a_private_deck_and_htmx_gets_404_too(
    other_learner, staff, private_deck, role, view, htmx
):
    user = other_learner if role == "other learner" else staff
    before = snapshot()

    response = send(logged_in(user), authoring_requests(private_deck)[view], htmx)

    if htmx:
        assert response.status_code == 404
        assert "Mine" not in response.text
    assert snapshot() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("view", EDITING_VIEWS)
def test_a_learner_changes_nothing_of_a_curated_deck_and_htmx_gets_403_too(
    learner, deck, view, htmx
):
    before = snapshot()

    response = send(logged_in(learner), authoring_requests(deck)[view], htmx)

    if htmx:
        assert response.status_code == 403
    assert snapshot() == before


def test_a_learner_sees_a_curated_decks_cards_without_any_editor(learner, deck):
    response = logged_in(learner).get(deck_url(deck))

    assert response.status_code == 200
    assert shown_fronts(response.text) == ["Front 1", "Front 2", "Front 3"]
    assert not response.context["editable"]
    for editor_only in ("Add a card", "Edit deck", "Delete this deck", "/edit/", "/move/"):
        assert editor_only not in response.text


# Each editor's status on each view as htmx (the access matrix states the plain requests').
EDITOR_HTMX_STATUSES = {
    "deck_detail": 200,
    "deck_edit_form": 200,
    "deck_edit": 302,
    "deck_delete": 302,
    "card_create": 200,
    "card_row": 200,
    "card_edit_form": 200,
    "card_edit": 200,
    "study_edit": 200,
    "card_delete": 200,
    "card_move": 200,
}


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("view", VIEWS)
@pytest.mark.parametrize("editor", ["owner", "staff", "superuser"])
def test_each_editor_uses_every_view_of_a_deck_they_may_edit(
    learner, staff, superuser, editor, view, htmx
):
    user, deck = {
        "owner": (learner, make_deck("Mine", owner=learner)),
        "staff": (staff, make_deck("Draft", published=False)),
        "superuser": (superuser, make_deck("Curated")),
    }[editor]
    assert deck.editable_by(user)

    request = authoring_requests(deck)[view]
    before = snapshot()

    response = send(logged_in(user), request, htmx)

    if htmx:
        assert response.status_code == EDITOR_HTMX_STATUSES[view]
    assert (snapshot() != before) is (request[0] == "post")


def test_a_superuser_edits_a_learners_private_deck_as_editable_by_says(superuser, private_deck):
    card = private_deck.cards.get(position=1)
    assert private_deck.editable_by(superuser)
    client = logged_in(superuser)

    response = client.post(edit_url(card), {"front": "Fixed", "back": "Fixed"}, **HTMX)
    assert response.status_code == 200
    card.refresh_from_db()
    assert card.front == "Fixed"


def test_the_owner_sees_the_editor_with_its_live_preview(learner, private_deck):
    response = logged_in(learner).get(deck_url(private_deck))

    assert response.status_code == 200
    assert "Your private deck" in response.text
    assert "Add a card" in response.text and "Delete this deck" in response.text
    editor = re.search(r'<div class="editor-fields"[^>]*>', response.text).group(0)
    assert 'hx-post="/markdown/preview/"' in editor
    assert 'hx-trigger="input delay:300ms"' in editor
    assert 'hx-target="next .preview"' in editor
    assert '<div class="preview" aria-live="polite"' in response.text


# Decks: create, edit, delete.


def test_a_learner_creates_a_private_deck_and_lands_on_its_page(learner):
    client = logged_in(learner)
    assert "Curated" not in client.get(reverse("flashcards:deck_create")).text

    response = client.post(
        reverse("flashcards:deck_create"),
        {"title": "Spanish verbs", "description": "Irregular ones", "curated": "on"},
        follow=True,
    )

    deck = Deck.objects.get(title="Spanish verbs")
    assert response.redirect_chain == [(deck_url(deck), 302)]
    assert (deck.owner, deck.published, deck.description) == (learner, False, "Irregular ones")
    assert "Created “Spanish verbs”. Add its first card below." in response.text
    assert "No cards yet." in response.text


def test_a_learner_cannot_make_a_curated_or_published_deck(learner):
    logged_in(learner).post(
        reverse("flashcards:deck_create"), {"title": "Sneaky", "curated": "on", "published": "on"}
    )
    deck = Deck.objects.get(title="Sneaky")
    assert (deck.owner, deck.published) == (learner, False)


def test_staff_create_a_curated_deck_or_a_private_one(staff):
    client = logged_in(staff)
    client.post(
        reverse("flashcards:deck_create"), {"title": "Curated", "curated": "on", "published": "on"}
    )
    client.post(reverse("flashcards:deck_create"), {"title": "Staff notes"})

    assert Deck.objects.get(title="Curated").owner is None
    assert Deck.objects.get(title="Curated").published
    assert Deck.objects.get(title="Staff notes").owner == staff


def test_a_deck_without_a_title_is_not_created(learner):
    response = logged_in(learner).post(reverse("flashcards:deck_create"), {"title": ""})
    assert response.status_code == 200
    assert "This field is required." in response.text
    assert not Deck.objects.exists()


def test_a_deck_titled_new_does_not_shadow_the_new_deck_url(learner):
    logged_in(learner).post(reverse("flashcards:deck_create"), {"title": "New"})

    deck = Deck.objects.get(title="New")
    assert deck.slug != "new"
    assert logged_in(learner).get(deck_url(deck)).context["deck"] == deck


def test_the_owner_renames_a_deck_and_cannot_publish_it(learner):
    private_deck = make_deck("Mine", owner=learner, published=False)
    slug = private_deck.slug
    response = logged_in(learner).post(
        reverse("flashcards:deck_edit", args=[slug]),
        {"title": "Renamed", "description": "", "published": "on"},
        follow=True,
    )

    private_deck.refresh_from_db()
    assert (private_deck.title, private_deck.slug, private_deck.published) == (
        "Renamed",
        slug,
        False,
    )
    assert "Deck saved." in response.text


def test_staff_publish_a_curated_deck_from_its_edit_form(staff):
    draft = make_deck("Draft", published=False)
    client = logged_in(staff)
    assert "Published" in client.get(reverse("flashcards:deck_edit", args=[draft.slug])).text

    client.post(
        reverse("flashcards:deck_edit", args=[draft.slug]), {"title": "Draft", "published": "on"}
    )

    draft.refresh_from_db()
    assert draft.published and draft.owner is None


def test_deleting_a_private_deck_deletes_its_cards_and_the_owners_history(learner, private_deck):
    client = logged_in(learner)
    answer(client, private_deck, private_deck.cards.get(position=1), scheduling.GOOD)
    kept = make_deck("Other", owner=learner)
    answer(client, kept, kept.cards.get(position=1), scheduling.GOOD)

    response = client.post(reverse("flashcards:deck_delete", args=[private_deck.slug]), follow=True)

    assert response.redirect_chain == [(reverse("flashcards:deck_list"), 302)]
    assert "Deleted “Mine”." in response.text
    assert not Deck.objects.filter(pk=private_deck.pk).exists()
    assert not Card.objects.filter(deck_id=private_deck.pk).exists()
    assert list(Review.objects.values_list("deck_id", flat=True)) == [kept.pk]
    assert list(Memory.objects.values_list("deck_id", flat=True)) == [kept.pk]


def test_deleting_a_curated_deck_that_learners_studied_is_refused(learner, staff, deck):
    answer(logged_in(learner), deck, deck.cards.get(position=1), scheduling.GOOD)
    before = (snapshot(), history())

    response = logged_in(staff).post(
        reverse("flashcards:deck_delete", args=[deck.slug]), follow=True
    )

    assert response.redirect_chain == [(deck_url(deck), 302)]
    assert "Learners have studied this deck; unpublish it instead of deleting it." in response.text
    assert (snapshot(), history()) == before


def test_staff_delete_a_curated_deck_nobody_studied(staff, deck):
    logged_in(staff).post(reverse("flashcards:deck_delete", args=[deck.slug]))
    assert not Deck.objects.exists() and not Card.objects.exists()


# Cards: add, edit, reorder, delete; a fragment for htmx, a redirect for a plain post.


def test_adding_a_card_by_htmx_returns_the_card_list_with_it_last(learner, private_deck):
    response = logged_in(learner).post(
        create_url(private_deck), {"front": "Front 4", "back": "**Back** 4", "tags": "t"}, **HTMX
    )

    assert response.status_code == 200
    assert "<html" not in response.text
    assert "<h2>4 cards</h2>" in response.text
    assert shown_fronts(response.text) == ["Front 1", "Front 2", "Front 3", "Front 4"]
    assert "<strong>Back</strong> 4" in response.text
    assert fronts(private_deck)[-1] == ("Front 4", 4)
    # The form is blank again for the next card.
    assert re.search(r'<textarea name="front"[^>]*>\s*</textarea>', response.text)


def test_adding_a_card_without_javascript_redirects_to_the_deck_with_a_message(
    learner, private_deck
):
    response = logged_in(learner).post(
        create_url(private_deck), {"front": "Front 4", "back": "Back 4"}, follow=True
    )

    added = private_deck.cards.get(front="Front 4")
    assert response.redirect_chain == [(f"{deck_url(private_deck)}#card-{added.pk}", 302)]
    assert "Card added." in response.text
    assert fronts(private_deck)[-1] == ("Front 4", 4)


def test_the_first_card_of_an_empty_deck_is_at_position_one(learner):
    empty = make_deck("Empty", cards=0, owner=learner)
    logged_in(learner).post(create_url(empty), {"front": "Only", "back": "One"}, **HTMX)
    assert fronts(empty) == [("Only", 1)]


def test_a_card_without_a_back_is_refused_with_the_form_errors(learner, private_deck):
    before = snapshot()

    response = logged_in(learner).post(
        create_url(private_deck), {"front": "Front 4", "back": ""}, **HTMX
    )

    assert response.status_code == 400
    assert "<html" not in response.text
    assert "This field is required." in response.text
    assert snapshot() == before


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize("front", ["Front 2", "  Front 2\n"])
def test_a_duplicate_front_re_renders_the_form_with_the_message_and_saves_nothing(
    learner, private_deck, front, htmx
):
    before = snapshot()

    response = logged_in(learner).post(
        create_url(private_deck),
        {"front": front, "back": "A second back"},
        **(HTMX if htmx else {}),
    )

    assert response.status_code == 400
    assert DUPLICATE in response.text
    assert ("<html" in response.text) is not htmx
    # What was typed is kept, so nothing is lost.
    assert "A second back</textarea>" in response.text
    assert snapshot() == before


def test_the_same_front_is_allowed_in_another_deck(learner, private_deck):
    other = make_deck("Other", cards=0, owner=learner)
    response = logged_in(learner).post(create_url(other), {"front": "Front 2", "back": "b"})
    assert response.status_code == 302
    assert Card.objects.filter(front="Front 2").count() == 2


def test_editing_a_card_into_another_cards_front_is_refused(learner, private_deck):
    card = private_deck.cards.get(position=3)
    before = snapshot()

    response = logged_in(learner).post(
        edit_url(card), {"front": "Front 1", "back": "Changed"}, **HTMX
    )

    assert response.status_code == 400
    assert DUPLICATE in response.text
    assert f'id="card-{card.pk}"' in response.text
    assert snapshot() == before


def test_a_card_keeps_its_own_front_when_only_its_back_changes(learner, private_deck):
    card = private_deck.cards.get(position=2)
    response = logged_in(learner).post(edit_url(card), {"front": "Front 2", "back": "New"}, **HTMX)
    assert response.status_code == 200
    card.refresh_from_db()
    assert (card.front, card.back, card.position) == ("Front 2", "New", 2)


def test_the_edit_form_is_a_fragment_for_htmx_and_a_page_without_javascript(learner, private_deck):
    card = private_deck.cards.get(position=2)
    client = logged_in(learner)

    fragment = client.get(edit_url(card), **HTMX)
    page = client.get(edit_url(card))

    assert fragment.status_code == page.status_code == 200
    assert fragment.text.lstrip().startswith(
        f'<form method="post" class="card-editor card-row" id="card-{card.pk}"'
    )
    assert "<html" not in fragment.text
    assert "<html" in page.text and "Edit a card of Mine" in page.text
    for response in (fragment, page):
        assert "Front 2</textarea>" in response.text
        assert "Save card" in response.text
    # Swapped into the deck's list it replaces itself; as a page of its own it is a plain form.
    assert 'hx-target="this" hx-swap="outerHTML"' in fragment.text
    assert 'hx-post="/cards/' not in page.text


def test_saving_an_edit_by_htmx_returns_the_cards_row(learner, private_deck):
    card = private_deck.cards.get(position=2)

    response = logged_in(learner).post(
        edit_url(card), {"front": "Front *two*", "back": "Back 2", "tags": ""}, **HTMX
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li class="card-row" id="card-{card.pk}">')
    assert "Front <em>two</em>" in response.text
    card.refresh_from_db()
    assert (card.front, card.position) == ("Front *two*", 2)


def test_saving_an_edit_without_javascript_redirects_to_the_deck(learner, private_deck):
    card = private_deck.cards.get(position=2)

    response = logged_in(learner).post(
        edit_url(card), {"front": "Front 2", "back": "Changed"}, follow=True
    )

    assert response.redirect_chain == [(deck_url(private_deck), 302)]
    assert "Card saved." in response.text
    assert "Changed" in response.text


def test_cancelling_an_edit_returns_the_row_or_the_deck_page(learner, private_deck):
    card = private_deck.cards.get(position=1)
    client = logged_in(learner)

    fragment = client.get(row_url(card), **HTMX)
    plain = client.get(row_url(card))

    assert fragment.text.lstrip().startswith(f'<li class="card-row" id="card-{card.pk}">')
    assert "<html" not in fragment.text
    assert plain.status_code == 302 and plain["Location"] == deck_url(private_deck)


def test_urls_serving_a_fragment_or_a_page_vary_on_hx_request(learner, private_deck):
    card = private_deck.cards.get(position=1)
    client = logged_in(learner)
    for url in (edit_url(card), row_url(card)):
        assert "HX-Request" in client.get(url, **HTMX).get("Vary", "")


def test_moving_cards_up_and_down_renumbers_their_positions(learner, private_deck):
    client = logged_in(learner)
    first, second, third = private_deck.cards.order_by("position")

    response = client.post(move_url(third, "up"), **HTMX)

    assert response.status_code == 200 and "<html" not in response.text
    assert shown_fronts(response.text) == ["Front 1", "Front 3", "Front 2"]
    assert fronts(private_deck) == [("Front 1", 1), ("Front 3", 2), ("Front 2", 3)]

    response = client.post(move_url(first, "down"))

    assert response.status_code == 302
    assert response["Location"] == f"{deck_url(private_deck)}#card-{first.pk}"
    assert fronts(private_deck) == [("Front 3", 1), ("Front 1", 2), ("Front 2", 3)]


def test_the_first_card_cannot_move_up_nor_the_last_down(learner, private_deck):
    client = logged_in(learner)
    first, _, last = private_deck.cards.order_by("position")
    before = fronts(private_deck)

    client.post(move_url(first, "up"), **HTMX)
    client.post(move_url(last, "down"), **HTMX)

    assert fronts(private_deck) == before


def test_moving_a_card_closes_gaps_left_by_deleted_cards(learner):
    deck = make_deck("Gappy", cards=4, owner=learner)
    client = logged_in(learner)
    client.post(delete_url(deck.cards.get(position=2)), **HTMX)
    assert fronts(deck) == [("Front 1", 1), ("Front 3", 3), ("Front 4", 4)]

    client.post(move_url(deck.cards.get(position=4), "up"), **HTMX)

    assert fronts(deck) == [("Front 1", 1), ("Front 4", 2), ("Front 3", 3)]


def test_new_cards_are_studied_in_their_new_order(learner, private_deck):
    client = logged_in(learner)
    client.post(move_url(private_deck.cards.get(front="Front 3"), "up"), **HTMX)
    client.post(move_url(private_deck.cards.get(front="Front 3"), "up"), **HTMX)

    response = client.get(study_url(private_deck))

    assert response.context["card"].front == "Front 3"


def test_a_move_in_an_unknown_direction_is_not_found(learner, private_deck):
    first = private_deck.cards.get(position=1)
    before = fronts(private_deck)

    response = logged_in(learner).post(move_url(first, "sideways"), **HTMX)

    assert response.status_code == 404
    assert fronts(private_deck) == before


def test_deleting_a_card_of_a_private_deck_deletes_the_owners_reviews_of_it(learner, private_deck):
    client = logged_in(learner)
    first, second, _ = private_deck.cards.order_by("position")
    answer(client, private_deck, first, scheduling.AGAIN)
    answer(client, private_deck, first, scheduling.GOOD, reps=1)
    answer(client, private_deck, second, scheduling.GOOD)
    assert Review.objects.filter(card=first).count() == 2

    response = client.post(delete_url(first), **HTMX)

    # The list comes back whole, so its count of cards stays right.
    assert response.status_code == 200
    assert "2 cards" in response.text and "Front 1" not in response.text
    assert not Card.objects.filter(pk=first.pk).exists()
    assert list(Review.objects.values_list("card_id", flat=True)) == [second.pk]
    assert list(Memory.objects.values_list("card_id", flat=True)) == [second.pk]
    assert fronts(private_deck) == [("Front 2", 2), ("Front 3", 3)]


def test_deleting_a_card_without_javascript_redirects_with_a_message(learner, private_deck):
    card = private_deck.cards.get(position=2)

    response = logged_in(learner).post(delete_url(card), follow=True)

    assert response.redirect_chain == [(deck_url(private_deck), 302)]
    assert "Card deleted." in response.text
    assert shown_fronts(response.text) == ["Front 1", "Front 3"]


def test_deleting_a_curated_card_that_learners_answered_is_refused(learner, staff, deck):
    card = deck.cards.get(position=1)
    answer(logged_in(learner), deck, card, scheduling.GOOD)
    before = (snapshot(), history())
    client = logged_in(staff)

    refused = client.post(delete_url(card), **HTMX)
    plain = client.post(delete_url(card), follow=True)

    message = "Learners have answered this card, so it is kept: edit it instead."
    assert refused.status_code == 409
    assert refused.text.lstrip().startswith(f'<li class="card-row" id="card-{card.pk}">')
    assert message in refused.text
    assert plain.redirect_chain == [(deck_url(deck), 302)]
    assert message in plain.text
    assert (snapshot(), history()) == before


def test_staff_delete_a_curated_card_nobody_answered(staff, deck):
    card = deck.cards.get(position=1)
    assert logged_in(staff).post(delete_url(card), **HTMX).status_code == 200
    assert not Card.objects.filter(pk=card.pk).exists()


def test_editing_a_card_keeps_every_learners_memory_and_history(
    learner, other_learner, staff, deck
):
    card = deck.cards.get(position=1)
    answer(logged_in(learner), deck, card, scheduling.GOOD)
    answer(logged_in(other_learner), deck, card, scheduling.AGAIN)
    answer(logged_in(other_learner), deck, card, scheduling.GOOD, reps=1)
    before = history()
    assert len(before[0]) == 2 and len(before[1]) == 3

    response = logged_in(staff).post(
        edit_url(card), {"front": "Front one, rewritten", "back": "A better back"}, **HTMX
    )
    logged_in(staff).post(
        edit_url(card, from_study=True), {"front": "Front one, again", "back": "Back"}, **HTMX
    )

    assert response.status_code == 200
    card.refresh_from_db()
    assert (card.front, card.pk) == ("Front one, again", before[0][0]["card_id"])
    assert history() == before


# Editing from the study screen.


def test_an_editor_sees_an_edit_link_on_the_study_screen_and_a_learner_does_not(
    learner, staff, deck
):
    card = deck.cards.get(position=1)
    link = f'data-key="e"\n       href="{edit_url(card, True)}"'

    assert link in logged_in(staff).get(study_url(deck)).text
    assert "<kbd>E</kbd> edit" in logged_in(staff).get(study_url(deck)).text
    learner_page = logged_in(learner).get(study_url(deck)).text
    assert 'data-key="e"' not in learner_page and "Edit card" not in learner_page


def test_the_owner_of_a_private_deck_edits_from_the_study_screen_too(learner, private_deck):
    assert 'data-key="e"' in logged_in(learner).get(study_url(private_deck)).text


def test_editing_from_the_study_screen_returns_the_same_card(learner, staff, deck):
    third = deck.cards.get(position=3)
    client = logged_in(staff)
    assert client.get(study_url(deck), {"card": third.pk}).context["card"] == third

    form = client.get(edit_url(third, True), **HTMX)

    assert form.status_code == 200 and "<html" not in form.text
    assert "Edit this card" in form.text
    assert f'hx-post="{edit_url(third, True)}"' in form.text
    assert 'hx-target="#study" hx-swap="innerHTML"' in form.text
    assert "Front 3</textarea>" in form.text

    saved = client.post(edit_url(third, True), {"front": "Front 3", "back": "A new back"}, **HTMX)

    assert saved.status_code == 200 and "<html" not in saved.text
    assert saved.context["card"] == third
    assert '<p class="notice" role="alert">Card saved.</p>' in saved.text
    assert card_side(saved.text, "front") == "<p>Front 3</p>"
    assert "Front 1" not in saved.text
    revealed = client.get(reverse("flashcards:reveal", args=[deck.slug, third.pk]), **HTMX)
    assert card_side(revealed.text, "back") == "<p>A new back</p>"


def test_a_changed_front_is_shown_after_saving_from_the_study_screen(staff, deck):
    second = deck.cards.get(position=2)

    saved = logged_in(staff).post(
        edit_url(second, True), {"front": "Front *2*", "back": "Back 2"}, **HTMX
    )

    assert card_side(saved.text, "front") == "<p>Front <em>2</em></p>"
    assert "Card saved." in saved.text


def test_cancelling_an_edit_on_the_study_screen_returns_the_same_card(staff, deck):
    second = deck.cards.get(position=2)
    response = logged_in(staff).get(row_url(second, True), **HTMX)
    assert response.status_code == 200 and "<html" not in response.text
    assert response.context["card"] == second
    assert "Card saved." not in response.text


def test_a_refused_edit_on_the_study_screen_keeps_the_form_there(staff, deck):
    second = deck.cards.get(position=2)

    response = logged_in(staff).post(
        edit_url(second, True), {"front": "Front 1", "back": "Back 2"}, **HTMX
    )

    assert response.status_code == 400
    assert DUPLICATE in response.text
    assert 'hx-target="#study"' in response.text


def test_saving_from_the_study_screen_without_javascript_redirects_to_the_same_card(staff, deck):
    second = deck.cards.get(position=2)

    response = logged_in(staff).post(
        edit_url(second, True), {"front": "Front 2", "back": "Plain back"}, follow=True
    )

    assert response.redirect_chain == [(f"{study_url(deck)}?card={second.pk}", 302)]
    assert response.context["card"] == second


def test_saving_from_the_study_screen_without_javascript_says_the_card_was_saved(staff, deck):
    second = deck.cards.get(position=2)

    response = logged_in(staff).post(
        edit_url(second, True), {"front": "Front 2", "back": "Plain back"}, follow=True
    )

    assert "Card saved." in response.text


def test_editing_an_answered_card_on_the_study_screen_keeps_its_memory(staff, deck):
    card = deck.cards.get(position=1)
    client = logged_in(staff)
    answer(client, deck, card, scheduling.AGAIN)
    before = history()

    saved = client.post(edit_url(card, True), {"front": "Front 1", "back": "Again back"}, **HTMX)

    assert saved.context["card"] == card
    assert saved.context["reps"] == 1
    assert history() == before


# The admin's reset of a card's progress.


def test_the_admin_reset_makes_a_reviewed_card_new_and_keeps_its_history(learner, deck):
    card = deck.cards.get(position=1)
    with time_machine.travel(DAY_ONE, tick=False):
        answer(logged_in(learner), deck, card, scheduling.EASY)
    memory = Memory.objects.get(user=learner, card=card)
    assert memory.state == scheduling.REVIEW
    with time_machine.travel(memory.due + timedelta(hours=1), tick=False):
        answer(logged_in(learner), deck, card, scheduling.GOOD, reps=1)
    memory.refresh_from_db()
    assert (memory.state, memory.reps) == (scheduling.REVIEW, 2)
    kept = list(Review.objects.order_by("number").values())
    later = memory.due + timedelta(days=1)
    superuser = make_user(is_staff=True, is_superuser=True)

    with time_machine.travel(later, tick=False):
        response = logged_in(superuser).post(
            reverse("admin:flashcards_card_changelist"),
            {"action": "reset_progress", "_selected_action": [card.pk]},
            follow=True,
        )

        assert "1 learner memory reset; their history is kept." in response.text
        memory.refresh_from_db()
        assert (memory.state, memory.reps, memory.lapses) == (scheduling.NEW, 2, 0)
        assert memory.stability is None and memory.last_review is None
        assert list(Review.objects.order_by("number").values()) == kept

        queue = study_queue(learner, deck, later, profile_for(learner))
        assert queue.counts() == {
            "new": 3,
            "learning": 0,
            "due": 0,
            "more_new": False,
            "more_due": False,
        }
        # The reset card is new again, and the page asks for its kept review count.
        assert queue.next_card() == (card, memory)
        client = logged_in(learner)
        page = client.get(study_url(deck))
        assert page.context["card"] == card
        assert page.context["counts"]["new"] == 3
        assert '<input type="hidden" name="reps" value="2">' in page.text

        response = answer(client, deck, card, scheduling.GOOD, reps=2)

    assert response.status_code == 200
    assert "already answered" not in response.text
    newest = Review.objects.order_by("-number").first()
    assert (newest.number, newest.state_before, newest.rating) == (3, scheduling.NEW, 3)
    assert list(Review.objects.order_by("number").values())[:2] == kept
    memory.refresh_from_db()
    assert (memory.state, memory.reps) == (scheduling.LEARNING, 3)


def test_the_admin_reset_leaves_other_cards_and_learners_without_memory_alone(learner, deck):
    first, second, _ = deck.cards.order_by("position")
    with time_machine.travel(DAY_ONE, tick=False):
        client = logged_in(learner)
        answer(client, deck, first, scheduling.EASY)
        answer(client, deck, second, scheduling.EASY)
    untouched = Memory.objects.filter(card=second).values().get()
    superuser = make_user(is_staff=True, is_superuser=True)

    logged_in(superuser).post(
        reverse("admin:flashcards_card_changelist"),
        {"action": "reset_progress", "_selected_action": [first.pk, deck.cards.get(position=3).pk]},
    )

    assert Memory.objects.filter(card=second).values().get() == untouched
    assert Memory.objects.get(card=first).state == scheduling.NEW
    assert Memory.objects.count() == 2


def test_a_learner_cannot_reset_progress_through_the_admin(learner, deck):
    card = deck.cards.get(position=1)
    answer(logged_in(learner), deck, card, scheduling.GOOD)
    before = history()

    logged_in(learner).post(
        reverse("admin:flashcards_card_changelist"),
        {"action": "reset_progress", "_selected_action": [card.pk]},
    )

    assert history() == before


# Markdown: math, code, tables and images render; no script comes through.

RICH_FRONT = "What is $a^2+b^2$?"
RICH_BACK = """It is $c^2$, for a right triangle.

```python
print("<b>hi</b>")
```

| side | length |
|:----:|-------:|
| a    | 3      |

![triangle](https://example.com/triangle.png)

It costs $5 and $6."""


def expect_rich_markup(html):
    assert '<math display="inline"><mrow><msup><mi>a</mi><mn>2</mn></msup>' in html
    assert '<pre tabindex="0"><code class="language-python">print("&lt;b&gt;hi&lt;/b&gt;")' in html
    assert '<th style="text-align:center">side</th>' in html
    assert '<td style="text-align:right">3</td>' in html
    assert '<img src="https://example.com/triangle.png" alt="triangle">' in html
    assert "It costs $5 and $6." in html


def test_math_code_tables_and_images_render_on_the_deck_and_study_pages(learner):
    deck = make_deck("Geometry", cards=0)
    card = Card.objects.create(deck=deck, front=RICH_FRONT, back=RICH_BACK, position=1)
    client = logged_in(learner)

    deck_page = client.get(deck_url(deck)).text
    question = client.get(study_url(deck)).text
    revealed = client.get(reverse("flashcards:reveal", args=[deck.slug, card.pk])).text
    preview = client.post(
        reverse("flashcards:markdown_preview"), {"front": RICH_FRONT, "back": RICH_BACK}, **HTMX
    ).text

    for html in (deck_page, revealed, preview):
        expect_rich_markup(html)
        assert '<math display="inline"><mrow><msup><mi>c</mi>' in html
    assert '<math display="inline"><mrow><msup><mi>a</mi><mn>2</mn></msup>' in question
    # The back is on the page before it is revealed, but hidden.
    assert "triangle.png" in question.split('<div class="answer-side" hidden>', 1)[1]


def test_the_preview_renders_what_is_typed_as_a_fragment(learner):
    response = logged_in(learner).post(
        reverse("flashcards:markdown_preview"), {"front": "**F**", "back": "$$x$$"}, **HTMX
    )

    assert response.status_code == 200
    assert "<html" not in response.text
    assert '<div class="front"><p><strong>F</strong></p>' in response.text
    assert '<math display="block">' in response.text


XSS = [
    "<script>alert('xss')</script>",
    '<img src="x" onerror="alert(1)">',
    "[click me](javascript:alert(2))",
    '<a href="javascript:alert(3)">link</a>',
    '<a href="JaVaScRiPt&colon;alert(4)">link</a>',
    '<a href="vbscript:msgbox(5)">link</a>',
    '<svg onload="alert(6)"><circle r="1"/></svg>',
    '<div style="width: expression(alert(7))">styled</div>',
    '<style>body { background: url("javascript:alert(8)") }</style>',
    '<iframe src="https://evil.example/"></iframe>',
    '<math href="javascript:alert(9)"><mi>x</mi></math>',
    '<math><mi xlink:href="javascript:alert(10)">x</mi></math>',
    "$\\href{javascript:alert(11)}{x}$",
    '<img src="data:image/svg+xml,<svg onload=alert(12)>">',
    '<details open ontoggle="alert(13)">d</details>',
    '<table><tr><td style="text-align:left;background:url(javascript:alert(14))">c</td></tr>'
    "</table>",
    '<div hx-post="/decks/evil/delete/" hx-trigger="load">htmx</div>',
    '<span hx-on:click="alert(15)" data-key="e">e</span>',
    '<form action="https://evil.example/"><button>go</button></form>',
    '<object data="https://evil.example/x.swf"></object><embed src="https://evil.example/">',
    '<meta http-equiv="refresh" content="0;url=https://evil.example/">',
    '<base href="https://evil.example/">',
]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def unsafe_markup(html):
    """Markup in a page that could run script or act for the learner: none of it is ours."""
    parser = _Tags()
    parser.feed(html)
    found = []
    for tag, attrs in parser.tags:
        attributes = dict(attrs)
        if tag in {"iframe", "object", "embed", "svg", "style", "base", "frame", "details"}:
            found.append(tag)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            found.append(tag)
        if tag == "meta" and "http-equiv" in attributes:
            found.append("meta http-equiv")
        if tag == "form" and not (attributes.get("action") or "").startswith("/"):
            found.append("form to elsewhere")
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on") or name.startswith("hx-on"):
                found.append(f"{tag} {name}")
            if name == "style" and not re.fullmatch(r"text-align:\s*(left|center|right)", value):
                found.append(f"{tag} style={value}")
            if name == "aria-label":  # Card text read aloud, not markup.
                continue
            if re.search(r"(?i)javascript|vbscript|^data:|alert\(|evil", value):
                found.append(f"{tag} {name}={value}")
    return found


def test_the_safety_check_finds_unsafe_markup():
    assert unsafe_markup('<img src="x" onerror="alert(1)">') == [
        "img onerror",
        "img onerror=alert(1)",
    ]
    assert unsafe_markup('<a href="javascript:x">') == ["a href=javascript:x"]
    assert unsafe_markup("<script>x</script>") == ["script"]
    assert unsafe_markup('<script src="/static/study.js"></script>') == []


@pytest.mark.parametrize("payload", XSS)
def test_no_script_in_a_card_comes_through_on_any_page(learner, payload):
    curated = make_deck("Curated", cards=0)
    private = make_deck("Private", cards=0, owner=learner)
    cards = [
        Card.objects.create(deck=each, front=f"Q {payload}", back=payload, position=1)
        for each in (curated, private)
    ]
    client = logged_in(learner)

    pages = {
        "deck page": client.get(deck_url(curated)),
        "editor's deck page": client.get(deck_url(private)),
        "edit form": client.get(edit_url(cards[1]), **HTMX),
        "study question": client.get(study_url(curated)),
        "study answer": client.get(reverse("flashcards:reveal", args=[curated.slug, cards[0].pk])),
        "study edit": client.get(edit_url(cards[1], True), **HTMX),
        "preview": client.post(
            reverse("flashcards:markdown_preview"), {"front": payload, "back": payload}, **HTMX
        ),
    }

    for name, response in pages.items():
        assert response.status_code == 200, name
        assert unsafe_markup(response.text) == [], name
    assert "Q " in pages["deck page"].text


# A large deck's page: stored HTML, a hundred cards a page.


def test_a_large_deck_is_shown_a_hundred_cards_a_page_with_links_between_pages(learner):
    deck = make_deck("Large", cards=250, owner=learner)
    client = logged_in(learner)

    first = client.get(deck_url(deck))
    last = client.get(deck_url(deck), {"page": 3})

    assert shown_fronts(first.text) == [f"Front {n}" for n in range(1, 101)]
    assert shown_fronts(last.text) == [f"Front {n}" for n in range(201, 251)]
    assert "250 cards" in first.text and '<ol class="card-list" start="201">' in last.text
    assert '<nav class="pagination" aria-label="Pages of cards">' in first.text
    assert f'href="{deck_url(deck)}?page=2" class="button small" rel="next"' in first.text
    assert f'href="{deck_url(deck)}?page=2" class="button small" rel="prev"' in last.text
    assert 'aria-current="page">Page 3 of 3<' in last.text
    assert shown_fronts(client.get(deck_url(deck), {"page": "99"}).text) == shown_fronts(last.text)


def test_a_small_deck_has_no_page_links(learner, private_deck):
    assert "pagination" not in logged_in(learner).get(deck_url(private_deck)).text


def test_the_deck_page_shows_stored_html_and_renders_no_markdown(learner, monkeypatch):
    deck = make_deck("Stored", cards=0, owner=learner)
    for n in range(1, 4):
        Card.objects.create(deck=deck, front=f"*Front* {n}", back="$x$", position=n)

    def refuse(text):
        # The empty preview beside the editor's empty form is all there is to render.
        assert not text, "the deck page rendered a card's Markdown"
        return ""

    monkeypatch.setattr("flashcards.models.render_markdown", refuse)
    monkeypatch.setattr("flashcards.templatetags.flashcards.render_markdown", refuse)
    response = logged_in(learner).get(deck_url(deck))

    assert response.status_code == 200
    assert response.text.count("<em>Front</em>") == 3 and response.text.count("<math") == 3


def test_the_deck_page_makes_as_many_queries_for_ten_thousand_cards_as_for_three(
    learner, private_deck
):
    large = make_deck("Large", cards=10_000, owner=learner)
    client = logged_in(learner)
    client.get(deck_url(private_deck))

    with CaptureQueriesContext(connection) as small_page:
        client.get(deck_url(private_deck))
    with CaptureQueriesContext(connection) as large_page:
        client.get(deck_url(large))

    assert len(large_page) == len(small_page)


def test_moving_a_card_across_a_page_boundary_shows_the_page_it_moved_to(learner):
    deck = make_deck("Large", cards=150, owner=learner)
    client = logged_in(learner)
    first_of_page_two = deck.cards.get(position=101)
    last_of_page_one = deck.cards.get(position=100)

    response = client.post(move_url(first_of_page_two, "up"), **HTMX)

    assert len(shown_fronts(response.text)) == 100
    assert shown_fronts(response.text)[-2:] == ["Front 99", "Front 101"]

    response = client.post(move_url(last_of_page_one, "down"))

    assert response["Location"] == f"{deck_url(deck)}?page=2#card-{last_of_page_one.pk}"


def test_deleting_a_card_on_a_later_page_returns_that_page(learner):
    deck = make_deck("Large", cards=150, owner=learner)
    client = logged_in(learner)

    response = client.post(delete_url(deck.cards.get(position=120)), **HTMX)
    redirect = client.post(delete_url(deck.cards.get(position=130)))

    assert shown_fronts(response.text)[:20] == [f"Front {n}" for n in range(101, 120)] + [
        "Front 121"
    ]
    assert redirect["Location"] == f"{deck_url(deck)}?page=2"


def test_adding_a_card_to_a_large_deck_shows_the_last_page_with_it(learner):
    deck = make_deck("Large", cards=150, owner=learner)

    response = logged_in(learner).post(
        create_url(deck), {"front": "Front 151", "back": "New"}, **HTMX
    )

    assert shown_fronts(response.text)[-2:] == ["Front 150", "Front 151"]
    assert 'aria-current="page">Page 2 of 2<' in response.text
