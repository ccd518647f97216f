"""Accessibility in a real Chromium: axe-core on every page in both themes, the keyboard and the
page's semantics, phones, and screenshots to look at."""

import importlib.resources
import itertools
import re
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from flashcards import scheduling
from flashcards.models import Card, Profile, Review, profile_for
from flashcards.simulation import simulate
from tests.browser.conftest import DESKTOP, PHONE, StudyScreen, log_in
from tests.conftest import answer, make_deck, make_user, run_worker

pytestmark = pytest.mark.browser

# Read from the installed wheel, wherever the environment put it.
AXE_SOURCE = (importlib.resources.files("axe_playwright_python") / "axe.min.js").read_text()
THEMES = ["light", "dark"]
SIZES = {"phone": PHONE, "desktop": DESKTOP}
PHONE_DEVICE = {"viewport": PHONE, "is_mobile": True, "has_touch": True}
CSV = b"front,back,tags\nOsmosis,Water crossing a membrane,biology\nMitosis,Cell division,biology\n"
# Long prose, a list, a long link and identifier, a code line and math: what a back can hold.
LONG_BACK = "\n".join(
    [
        "A **convolutional layer** slides a small kernel over its input and sums the products at",
        "every position, so the same few weights detect one pattern wherever it appears; stacking",
        "such layers lets later ones combine edges into textures, textures into parts and parts",
        "into objects, with far fewer parameters than a fully connected layer would need.",
        "",
        "- Padding keeps the width: `output = (input + 2*padding - kernel) / stride + 1`",
        "- A stride above one downsamples, and an "
        + "extraordinarilylongidentifierwithoutanybreakopportunity" * 2
        + " must wrap.",
        "- Read more at https://en.wikipedia.org/wiki/Convolutional_neural_network"
        + "#Convolutional_layers_and_their_hyperparameters",
        "",
        "```",
        "torch.nn.Conv2d(in_channels=3, out_channels=64, kernel_size=3, stride=1, padding=1)",
        "```",
        "",
        "The receptive field grows with depth: $r_l = r_{l-1} + (k_l - 1) \\prod_{i<l} s_i$.",
    ]
)


def make_long_card_deck(owner):
    deck = make_deck("Convolutions", cards=0, owner=owner)
    Card.objects.create(deck=deck, front="What does a convolutional layer do?", back=LONG_BACK)
    return deck


@pytest.fixture
def world(source_deck):
    """A learner with a month of history, a newcomer, staff, and the decks they use."""
    learner = make_user("learner")
    cards = list(source_deck.cards.order_by("position"))
    simulate(learner, cards, profile_for(learner), end=timezone.now(), days=30, answers=240)
    newcomer = make_user("newcomer")
    staff = make_user("staff", is_staff=True)
    return SimpleNamespace(
        source=source_deck,
        learner=learner,
        newcomer=newcomer,
        staff=staff,
        own=make_deck("Geometry", cards=2, owner=learner),
        capitals=make_deck("Capitals", cards=1),
        answered_card=Review.objects.filter(user=learner).latest("reviewed_at").card,
    )


@pytest.fixture
def new_context(browser, browser_context_args):
    """new_context(theme, **options): a browser context closed at the end of the test.

    The theme is the system's colour scheme, which the site follows while its theme is "auto".
    """
    contexts = []

    def open_context(theme="light", **options):
        args = {**browser_context_args, "color_scheme": theme, **options}
        context = browser.new_context(**args)
        contexts.append(context)
        return context

    yield open_context
    for context in contexts:
        context.close()


# Each page or study state: who looks at it and how they get there.


def go(path):
    def visit(page, url, world):
        page.goto(url + path(world))

    return visit


def deck_editor_with_preview(page, url, world):
    page.goto(url + reverse("flashcards:deck_detail", args=[world.own.slug]))
    page.get_by_label("Front", exact=True).fill("Pythagoras")
    page.get_by_label("Back", exact=True).fill("In a right triangle, $a^2+b^2=c^2$, **always**.")
    expect(page.locator("#add-card .preview .back strong")).to_have_text("always")


