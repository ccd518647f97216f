"""Hostile card and deck text, shown in a real Chromium: no payload runs on any page.

Each page is checked twice: behind the Content-Security-Policy, as learners see it, and with
the browser told to ignore the policy, so that the Markdown sanitiser alone must stop them.
"""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from flashcards.models import Card, Deck
from tests.browser.conftest import DESKTOP, log_in
from tests.conftest import make_user

pytestmark = pytest.mark.browser

# Every payload either calls alert() (a dialog) or sets window.__xss.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<script>window.__xss=1</script>",
    "<scr<script>ipt>window.__xss=1</script>",
    '<img src=x onerror="window.__xss=1">',
    "<img src=x onerror=alert(1)>",
    "<img src=x onerror=&#x61;lert(1)>",
    '"><img src=x onerror=window.__xss=1>',
    "'><svg/onload=window.__xss=1>",
    '<svg onload="window.__xss=1"><circle r="4"/></svg>',
    "<svg><script>window.__xss=1</script></svg>",
    '<svg><a xlink:href="javascript:window.__xss=1"><text y="20">svg link</text></a></svg>',
    "[markdown link](javascript:window.__xss=1)",
    "[markdown alert](javascript:alert(1))",
    "[markdown data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    '<a href="javascript:window.__xss=1">html link</a>',
    '<a href="JaVaScRiPt:alert(1)">mixed case link</a>',
    '<a href="jav&#x09;ascript:alert(1)">tab link</a>',
    '<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">entity</a>',
    '<a href="data:text/html,<script>alert(1)</script>">data link</a>',
    '<iframe srcdoc="<script>parent.__xss=1</script>"></iframe>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<math href="javascript:window.__xss=1"><mi>x</mi></math>',
    '<math><mi xlink:href="javascript:alert(1)">y</mi></math>',
    '<math><mi onclick="window.__xss=1" onmouseover="window.__xss=1">z</mi></math>',
    '<math><mtext><img src=x onerror="window.__xss=1"></mtext></math>',
    "$\\href{javascript:alert(1)}{x}$",
    '<div style="background:url(javascript:alert(1))">style url</div>',
    '<div style="width: expression(alert(1))">style expression</div>',
    "<style>body{background:url('javascript:alert(1)')}</style>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    '<form action="javascript:alert(1)"><button>form action</button></form>',
    '<button formaction="javascript:alert(1)">formaction</button>',
    '<input onfocus="window.__xss=1" autofocus>',
    '<details open ontoggle="window.__xss=1"><summary>details</summary></details>',
    '<video><source onerror="window.__xss=1"></video>',
    '<noscript><p title="</noscript><img src=x onerror=window.__xss=1>"></noscript>',
    '<base href="javascript:alert(1)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    "</textarea><img src=x onerror=window.__xss=1>",
    "</title><script>alert(1)</script>",
    '<div hx-get="/accounts/logout/" hx-trigger="load">htmx trigger</div>',
    '<button hx-on:click="window.__xss=1">htmx on</button>',
]
TITLE = "</title><img src=x onerror=window.__xss=1> Hostile deck"

# Anything a payload would need to run: inline script or handlers, frames and plugins, script
# URLs, htmx attributes in a card.
DANGEROUS = """() => {
  const found = [];
  for (const element of document.querySelectorAll("*")) {
    const tag = element.localName;
    if (["iframe", "frame", "object", "embed", "base", "style"].includes(tag)) found.push(tag);
    if (tag === "script" && !element.getAttribute("src")) found.push("inline script");
    if (tag === "meta" && element.httpEquiv) found.push("meta " + element.httpEquiv);
    const userText = element.closest(".front, .back, .lead") !== null;
    for (const attribute of element.attributes) {
      const name = attribute.name.toLowerCase();
      const value = attribute.value.replace(/[\\u0000-\\u0020]/g, "").toLowerCase();
      if (name.startsWith("on") || name === "srcdoc") found.push(`${tag} ${name}`);
      if (/^(javascript|vbscript|data:text\\/html)/.test(value)) found.push(`${tag} ${name}`);
      if (userText && /^(data-)?hx-/.test(name)) found.push(`${tag} ${name}`);
    }
  }
  return found;
}"""


