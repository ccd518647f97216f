"""What the page templates send: each page's own scripts, the CSRF token once per page, and one
markup for a deck's counts."""

import json
import re

import pytest
from django.test import Client
from django.urls import reverse

from flashcards.models import Review

HTMX = {"HTTP_HX_REQUEST": "true"}


def logged_in(user, **kwargs):
    client = Client(**kwargs)
    client.force_login(user)
    return client


def study_url(deck):
    return reverse("flashcards:study", args=[deck.slug])


def answer_url(deck):
    return reverse("flashcards:answer", args=[deck.slug])


def form(html, css_class):
    """The first <form> of that class, whole."""
    return re.search(rf'<form class="{css_class}".*?</form>', html, re.DOTALL).group(0)


def fields(form_html):
    """The hidden inputs of a form, as data to post."""
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form_html))


def header_token(html):
    return json.loads(re.search(r"<body[^>]*\shx-headers='([^']+)'", html).group(1))["X-CSRFToken"]


# Scripts.


def test_the_study_script_is_loaded_by_the_study_page_alone(learner, deck):
    client = logged_in(learner)
    study = client.get(study_url(deck)).text
    assert study.count("study.js") == 1
    for path in (
        reverse("flashcards:deck_list"),
        reverse("flashcards:deck_detail", args=[deck.slug]),
        reverse("flashcards:progress"),
        reverse("flashcards:settings"),
    ):
        assert "study.js" not in client.get(path).text, path
    assert "study.js" not in Client().get(reverse("login")).text


def test_the_reveal_page_without_javascript_loads_the_study_script_in_the_head(learner, deck):
    card = deck.cards.get(position=1)
    page = logged_in(learner).get(reverse("flashcards:reveal", args=[deck.slug, card.pk])).text
    head = page.split("</head>")[0]
    assert head.count("study.js") == 1


def test_the_progress_page_loads_its_charts_script_in_the_head(learner):
    page = logged_in(learner).get(reverse("flashcards:progress")).text
    assert page.split("</head>")[0].count("charts.js") == 1
    assert "charts.js" not in page.split("</head>")[1]


# The CSRF token: once per page for htmx, in each form for a page without script.


def test_the_study_page_without_javascript_has_the_token_in_each_of_its_forms(learner, deck):
    client = logged_in(learner, enforce_csrf_checks=True)
    first = client.get(study_url(deck)).text
    answer = fields(form(first, "ratings"))
    assert "csrfmiddlewaretoken" in answer
    answered = client.post(answer_url(deck), {**answer, "rating": 3})
    assert answered.status_code == 302
    page = client.get(answered["Location"]).text
    undo = fields(form(page, "undo"))
    assert "csrfmiddlewaretoken" in undo
    assert "csrfmiddlewaretoken" in fields(form(page, "ratings"))
    undone = client.post(reverse("flashcards:undo", args=[deck.slug]), undo)
    assert undone.status_code == 302
    assert not Review.objects.filter(user=learner).exists()


def test_the_htmx_fragment_carries_no_token_and_its_forms_post_with_the_pages_header(learner, deck):
    client = logged_in(learner, enforce_csrf_checks=True)
    page = client.get(study_url(deck)).text
    token = header_token(page)
    answer = {**fields(form(page, "ratings")), "rating": 3}
    del answer["csrfmiddlewaretoken"]
    fragment = client.post(answer_url(deck), answer, HTTP_X_CSRFTOKEN=token, **HTMX)
    assert fragment.status_code == 200
    assert "csrfmiddlewaretoken" not in fragment.text
    assert "<body" not in fragment.text
    assert Review.objects.filter(user=learner).count() == 1

    undo = fields(form(fragment.text, "undo"))
    assert "review" in undo
    refused = client.post(reverse("flashcards:undo", args=[deck.slug]), undo, **HTMX)
    assert refused.status_code == 403
    undone = client.post(
        reverse("flashcards:undo", args=[deck.slug]), undo, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    assert undone.status_code == 200
    assert "csrfmiddlewaretoken" not in undone.text
    assert not Review.objects.filter(user=learner).exists()


# Counts.


def counts_markup(html):
    return re.findall(r'<dl class="counts".*?</dl>', html, re.DOTALL)


@pytest.mark.parametrize("htmx", [False, True])
def test_the_deck_list_and_the_study_screen_show_a_decks_counts_with_the_same_markup(
    learner, deck, htmx
):
    client = logged_in(learner)
    listed = counts_markup(client.get(reverse("flashcards:deck_list")).text)
    studied = counts_markup(client.get(study_url(deck), **(HTMX if htmx else {})).text)
    assert len(listed) == len(studied) == 1
    assert listed == studied
    assert re.findall(r"<dt>(\w+)</dt><dd>(\d+)</dd>", studied[0]) == [
        ("New", "3"),
        ("Learning", "0"),
        ("Due", "0"),
    ]
