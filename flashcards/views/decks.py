"""The deck list, and authoring: decks and their cards, edited in place, and exported to
files."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget

from flashcards import exports
from flashcards.forms import CardForm, DeckForm
from flashcards.models import (
    Card,
    Deck,
    Memory,
    MemorySnapshot,
    NewCardCursor,
    Review,
    StudyDayTotal,
    profile_for,
)
from flashcards.queue import study_queue
from flashcards.rendering import MAX_SIDE_CHARS, MarkdownRefused, check_markdown
from flashcards.views.access import get_deck_for_editor, get_deck_for_user
from flashcards.views.study import available_card, render_study, study_context


@require_GET
def deck_list(request):
    decks = list(
        Deck.objects.listed_for(request.user).annotate(card_count=Count("cards")).order_by("title")
    )
    if request.user.is_authenticated:
        profile = profile_for(request.user)
        now = timezone.now()
        for deck in decks:
            deck.counts = study_queue(request.user, deck, now, profile).counts()
    return render(request, "flashcards/deck_list.html", {"decks": decks})


@login_required
@require_http_methods(["GET", "POST"])
def deck_create(request):
    form = DeckForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        deck = form.save(commit=False)
        curated = request.user.is_staff and form.cleaned_data.get("curated")
        deck.owner = None if curated else request.user
        deck.save()
        messages.success(request, f"Created “{deck.title}”. Add its first card below.")
        return redirect("flashcards:deck_detail", slug=deck.slug)
    return render(request, "flashcards/deck_form.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def deck_edit(request, slug):
    deck = get_deck_for_editor(request.user, slug)
    form = DeckForm(request.POST or None, instance=deck, user=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Deck saved.")
        return redirect("flashcards:deck_detail", slug=deck.slug)
    return render(request, "flashcards/deck_form.html", {"form": form, "deck": deck})


@login_required
@require_POST
def deck_delete(request, slug):
    deck = get_deck_for_editor(request.user, slug)
    learners = Memory.objects.filter(deck=deck).exclude(user=deck.owner_id).exists()
    if deck.owner_id is None and learners:
        messages.error(
            request, "Learners have studied this deck; unpublish it instead of deleting it."
        )
        return redirect("flashcards:deck_detail", slug=deck.slug)
    with transaction.atomic():
        Review.objects.filter(deck=deck).delete()
        deck.delete()
    messages.success(request, f"Deleted “{deck.title}”.")
    return redirect("flashcards:deck_list")


CARDS_PER_PAGE = 100


def _deck_context(request, deck, form=None, page=None):
    editable = deck.editable_by(request.user)
    cards = Paginator(deck.cards.order_by("position", "id"), CARDS_PER_PAGE)
    return {
        "deck": deck,
        "page": cards.get_page(page or request.GET.get("page")),
        "editable": editable,
        "form": form or (CardForm(deck=deck) if editable else None),
    }


def _page_of(card):
    """The page of its deck's list that shows the card."""
    before = card.deck.cards.filter(
        Q(position__lt=card.position) | Q(position=card.position, pk__lt=card.pk)
    )
    return before.count() // CARDS_PER_PAGE + 1


def _deck_page_url(deck, page, card=None):
    url = reverse("flashcards:deck_detail", args=[deck.slug])
    if page > 1:
        url += f"?page={page}"
    return f"{url}#card-{card.pk}" if card else url


@login_required
@require_GET
def deck_detail(request, slug):
    deck = get_deck_for_user(request.user, slug)
    return render(request, "flashcards/deck_detail.html", _deck_context(request, deck))


def _render_cards(request, deck, form=None, status=200, *, fresh_form=False, page=None):
    """The deck's page, or for htmx its list of cards (and, after an add, an empty form)."""
    context = _deck_context(request, deck, form, page)
    if not request.htmx:
        return render(request, "flashcards/deck_detail.html", context, status=status)
    html = render_to_string("flashcards/deck_detail.html#cards", context, request)
    if fresh_form:
        html += render_to_string(
            "flashcards/deck_detail.html#add_card", {**context, "oob": True}, request
        )
    return HttpResponse(html, status=status)


@login_required
@require_POST
def card_create(request, slug):
    deck = get_deck_for_editor(request.user, slug)
    form = CardForm(request.POST, deck=deck)
    if not form.is_valid():
        if not request.htmx:
            return _render_cards(request, deck, form, status=400)
        context = _deck_context(request, deck, form)
        response = render(request, "flashcards/deck_detail.html#add_card", context, status=400)
        return reswap(retarget(response, "#add-card"), "outerHTML")
    card = form.save(commit=False)
    card.deck, card.position = deck, deck.next_position()
    card.save()
    if not request.htmx:
        messages.success(request, "Card added.")
        return redirect(_deck_page_url(deck, _page_of(card), card))
    return _render_cards(request, deck, fresh_form=True, page=_page_of(card))