@pytest.fixture
def hostile(db):
    """A learner whose deck holds every payload: in its title and description, each in a card
    of its own, and all of them in its first card's front and back."""
    learner = make_user("mallory")
    deck = Deck.objects.create(title=TITLE, description="\n".join(PAYLOADS), owner=learner)
    everything = "\n\n".join(PAYLOADS)
    Card.objects.create(deck=deck, front=everything, back=everything, position=1)
    for n, payload in enumerate(PAYLOADS, start=2):
        Card.objects.create(deck=deck, front=f"Payload {n}: {payload}", back=payload, position=n)
    # Every payload as a deck title too, on the deck list and the progress page.
    for payload in PAYLOADS:
        Deck.objects.create(title=payload, owner=learner)
    return learner, deck


class Watch:
    """What a page did: dialogs opened and script refused by the CSP."""

    def __init__(self, page):
        self.page = page
        self.dialogs = []
        self.refused = []
        page.on("dialog", self.dialog)
        page.on("console", self.console)

    def dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def console(self, message):
        text = message.text
        if "Content Security Policy" in text and re.search(r"script|event handler", text, re.I):
            self.refused.append(text)

    def visit(self, url):
        response = self.page.goto(url)
        assert response.ok, url
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        self.check()

    def check(self):
        """Nothing ran, and nothing that could run is on the page."""
        self.page.wait_for_load_state("networkidle")
        url = self.page.url
        assert self.dialogs == [], url
        assert self.page.evaluate("typeof window.__xss") == "undefined", url
        assert self.page.evaluate(DANGEROUS) == [], url
        # A payload that got past the sanitiser is refused by the CSP, and says so.
        assert self.refused == [], url


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["behind-the-csp", "sanitiser-alone"])
def test_no_payload_runs_on_any_page_that_shows_it(
    browser, live_server, hostile, screenshot, study_screen, bypass_csp
):
    learner, deck = hostile
    context = browser.new_context(viewport=DESKTOP, color_scheme="light", bypass_csp=bypass_csp)
    try:
        log_in(context, live_server, learner)
        page = context.new_page()
        watch = Watch(page)
        first = deck.cards.get(position=1)
        url = live_server.url

        watch.visit(url + reverse("flashcards:deck_list"))
        expect(page.locator("main")).to_contain_text("<script>alert(1)</script>")
        expect(page.get_by_role("heading", name=TITLE)).to_be_visible()

        watch.visit(url + reverse("flashcards:deck_detail", args=[deck.slug]))
        expect(page.locator(".lead")).to_contain_text('<img src=x onerror="window.__xss=1">')
        expect(page.locator("#cards")).to_contain_text("markdown link")

        watch.visit(url + reverse("flashcards:card_edit", args=[first.pk]))
        expect(page.get_by_label("Front")).to_have_value(first.front)

        watch.visit(url + reverse("flashcards:study", args=[deck.slug]))
        study = study_screen(page)
        expect(study.front).to_contain_text("markdown link")
        page.get_by_role("link", name="Show answer").click()
        expect(study.back).to_contain_text("markdown alert")
        study.settled()
        watch.check()
        for link in study.region.locator(".front a, .back a").all():
            link.click()
        assert page.url.startswith(url + reverse("flashcards:study", args=[deck.slug]))
        watch.check()
        screenshot(page, "xss-study-answer" + ("-sanitiser-alone" if bypass_csp else ""))

        watch.visit(url + reverse("flashcards:reveal", args=[deck.slug, first.pk]))
        study.settled()
        study.region.get_by_role("button", name=re.compile(r"^Good ")).click()
        expect(study.front).to_contain_text("Payload 2:")

        watch.visit(url + reverse("flashcards:progress"))
        expect(page.get_by_role("region", name="Recent answers")).to_contain_text(
            "<script>alert(1)</script>"
        )
        watch.visit(url + reverse("flashcards:deck_progress", args=[deck.slug]))
        watch.visit(url + reverse("flashcards:card_history", args=[first.pk]))
    finally:
        context.close()
