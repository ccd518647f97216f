"""Real-browser fixtures: Debian's Chromium driven by Playwright against the live_server.

Playwright never downloads a browser here: it launches the system's Chromium, with the flags
that keep it from reaching for the network.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

# Playwright's sync API runs an event loop in this thread; the ORM refuses to run beside one.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
# Not under test-results/, which pytest-playwright empties at the start of every run.
SCREENSHOTS = ROOT / "var" / "screenshots"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 667}

_source = json.loads((ROOT / "fixtures" / "deep-learning-flashcards.json").read_text())
# Front -> the start of its back's first line, as the page shows it (list markers dropped).
SOURCE_CARDS = {
    item["fields"]["front"]: item["fields"]["back"].splitlines()[0].removeprefix("- ")[:30]
    for item in _source
    if item["model"] == "flashcards.card"
}
INTERVAL = re.compile(r"^\d+(\.\d+)?(s|m|h|d|mo|y)$")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": DESKTOP, "color_scheme": "light"}


@pytest.fixture
def screenshot():
    """screenshot(page, name) writes var/screenshots/<name>.png (the whole page)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name, *, full_page=True):
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        return path

    return take


def log_in(context, live_server, user):
    """Give the browser context a logged-in session without going through the login form."""
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.value, "url": live_server.url}]
    )


class StudyScreen:
    """The study region of a deck, read the way a learner reads it."""

    def __init__(self, page):
        self.page = page
        self.region = page.locator("#study")
        self.front = self.region.locator(".card .front")
        self.back = self.region.locator(".card .back")
        self.ratings = self.region.locator("form.ratings button[name=rating]")
        self.finished = self.region.get_by_role(
            "heading", name="You have finished this deck for now."
        )
        self.notice = self.region.locator(".notice")

    def settled(self):
        """Wait until htmx has finished the swap, so the new controls are htmx-enabled.

        htmx 2 inserts the new content at once but only wires its hx- attributes in the settle
        step (20 ms later); a shortcut pressed before that clicks a plain link or form.
        """
        expect(self.region).not_to_have_class(re.compile(r"htmx-(swapping|settling)"))

    def count(self, name):
        """The New, Learning or Due count shown above the card."""
        return self.region.locator(f".counts .count.{name} dd")

    def expect_counts(self, new, learning, due):
        expect(self.count("new")).to_have_text(str(new))
        expect(self.count("learning")).to_have_text(str(learning))
        expect(self.count("due")).to_have_text(str(due))

    def front_text(self):
        expect(self.front).to_be_visible()
        return self.front.inner_text().strip()

    def expect_answer_side(self, front):
        """The back of this card is shown with four rating buttons labelled with intervals."""
        expect(self.back).to_be_visible()
        expect(self.back).to_contain_text(SOURCE_CARDS[front])
        expect(self.ratings).to_have_count(4)
        for index, label in enumerate(["Again", "Hard", "Good", "Easy"]):
            button = self.ratings.nth(index)
            expect(button.locator(".label")).to_have_text(label)
            expect(button.locator(".interval")).to_have_text(INTERVAL)
            expect(button).to_have_accessible_name(re.compile(rf"^{label} \S+$"))
        return [self.ratings.nth(i).locator(".interval").inner_text() for i in range(4)]


@pytest.fixture
def study_screen():
    return StudyScreen
