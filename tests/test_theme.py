import json
from pathlib import Path

from django.contrib.staticfiles import finders
from django.urls import reverse

from flashcards.models import Profile, profile_for
from tests.conftest import make_user
from tests.test_views import logged_in


def theme_of(response):
    if 'data-theme="dark"' in response.text:
        return "dark"
    return "light" if 'data-theme="light"' in response.text else "auto"


def test_the_theme_cycles_auto_dark_light_and_is_kept_in_the_learners_settings(learner):
    client = logged_in(learner)
    assert theme_of(client.get("/")) == "auto"
    for expected in ("dark", "light", "auto"):
        response = client.post(reverse("flashcards:switch_theme"), {"next": "/progress/"})
        assert response.status_code == 302 and response["Location"] == "/progress/"
        assert theme_of(client.get("/")) == expected
        assert Profile.objects.get(user=learner).theme == expected


def test_the_theme_follows_the_learner_to_a_new_browser(learner):
    profile = profile_for(learner)
    profile.theme = "dark"
    profile.save()
    client = logged_in(make_user())  # someone else's browser session first
    client.logout()
    client.post(reverse("login"), {"username": learner.username, "password": "correct horse 42"})
    assert theme_of(client.get("/")) == "dark"


def test_an_anonymous_visitor_can_switch_the_theme_for_their_visit(client, db):
    client.post(reverse("flashcards:switch_theme"), {"next": "/"})
    assert theme_of(client.get("/")) == "dark"


def test_switching_the_theme_never_redirects_to_another_site(client, db):
    response = client.post(reverse("flashcards:switch_theme"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("flashcards:deck_list")


def test_pages_link_the_web_app_manifest_and_its_icons(client, db):
    text = client.get("/").text
    assert 'rel="manifest" href="/static/manifest.webmanifest"' in text
    manifest = json.loads(Path(finders.find("manifest.webmanifest")).read_text())
    assert manifest["display"] == "standalone" and manifest["start_url"] == "/"
    icons = manifest["icons"]
    assert {icon["sizes"] for icon in icons} == {"192x192", "512x512"}
    for icon in icons:
        assert finders.find(icon["src"]), icon["src"]
