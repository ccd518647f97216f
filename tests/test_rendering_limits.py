"""Card text that could stall the renderer is refused, everywhere it can come in."""

import pytest
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from flashcards import rendering
from flashcards.admin import CardInline
from flashcards.forms import CardForm
from flashcards.management.commands.prepare_local import SOURCE_FIXTURE, render_stored_html
from flashcards.models import Card, Deck
from flashcards.rendering import MarkdownRefused, check_markdown, render_markdown
from tests.conftest import make_deck, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}
LONG_SIDE = "a" * (rendering.MAX_SIDE_CHARS + 1)
LONG_SIDE_REFUSAL = "The back is 10,001 characters long; a card side may hold at most 10,000."


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def table(columns, rows):
    return "|" + "a|" * columns + "\n|" + "-|" * columns + "\n" + "|\n" * rows


@pytest.fixture
def renders(monkeypatch):
    """The texts that reach the Markdown parser, in order."""
    parsed = []
    parse = rendering._markdown.render

    def counting(text, *args, **kwargs):
        parsed.append(text)
        return parse(text, *args, **kwargs)

    monkeypatch.setattr(rendering._markdown, "render", counting)
    return parsed


def test_a_side_beyond_the_character_limit_is_refused_naming_the_side_and_the_limit():
    with pytest.raises(MarkdownRefused) as refusal:
        check_markdown(LONG_SIDE, "The back")

    assert str(refusal.value) == LONG_SIDE_REFUSAL


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<ul><li>" * 501, "The front has 1,002 HTML tags; a card side may hold at most 1,000."),
        ("[" * 1001, "The front has 1,001 “[” brackets; a card side may hold at most 1,000."),
        ("$x$ " * 201, "The front has 402 “$” signs; a card side may hold at most 400."),
        (table(50, 120), "The front has 6,050 table cells; a card side may hold at most 5,000."),
        # Rows padded to a wide header count as much inside a quote or a list.
        ("> " + table(50, 120).replace("\n", "\n> "), "The front has 6,100 table cells"),
        ("1. " + table(50, 120).replace("\n", "\n   "), "The front has 6,050 table cells"),
    ],
)
def test_text_whose_rendering_grows_faster_than_its_length_is_refused(text, message):
    with pytest.raises(MarkdownRefused, match=message.replace("$", r"\$").replace("[", r"\[")):
        check_markdown(text, "The front")


@pytest.mark.parametrize(
    "text",
    [
        "<ul><li>" * 500,
        "<div>" * 1000,
        "[a](" * 1000,
        "$x$ " * 200,
        table(49, 100),
        ">" * 10_000,
        "".join("  " * depth + "- item\n" for depth in range(60)),
        "*a" * 5_000,
    ],
)
def test_text_at_the_limits_is_accepted_and_rendered(text, renders):
    check_markdown(text, "The back")

    assert render_markdown(text)
    assert renders == [text]


def test_the_probes_pathological_inputs_are_refused_without_being_parsed(renders):
    probes = [
        "<ul><li>" * 80_000,
        "<div>" * 100_000,
        "&amp;" * 1_000_000,
        "$$" + "x+" * 500_000 + "$$",
        table(20_000, 1),
        "*" * 1_000_000,
    ]
    for text in probes:
        with pytest.raises(MarkdownRefused):
            check_markdown(text, "The back")
        assert render_markdown(text).startswith('<pre tabindex="0">')

    assert renders == []


def test_text_beyond_the_limits_is_shown_escaped_as_written():
    text = "<script>x</script>" * 1000

    escaped = "&lt;script&gt;x&lt;/script&gt;" * 1000
    assert render_markdown(text) == f'<pre tabindex="0">{escaped}</pre>\n'


def test_rendering_keeps_nothing_between_calls(renders):
    render_markdown("**same**")
    render_markdown("**same**")

    assert renders == ["**same**", "**same**"]


def test_a_card_beyond_the_limits_does_not_pass_its_model_validation(deck):
    card = Card(deck=deck, front="[" * 1001, back=LONG_SIDE, position=9)

    with pytest.raises(ValidationError) as refusal:
        card.full_clean()

    assert refusal.value.message_dict == {
        "front": ["The front has 1,001 “[” brackets; a card side may hold at most 1,000."],
        "back": [LONG_SIDE_REFUSAL],
    }