def import_reading(page, url, world, name="biology.csv", data=CSV):
    page.goto(url + reverse("flashcards:import_upload"))
    page.get_by_label("File").set_input_files(
        {"name": name, "mimeType": "text/csv", "buffer": data}
    )
    page.get_by_role("button", name="Preview import").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Reading {name}…")


def import_preview(page, url, world):
    import_reading(page, url, world)
    run_worker()
    # The page asks every second whether the file has been read.
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: biology.csv")


def import_refused(page, url, world):
    import_reading(page, url, world, name="latin.csv", data="Café,Été\n".encode("latin-1"))
    run_worker()
    expect(page.get_by_role("heading", level=1)).to_have_text("latin.csv cannot be imported")


def import_writing(page, url, world):
    import_preview(page, url, world)
    page.get_by_role("button", name=re.compile(r"^Import \d+ card")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Importing biology.csv…")


def study_question(page, url, world):
    page.goto(url + reverse("flashcards:study", args=[world.source.slug]))
    expect(StudyScreen(page).front).to_be_visible()


def study_answer(page, url, world):
    study_question(page, url, world)
    study = StudyScreen(page)
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_be_visible()
    expect(study.ratings.nth(3)).to_be_visible()
    study.settled()


def study_finished(page, url, world):
    page.goto(url + reverse("flashcards:study", args=[world.capitals.slug]))
    study = StudyScreen(page)
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_be_visible()
    expect(study.ratings.nth(3)).to_be_visible()
    study.settled()
    page.keyboard.press("4")
    expect(study.finished).to_be_visible()
    study.settled()


def study_after_undo(page, url, world):
    study_finished(page, url, world)
    page.keyboard.press("u")
    study = StudyScreen(page)
    expect(study.notice).to_have_text("Undone. Answer the card again.")
    expect(study.front).to_have_text("Front 1")
    study.settled()


def study_stale_answer(page, url, world):
    """The answer side of a card that another tab answered meanwhile, then Good pressed here."""
    page.goto(url + reverse("flashcards:study", args=[world.capitals.slug]))
    study = StudyScreen(page)
    study.settled()
    page.keyboard.press("Space")
    expect(study.back).to_be_visible()
    expect(study.ratings.nth(3)).to_be_visible()
    card = world.capitals.cards.get()
    # Easy there, Good here: a different answer, so not taken for a second submission of one.
    answer(world.newcomer, card, scheduling.EASY, timezone.now(), duration_ms=3000)
    study.settled()
    page.keyboard.press("3")
    expect(study.notice).to_have_text("That card was already answered, perhaps in another tab.")
    study.settled()


def study_edit_card(page, url, world):
    page.goto(url + reverse("flashcards:study", args=[world.capitals.slug]))
    study = StudyScreen(page)
    study.settled()
    page.keyboard.press("e")
    expect(page.get_by_role("heading", name="Edit this card")).to_be_visible()
    study.settled()


def deck_list_after_sign_up(page, url, world):
    page.goto(url + reverse("flashcards:signup"))
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password", exact=True).fill("a long enough passphrase")
    page.get_by_label("Password confirmation").fill("a long enough passphrase")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text("Welcome, ada!")


def settings_workload(page, url, world):
    page.goto(url + reverse("flashcards:settings"))
    run_worker()
    # The page asks every two seconds whether FSRS's simulation of the year is done.
    expect(page.get_by_role("table", name="A year at each desired retention")).to_be_visible()


def deck_delete_refused(page, url, world):
    """An error message: staff may not delete a curated deck that learners have studied."""
    page.goto(url + reverse("flashcards:deck_detail", args=[world.source.slug]))
    page.get_by_role("button", name="Delete this deck").click()
    expect(page.get_by_role("status")).to_contain_text("Learners have studied this deck")


PAGES = {
    "deck-list-anonymous": (None, go(lambda w: reverse("flashcards:deck_list"))),
    "deck-list": ("learner", go(lambda w: reverse("flashcards:deck_list"))),
    "signup": (None, go(lambda w: reverse("flashcards:signup"))),
    "login": (None, go(lambda w: reverse("login"))),
    "password-change": ("learner", go(lambda w: reverse("password_change"))),
    "settings": ("learner", go(lambda w: reverse("flashcards:settings"))),
    "settings-workload": ("learner", settings_workload),
    "progress": ("learner", go(lambda w: reverse("flashcards:progress"))),
    "deck-progress": (
        "learner",
        go(lambda w: reverse("flashcards:deck_progress", args=[w.source.slug])),
    ),
    "card-history": (
        "learner",
        go(lambda w: reverse("flashcards:card_history", args=[w.answered_card.pk])),
    ),
    "deck-owner-editor-preview": ("learner", deck_editor_with_preview),
    "deck-new": ("learner", go(lambda w: reverse("flashcards:deck_create"))),
    "import": ("learner", go(lambda w: reverse("flashcards:import_upload"))),
    "import-reading": ("learner", import_reading),
    "import-preview": ("learner", import_preview),
    "import-refused": ("learner", import_refused),
    "import-writing": ("learner", import_writing),
    "insight": ("staff", go(lambda w: reverse("flashcards:insight"))),
    "deck-insight": (
        "staff",
        go(lambda w: reverse("flashcards:deck_insight", args=[w.source.slug])),
    ),
    "study-question": ("newcomer", study_question),
    "study-answer": ("newcomer", study_answer),
    "study-finished": ("newcomer", study_finished),
    "study-after-undo": ("newcomer", study_after_undo),
    "study-stale-answer": ("newcomer", study_stale_answer),
    "study-edit-card": ("staff", study_edit_card),
    "deck-list-after-sign-up": (None, deck_list_after_sign_up),
    "deck-delete-refused": ("staff", deck_delete_refused),
}


def open_page(context, live_server, world, name):
    user, visit = PAGES[name]
    if user:
        log_in(context, live_server, getattr(world, user))
    page = context.new_page()
    visit(page, live_server.url, world)
    return page


# 1. axe-core, every page in both themes.


def axe_violations(page):
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(content=AXE_SOURCE)
    return page.evaluate("async () => (await axe.run(document)).violations")


def describe(violations):
    lines = []
    for violation in violations:
        lines.append(
            f"\n{violation['id']} ({violation['impact']}): {violation['help']}"
            f"\n  {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            target = " >> ".join(str(part) for part in node["target"])
            lines.append(f"  - {target}\n      {node['html'][:300]}")
            for summary in node.get("failureSummary", "").splitlines()[1:]:
                lines.append(f"      {summary.strip()}")
    return "\n".join(lines)


def pages_failing_as_known(known):
    """Every page, those in `known` marked as failing for the reason given there."""
    return [
        pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=known[name]))
        if name in known
        else name
        for name in PAGES
    ]