def _get_card_for_editor(user, card_id):
    card = get_object_or_404(Card.objects.select_related("deck"), pk=card_id)
    get_deck_for_editor(user, card.deck.slug)
    return card


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def card_edit(request, card_id):
    """Edit a card in place: in the deck's list, or on the study screen (?from=study)."""
    card = _get_card_for_editor(request.user, card_id)
    deck = card.deck
    from_study = request.GET.get("from") == "study"
    form = CardForm(request.POST or None, instance=card, deck=deck)
    if request.method == "POST" and form.is_valid():
        form.save()
        if from_study:
            if not request.htmx:
                messages.success(request, "Card saved.")
                study_url = reverse("flashcards:study", args=[deck.slug])
                return redirect(f"{study_url}?card={card.pk}")
            return _study_on_card(request, deck, card, message="Card saved.")
        if not request.htmx:
            messages.success(request, "Card saved.")
            return redirect("flashcards:deck_detail", slug=deck.slug)
        return render(
            request,
            "flashcards/deck_detail.html#card_row",
            {"card": card, "deck": deck, "editable": True},
        )
    context = {"card": card, "deck": deck, "form": form, "from_study": from_study}
    status = 400 if form.errors else 200
    if request.htmx:
        return render(request, "flashcards/card_form.html#edit_form", context, status=status)
    return render(request, "flashcards/card_form.html", context, status=status)


def _study_on_card(request, deck, card, message=""):
    shown, memory, queue = available_card(request, deck, card.pk)
    context = study_context(request, deck, queue, card=shown, memory=memory, message=message)
    return render_study(request, context)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def card_row(request, card_id):
    """A card's row in its deck's list: what "Cancel" returns to while editing."""
    card = _get_card_for_editor(request.user, card_id)
    if request.GET.get("from") == "study":
        return _study_on_card(request, card.deck, card)
    if not request.htmx:
        return redirect("flashcards:deck_detail", slug=card.deck.slug)
    context = {"card": card, "deck": card.deck, "editable": True}
    return render(request, "flashcards/deck_detail.html#card_row", context)


@login_required
@require_POST
def card_delete(request, card_id):
    card = _get_card_for_editor(request.user, card_id)
    deck = card.deck
    others = Review.objects.filter(card=card).exclude(user=deck.owner_id)
    if deck.owner_id is None and others.exists():
        message = "Learners have answered this card, so it is kept: edit it instead."
        if request.htmx:
            context = {"card": card, "deck": deck, "editable": True, "message": message}
            response = render(request, "flashcards/deck_detail.html#card_row", context, status=409)
            return reswap(retarget(response, f"#card-{card.pk}"), "outerHTML")
        messages.error(request, message)
        return redirect("flashcards:deck_detail", slug=deck.slug)
    # The cards after it move up by one: the page that showed it still shows its neighbours.
    page = _page_of(card)
    with transaction.atomic():
        # In a private deck the only history is the owner's, and they chose to delete the card.
        answered = Review.objects.filter(card=card)
        StudyDayTotal.forget(answered.values("user"))
        MemorySnapshot.forget(Memory.objects.filter(card=card).values("user"))
        answered.delete()
        card.delete()
    if request.htmx:
        return _render_cards(request, deck, page=page)
    messages.success(request, "Card deleted.")
    return redirect(_deck_page_url(deck, page))


@login_required
@require_POST
def card_move(request, card_id, direction):
    if direction not in ("up", "down"):
        raise Http404("Move a card up or down.")
    card = _get_card_for_editor(request.user, card_id)
    deck = card.deck
    with transaction.atomic():
        cards = list(deck.cards.select_for_update().order_by("position", "id"))
        index = next(n for n, each in enumerate(cards) if each.pk == card.pk)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(cards):
            cards[index], cards[other] = cards[other], cards[index]
            for position, each in enumerate(cards, start=1):
                if each.position != position:
                    Card.objects.filter(pk=each.pk).update(position=position)
            NewCardCursor.rewind_deck(deck)
    card.refresh_from_db(fields=["position"])
    page = _page_of(card)
    if request.htmx:
        return _render_cards(request, deck, page=page)
    return redirect(_deck_page_url(deck, page, card))


# Both sides at their limit, every character percent-encoded from four bytes of UTF-8, and
# room for the tags and the CSRF token: anything longer is refused before it is read.
PREVIEW_MAX_BYTES = 2 * MAX_SIDE_CHARS * 12 + 16_384


@login_required
@require_POST
def markdown_preview(request):
    """The card as its Markdown renders, for the live preview beside the editor."""
    # htmx swaps only a successful response: a refusal is shown in the preview with status 200.
    length = request.META.get("CONTENT_LENGTH") or "0"
    # A length that is no whole number is refused as one too long to read.
    if not (length.isascii() and length.isdigit()) or int(length) > PREVIEW_MAX_BYTES:
        refusal = (
            "This card is too long to preview; "
            f"a card side may hold at most {MAX_SIDE_CHARS:,} characters."
        )
        return render(request, "flashcards/card_preview.html", {"refusals": [refusal]})
    context = {"refusals": []}
    for side, label in (("front", "The front"), ("back", "The back")):
        text = request.POST.get(side, "")
        try:
            check_markdown(text, label)
        except MarkdownRefused as refusal:
            context["refusals"].append(str(refusal))
            text = ""
        context[side] = text
    return render(request, "flashcards/card_preview.html", context)


@login_required
@require_GET
def deck_export(request, slug, fmt):
    deck = get_deck_for_user(request.user, slug)
    if fmt not in exports.EXPORTS:
        return HttpResponse("Export as txt, csv or apkg.", status=404, content_type="text/plain")
    export, content_type, suffix = exports.EXPORTS[fmt]
    response = HttpResponse(export(deck), content_type=content_type)
    # Named after the title: a private deck's slug ends in a random token.
    response["Content-Disposition"] = (
        f'attachment; filename="{slugify(deck.title) or deck.slug}.{suffix}"'
    )
    return response