def test_the_editor_refuses_a_side_beyond_the_limits_with_the_reason(db):
    learner = make_user()
    deck = make_deck("Mine", owner=learner)
    form = CardForm({"front": "Fine", "back": LONG_SIDE}, deck=deck)

    assert not form.is_valid()
    assert form.errors["back"] == [LONG_SIDE_REFUSAL]

    response = logged_in(learner).post(
        reverse("flashcards:card_create", args=[deck.slug]), {"front": "F", "back": LONG_SIDE}
    )

    assert response.status_code == 400
    assert LONG_SIDE_REFUSAL in response.text
    assert not deck.cards.filter(front="F").exists()


def test_the_preview_shows_the_refusal_and_renders_only_the_side_within_the_limits(db, renders):
    response = logged_in(make_user()).post(
        reverse("flashcards:markdown_preview"), {"front": "**F**", "back": LONG_SIDE}, **HTMX
    )

    assert response.status_code == 200
    assert f'role="alert"><p>{LONG_SIDE_REFUSAL}</p>' in response.text
    assert "<strong>F</strong>" in response.text and "aaaa" not in response.text
    assert renders == ["**F**", ""]


def test_a_preview_request_too_long_for_any_card_is_refused_before_it_is_read(db, renders):
    response = logged_in(make_user()).post(
        reverse("flashcards:markdown_preview"), {"back": "a" * 300_000}, **HTMX
    )

    assert response.status_code == 200
    assert "This card is too long to preview" in response.text
    assert renders == ["", ""]


def test_a_preview_request_whose_length_is_no_number_is_refused_not_an_error(db, renders):
    response = logged_in(make_user()).post(
        reverse("flashcards:markdown_preview"), {"back": "**B**"}, CONTENT_LENGTH="12abc", **HTMX
    )

    assert response.status_code == 200
    assert "This card is too long to preview" in response.text
    assert renders == ["", ""]


def test_form_text_beyond_a_megabyte_is_refused_before_any_view_or_csrf_check_parses_it(
    db, renders
):
    # Without the CSRF header the middleware reads the form: the size limit must come first.
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    client.get(reverse("flashcards:deck_list"))  # a CSRF cookie, as any visitor has
    assert "csrftoken" in client.cookies
    response = client.post(reverse("flashcards:markdown_preview"), {"back": "&amp;" * 250_000})

    assert response.status_code == 400
    assert "larger than the server accepts" in response.text
    assert renders == []


def test_the_admin_refuses_a_card_beyond_the_limits(db):
    staff = make_user(is_staff=True, is_superuser=True)
    deck = make_deck("Curated")

    response = logged_in(staff).post(
        reverse("admin:flashcards_card_add"),
        {"deck": deck.pk, "front": "New", "back": LONG_SIDE, "position": 9, "tags": ""},
    )

    assert response.status_code == 200
    assert LONG_SIDE_REFUSAL in response.text
    assert not Card.objects.filter(front="New").exists()


def test_the_admins_inline_of_a_decks_cards_refuses_a_card_beyond_the_limits(db):
    deck = make_deck("Curated", cards=0)
    request = RequestFactory().get("/")
    request.user = make_user(is_staff=True, is_superuser=True)
    formset_class = CardInline(Deck, admin.site).get_formset(request, deck)
    data = {
        "cards-TOTAL_FORMS": "1",
        "cards-INITIAL_FORMS": "0",
        "cards-0-position": "1",
        "cards-0-front": "New",
        "cards-0-back": LONG_SIDE,
    }

    formset = formset_class(data, instance=deck, prefix="cards")

    assert not formset.is_valid()
    assert formset.errors[0]["back"] == [LONG_SIDE_REFUSAL]


def test_the_source_decks_cards_are_rendered_once_after_loading(db):
    call_command("loaddata", SOURCE_FIXTURE, verbosity=0)
    assert Card.objects.filter(front_html="").exists()

    assert render_stored_html() == Card.objects.count()

    assert not Card.objects.filter(front_html="").exists()
    card = Card.objects.first()
    assert card.front_html == render_markdown(card.front)
    assert render_stored_html() == 0


def test_the_source_deck_is_within_the_limits(db):
    call_command("loaddata", SOURCE_FIXTURE, verbosity=0)

    for card in Card.objects.all():
        card.full_clean()