# Known failures, each a real problem of the app: remove an entry when it is fixed.
UNREACHABLE_SCROLLER = (
    "scrollable-region-focusable (serious) at 375 px: {} scrolls sideways but holds nothing "
    "focusable, so a keyboard user cannot scroll it (give it tabindex=0 and a name)"
)
KNOWN_PHONE_VIOLATIONS = {}


@pytest.mark.parametrize(
    ("name", "theme"),
    [pytest.param(name, theme, id=f"{name}-{theme}") for name in PAGES for theme in THEMES],
)
def test_axe_finds_no_violations(name, theme, new_context, live_server, world):
    context = new_context(theme, bypass_csp=True)  # the CSP would refuse axe's inline script
    page = open_page(context, live_server, world, name)
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile("."))
    assert page.evaluate("matchMedia('(prefers-color-scheme: dark)').matches") == (theme == "dark")
    violations = axe_violations(page)
    assert not violations, (
        f"axe found {len(violations)} violation(s) on {name} ({theme} theme) at {page.url}:"
        + describe(violations)
    )


@pytest.mark.parametrize("name", pages_failing_as_known(KNOWN_PHONE_VIOLATIONS))
def test_axe_finds_no_violations_on_a_phone(name, new_context, live_server, world):
    """Some rules only fail once the page is narrow: a table that has to scroll, for one."""
    context = new_context(bypass_csp=True, **PHONE_DEVICE)
    page = open_page(context, live_server, world, name)
    violations = axe_violations(page)
    assert not violations, (
        f"axe found {len(violations)} violation(s) on {name} at 375 px at {page.url}:"
        + describe(violations)
    )


# 2. The keyboard and the page's semantics.

FOCUSABLE = """() => [...document.querySelectorAll(
    'a[href], button, input, select, textarea, summary, [tabindex], [contenteditable]')]
  .filter(el => !el.disabled && el.type !== 'hidden' && el.tabIndex >= 0
                && el.checkVisibility({visibilityProperty: true}))
  .map(el => ({html: el.outerHTML.slice(0, 120), tabIndex: el.tabIndex,
               skip: el.classList.contains('skip-link')}))"""

HEADINGS = """() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6, [role=heading]')]
  .filter(el => el.checkVisibility() && !el.closest('[aria-hidden=true]'))
  .map(el => [Number(el.getAttribute('aria-level') || el.tagName.slice(1)),
              el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 60)])"""

# Chromium draws no outline round an SVG shape, so a chart's mark shows focus with a stroke.
FOCUS_MARK = """() => {
  const el = document.activeElement, style = getComputedStyle(el);
  const outlined = style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0;
  const stroked = el instanceof SVGElement && style.stroke !== 'none'
                  && parseFloat(style.strokeWidth) > 0;
  return {html: el.outerHTML.slice(0, 120), visible: outlined || stroked,
          isBody: el === document.body};
}"""


@pytest.mark.parametrize("name", PAGES)
def test_the_skip_link_comes_first_and_moves_focus_to_main(name, new_context, live_server, world):
    page = open_page(new_context(), live_server, world, name)
    focusable = page.evaluate(FOCUSABLE)
    assert focusable[0]["skip"], f"the first focusable element is {focusable[0]['html']}"
    assert [f["html"] for f in focusable if f["tabIndex"] > 0] == []
    skip_link = page.get_by_role("link", name="Skip to content")
    if page.evaluate("document.activeElement === document.body"):
        page.keyboard.press("Tab")
    else:  # an autofocused control holds focus; the skip link is still the first stop
        skip_link.focus()
    expect(skip_link).to_be_focused()
    box = skip_link.bounding_box()
    assert box["x"] >= 0 and box["y"] >= 0, f"the focused skip link is off screen: {box}"
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()


@pytest.mark.parametrize("name", PAGES)
def test_headings_start_at_one_and_skip_no_level(name, new_context, live_server, world):
    page = open_page(new_context(), live_server, world, name)
    headings = page.evaluate(HEADINGS)
    assert headings and headings[0][0] == 1, f"the first heading is not an h1: {headings}"
    skips = [(a, b) for a, b in itertools.pairwise(headings) if b[0] > a[0] + 1]
    assert skips == [], f"headings skip a level: {skips}, in {headings}"


@pytest.mark.parametrize("name", PAGES)
def test_every_form_control_has_an_accessible_name(name, new_context, live_server, world):
    page = open_page(new_context(), live_server, world, name)
    controls = page.locator("input:not([type=hidden]), select, textarea, button").filter(
        visible=True
    )
    unnamed = []
    for index in range(controls.count()):
        control = controls.nth(index)
        try:
            expect(control).to_have_accessible_name(re.compile(r"\w"), timeout=500)
        except AssertionError:
            unnamed.append(control.evaluate("el => el.outerHTML.slice(0, 160)"))
    assert unnamed == [], "controls without an accessible name:\n" + "\n".join(unnamed)


HELP_WITHOUT_ID = (
    'templates/flashcards/card_fields.html renders help as <div class="help"> without the id '
    "that Django's aria-describedby names (id_front_helptext, id_back_helptext, "
    "id_tags_helptext), so the help is never announced; form_fields.html gives it the id"
)


@pytest.mark.parametrize(
    "name",
    pages_failing_as_known({}),
)
def test_aria_references_point_at_elements_on_the_page(name, new_context, live_server, world):
    page = open_page(new_context(), live_server, world, name)
    dangling = page.evaluate(
        """() => [...document.querySelectorAll(
            '[aria-describedby], [aria-labelledby], [aria-controls]')]
          .flatMap(el => ['aria-describedby', 'aria-labelledby', 'aria-controls']
            .flatMap(attr => (el.getAttribute(attr) || '').split(/\\s+/).filter(Boolean)
              .filter(id => !document.getElementById(id))
              .map(id => `${attr}="${id}" on ${el.outerHTML.slice(0, 100)}`)))"""
    )
    assert dangling == [], "references to no element:\n" + "\n".join(dangling)


def test_controls_have_their_visible_label_in_their_accessible_name(
    new_context, live_server, world
):
    """axe's label-in-name rule is experimental, so not run by default; it matters for speech."""
    context = new_context(bypass_csp=True)
    page = open_page(context, live_server, world, "study-answer")
    page.add_script_tag(content=AXE_SOURCE)
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['label-content-name-mismatch']}))
          .violations"""
    )
    assert not violations, describe(violations)


@pytest.mark.parametrize("name", PAGES)
def test_the_focused_element_always_shows_a_focus_ring(name, new_context, live_server, world):
    page = open_page(new_context(), live_server, world, name)
    unmarked = []
    first = page.evaluate(FOCUS_MARK)
    if not first["isBody"] and not first["visible"]:  # autofocused, or focused by a swap
        unmarked.append(first["html"])
    for _ in range(len(page.evaluate(FOCUSABLE))):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUS_MARK)
        if focused["isBody"]:
            break
        if not focused["visible"]:
            unmarked.append(focused["html"])
    assert unmarked == [], "focused without a visible outline:\n" + "\n".join(unmarked)


def test_the_card_front_and_back_appear_inside_the_live_study_region(
    new_context, live_server, world
):
    page = open_page(new_context(), live_server, world, "study-question")
    region = page.locator("section#study[aria-live=polite]")
    expect(region.locator(".card .front")).to_be_visible()
    # A screen reader announces changes inside a live region that stays; a replaced one is silent.
    region.evaluate("el => { el.dataset.original = 'yes'; }")
    study = StudyScreen(page)
    study.settled()
    page.keyboard.press("Space")
    expect(region.locator(".card .back")).to_be_visible()
    expect(region.locator("form.ratings button[name=rating]").nth(3)).to_be_visible()
    study.settled()
    first = study.front.inner_text()
    page.keyboard.press("4")
    expect(region.locator(".card .front")).not_to_have_text(first)
    expect(region.locator(".card .front")).to_be_visible()
    study.settled()
    page.keyboard.press("u")
    expect(region.locator(".notice")).to_have_text("Undone. Answer the card again.")
    expect(region.locator(".card .front")).to_have_text(first)
    expect(page.locator("#study")).to_have_attribute("data-original", "yes")


def test_showing_the_answer_takes_the_show_answer_link_away(new_context, live_server, world):
    page = open_page(new_context(), live_server, world, "study-answer")
    expect(StudyScreen(page).back).to_be_visible()
    expect(page.locator("#study").get_by_role("link", name="Show answer")).to_be_hidden()


def test_shortcuts_do_nothing_while_typing_in_the_card_editor_on_the_study_screen(
    new_context, live_server, world
):
    page = open_page(new_context(), live_server, world, "study-edit-card")
    editor = page.locator("#study form.card-editor")
    back = editor.get_by_label("Back", exact=True)
    back.click()
    back.press("End")
    for key in ["1", "Space", "4", "u", "e", "Enter", "3"]:
        page.keyboard.press(key)
    expect(back).to_have_value("Back 11 4ue\n3")
    front = editor.get_by_label("Front", exact=True)
    front.click()
    front.press("End")
    for key in ["2", "Space", "Enter"]:
        page.keyboard.press(key)
    expect(editor).to_be_visible()
    expect(page.get_by_role("heading", name="Edit this card")).to_be_visible()
    assert not Review.objects.filter(user=world.staff).exists()


def test_shortcuts_do_nothing_while_typing_in_a_text_field_beside_the_answer_side(
    new_context, live_server, world
):
    page = open_page(new_context(), live_server, world, "study-answer")
    # The app has no text field beside live rating buttons yet; this one stands for any future
    # one (a search box, a note) and exercises study.js's guard where it matters.
    page.evaluate(
        """() => document.querySelector('main').insertAdjacentHTML('afterbegin',
        '<label>Note <input type="text" id="note"></label>'
        + '<textarea aria-label="More"></textarea>')"""
    )
    note = page.locator("#note")
    note.click()
    for key in ["1", "Space", "4", "Enter", "u", "e"]:
        page.keyboard.press(key)
    expect(note).to_have_value("1 4ue")
    page.get_by_role("textbox", name="More").click()
    for key in ["3", "Space", "Enter", "2"]:
        page.keyboard.press(key)
    expect(page.get_by_role("textbox", name="More")).to_have_value("3 \n2")
    expect(StudyScreen(page).ratings.nth(3)).to_be_visible()
    assert not Review.objects.filter(user=world.newcomer).exists()


def test_shortcuts_do_nothing_while_typing_in_the_settings_number_field(
    new_context, live_server, world
):
    page = open_page(new_context(), live_server, world, "settings")
    answers = Review.objects.count()
    field = page.get_by_label("New cards per day, per deck")
    field.fill("")
    field.press("1")
    field.press("Space")
    field.press("0")
    expect(page).to_have_url(live_server.url + reverse("flashcards:settings"))
    expect(field).to_have_value("10")
    assert Review.objects.count() == answers


# 3. Phones, and screenshots to look at.

SCROLL_WIDTH = "document.documentElement.scrollWidth"
# The outermost elements that reach past a phone's width, and any positioned one (which escapes
# its scrolling container when it has no positioned ancestor inside it).
WIDE = """width => [...document.querySelectorAll('body *')]
  .filter(el => el.getBoundingClientRect().right > width + 0.5)
  .filter((el, _, wide) => !wide.includes(el.parentElement)
                           || !['static', 'relative'].includes(getComputedStyle(el).position))
  .map(el => Math.round(el.getBoundingClientRect().right) + ' px: '
             + el.outerHTML.replace(/\\s+/g, ' ').slice(0, 90))"""


def wider_than_a_phone(page):
    return "Reaching past the right edge:\n" + "\n".join(page.evaluate(WIDE, PHONE["width"]))


def test_on_a_phone_a_long_answer_never_scrolls_sideways(
    new_context, live_server, world, screenshot
):
    deck = make_long_card_deck(owner=world.newcomer)
    context = new_context(**PHONE_DEVICE)
    log_in(context, live_server, world.newcomer)
    page = context.new_page()
    page.goto(live_server.url + reverse("flashcards:study", args=[deck.slug]))
    study = StudyScreen(page)
    expect(study.front).to_be_visible()
    assert page.evaluate(SCROLL_WIDTH) <= PHONE["width"], "the question side scrolls sideways"
    study.settled()
    page.get_by_role("link", name="Show answer").tap()
    expect(study.back.locator("pre")).to_be_visible()
    expect(study.ratings.nth(3)).to_be_visible()
    screenshot(page, "a11y-study-answer-long-phone-light", full_page=False)  # as seen
    assert page.evaluate(SCROLL_WIDTH) <= PHONE["width"], wider_than_a_phone(page)


def test_axe_finds_no_violations_on_a_phone_with_a_long_answer(new_context, live_server, world):
    deck = make_long_card_deck(owner=world.newcomer)
    context = new_context(bypass_csp=True, **PHONE_DEVICE)
    log_in(context, live_server, world.newcomer)
    page = context.new_page()
    page.goto(live_server.url + reverse("flashcards:study", args=[deck.slug]))
    study = StudyScreen(page)
    study.settled()
    page.get_by_role("link", name="Show answer").tap()
    expect(study.back.locator("pre")).to_be_visible()
    violations = axe_violations(page)
    assert not violations, "axe on a long answer at 375 px:" + describe(violations)


def test_on_a_phone_the_rating_buttons_are_tall_enough_and_on_screen_for_a_short_card(
    new_context, live_server, world
):
    context = new_context(**PHONE_DEVICE)
    log_in(context, live_server, world.newcomer)
    page = context.new_page()
    page.goto(live_server.url + reverse("flashcards:study", args=[world.capitals.slug]))
    study = StudyScreen(page)
    study.settled()
    page.get_by_role("link", name="Show answer").tap()
    expect(study.ratings.nth(3)).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    assert page.evaluate(SCROLL_WIDTH) <= PHONE["width"]
    for index, label in enumerate(["Again", "Hard", "Good", "Easy"]):
        box = study.ratings.nth(index).bounding_box()
        assert box["height"] >= 44, f"{label} is {box['height']} px tall"
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], f"{label}: {box}"
        assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], f"{label}: {box}"


@pytest.mark.parametrize(
    "name",
    pages_failing_as_known({}),
)
def test_on_a_phone_no_page_scrolls_sideways(name, new_context, live_server, world):
    page = open_page(new_context(**PHONE_DEVICE), live_server, world, name)
    width = page.evaluate(SCROLL_WIDTH)
    assert width <= PHONE["width"], f"{name} is {width} px wide. " + wider_than_a_phone(page)


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", SIZES)
def test_screenshots_of_the_main_pages(size, theme, new_context, live_server, world, screenshot):
    device = PHONE_DEVICE if size == "phone" else {"viewport": DESKTOP}
    context = new_context(theme, **device)
    log_in(context, live_server, world.learner)
    page = context.new_page()

    def shoot(name):
        return screenshot(page, f"a11y-{name}-{size}-{theme}")

    page.goto(live_server.url + reverse("flashcards:deck_list"))
    shoot("deck-list")
    page.goto(live_server.url + reverse("flashcards:progress"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your progress")
    shoot("progress")
    import_reading(page, live_server.url, world)
    shoot("import-reading")
    run_worker()
    expect(page.get_by_role("heading", level=1)).to_have_text("Preview: biology.csv")
    shoot("import-preview")
    page.get_by_role("button", name=re.compile(r"^Import \d+ card")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Importing biology.csv…")
    shoot("import-writing")

    log_in(context, live_server, world.newcomer)  # whose first card is always a new one
    page.goto(live_server.url + reverse("flashcards:study", args=[world.source.slug]))
    study = StudyScreen(page)
    expect(study.front).to_be_visible()
    shoot("study-question")
    study.settled()
    page.keyboard.press("Space")
    expect(study.ratings.nth(3)).to_be_visible()
    study.settled()
    shoot("study-answer")
    page.goto(live_server.url + reverse("flashcards:study", args=[world.capitals.slug]))
    study.settled()
    page.keyboard.press("Space")
    expect(study.ratings.nth(3)).to_be_visible()
    study.settled()
    page.keyboard.press("4")
    expect(study.finished).to_be_visible()
    study.settled()
    shoot("finished")


def test_the_theme_button_cycles_auto_dark_light_and_overrides_the_system(
    new_context, live_server, world
):
    context = new_context("dark")
    log_in(context, live_server, world.learner)
    page = context.new_page()
    page.goto(live_server.url + reverse("flashcards:settings"))
    html = page.locator("html")
    button = page.get_by_role("button", name=re.compile(r"^Theme: "))

    def background():
        return page.evaluate("getComputedStyle(document.body).backgroundColor")

    light, dark = "rgb(247, 247, 245)", "rgb(20, 22, 26)"
    # What the button shows; its name also says what "auto" means and that it switches.
    expect(button).to_have_text(re.compile(r"^Theme: auto\b"))
    expect(html).not_to_have_attribute("data-theme", re.compile("."))
    assert background() == dark
    for theme, colour in [("dark", dark), ("light", light)]:
        button.click()
        expect(button).to_have_text(re.compile(rf"^Theme: {theme}\b"))
        expect(html).to_have_attribute("data-theme", theme)
        expect(page).to_have_url(live_server.url + reverse("flashcards:settings"))
        assert background() == colour
        assert Profile.objects.get(user=world.learner).theme == theme
    page.goto(live_server.url + reverse("flashcards:progress"))
    expect(html).to_have_attribute("data-theme", "light")
    assert background() == light
    button.click()
    # What the button shows; its name also says what "auto" means and that it switches.
    expect(button).to_have_text(re.compile(r"^Theme: auto\b"))
    expect(html).not_to_have_attribute("data-theme", re.compile("."))
    assert background() == dark
