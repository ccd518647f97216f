"""Security: who may open every URL, CSRF, safe GETs, the CSP, login throttling and uploads.

The access matrix is generated from the URL conf: a URL pattern without an expectation fails
the suite, so a new view cannot be added without deciding who may open it.
"""

import io
import json
import re
import time
import zipfile
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import time_machine
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode

from flashcards import scheduling
from flashcards.anki import write_apkg
from flashcards.models import (
    Card,
    Deck,
    Memory,
    PendingImport,
    Profile,
    Review,
    profile_for,
)
from flashcards.tasks import fit_parameters
from flashcards.throttle import THROTTLED
from tests.conftest import answer, make_deck, make_user, run_worker

ROLES = ("anonymous", "owner", "other", "staff", "superuser")
PASSWORD = "correct horse 42"  # make_user's
HTMX = {"HTTP_HX_REQUEST": "true"}

# The status class each role gets, in the order of ROLES: anonymous, owner, another learner,
# staff, superuser. "login" and "admin-login" are redirects to those login pages, "redirect" is
# any other redirect. A line starts with its target, the objects its URL names: the owner's
# "private" deck (and its first card, which the owner has answered), a published "curated" deck,
# an unpublished curated "draft"; after a "/" comes the value of the URL's other argument.
# GET is checked for every URL, POST for every view that changes something.
EXPECTED = {
    "flashcards:deck_list": """
        GET  200 200 200 200 200
    """,
    "flashcards:deck_create": """
        GET  login 200 200 200 200
        POST login redirect redirect redirect redirect
    """,
    "flashcards:deck_detail": """
        private GET login 200 404 404 200
        curated GET login 200 200 200 200
        draft   GET login 404 404 200 200
    """,
    # Staff edit curated decks and their own, never a learner's; the superuser opens and edits
    # any deck (Deck.objects.visible_to), so a learner's private deck is no secret to them.
    "flashcards:deck_edit": """
        private GET  login 200 404 404 200
        private POST login redirect 404 404 redirect
        curated GET  login 403 403 200 200
        curated POST login 403 403 redirect redirect
        draft   GET  login 404 404 200 200
        draft   POST login 404 404 redirect redirect
    """,
    "flashcards:deck_delete": """
        private GET  login 405 405 405 405
        private POST login redirect 404 404 redirect
        curated GET  login 405 405 405 405
        curated POST login 403 403 redirect redirect
        draft   GET  login 405 405 405 405
        draft   POST login 404 404 redirect redirect
    """,
    "flashcards:card_create": """
        private GET  login 405 405 405 405
        private POST login redirect 404 404 redirect
        curated GET  login 405 405 405 405
        curated POST login 403 403 redirect redirect
        draft   GET  login 405 405 405 405
        draft   POST login 404 404 redirect redirect
    """,
    "flashcards:deck_export": """
        private/txt  GET login 200 404 404 200
        curated/csv  GET login 200 200 200 200
        curated/apkg GET login 200 200 200 200
        curated/pdf  GET login 404 404 404 404
        draft/txt    GET login 404 404 200 200
    """,
    # Without HTMX, a card's row is the deck page it sits on.
    "flashcards:card_row": """
        private GET login redirect 404 404 redirect
        curated GET login 403 403 redirect redirect
        draft   GET login 404 404 redirect redirect
    """,
    "flashcards:card_edit": """
        private GET  login 200 404 404 200
        private POST login redirect 404 404 redirect
        curated GET  login 403 403 200 200
        curated POST login 403 403 redirect redirect
        draft   GET  login 404 404 200 200
        draft   POST login 404 404 redirect redirect
    """,
    "flashcards:card_delete": """
        private GET  login 405 405 405 405
        private POST login redirect 404 404 redirect
        curated GET  login 405 405 405 405
        curated POST login 403 403 redirect redirect
        draft   GET  login 405 405 405 405
        draft   POST login 404 404 redirect redirect
    """,
    "flashcards:card_move": """
        private/down GET  login 405 405 405 405
        private/down POST login redirect 404 404 redirect
        curated/up   GET  login 405 405 405 405
        curated/up   POST login 403 403 redirect redirect
        draft/down   GET  login 405 405 405 405
        draft/down   POST login 404 404 redirect redirect
    """,
    "flashcards:markdown_preview": """
        GET  login 405 405 405 405
        POST login 200 200 200 200
    """,
    "flashcards:import_upload": """
        GET  login 200 200 200 200
        POST login 200 200 200 200
    """,
    # The owner's pending import: confirming it creates the deck.
    "flashcards:import_preview": """
        pending GET  login 200 404 404 404
        pending POST login redirect 404 404 404
    """,
    "flashcards:study": """
        private GET login 200 404 404 200
        curated GET login 200 200 200 200
        draft   GET login 404 404 200 200
    """,
    "flashcards:reveal": """
        private GET login 200 404 404 200
        curated GET login 200 200 200 200
        draft   GET login 404 404 200 200
    """,
    "flashcards:answer": """
        private GET  405 405 405 405 405
        private POST login redirect 404 404 redirect
        curated GET  405 405 405 405 405
        curated POST login redirect redirect redirect redirect
        draft   GET  405 405 405 405 405
        draft   POST login 404 404 redirect redirect
    """,
    # The POST names the owner's answer in that deck: only the owner can undo it.
    "flashcards:undo": """
        private GET  405 405 405 405 405
        private POST login redirect 404 404 409
        curated GET  405 405 405 405 405
        curated POST login redirect 409 409 409
        draft   GET  405 405 405 405 405
        draft   POST login 404 404 409 409
    """,
    "flashcards:progress": """
        GET login 200 200 200 200
    """,
    "flashcards:deck_progress": """
        private GET login 200 404 404 200
        curated GET login 200 200 200 200
        draft   GET login 404 404 200 200
    """,
    "flashcards:export_history": """
        csv  GET login 200 200 200 200
        json GET login 200 200 200 200
        xml  GET login 404 404 404 404
    """,
    "flashcards:card_history": """
        private GET login 200 404 404 200
        curated GET login 200 200 200 200
        draft   GET login 404 404 200 200
    """,
    "flashcards:insight": """
        GET login 403 403 200 200
    """,
    # Figures across learners; the superuser alone also sees those of private decks.
    "flashcards:deck_insight": """
        private GET login 403 403 404 200
        curated GET login 403 403 200 200
        draft   GET login 403 403 200 200
    """,
    "flashcards:settings": """
        GET  login 200 200 200 200
        POST login redirect redirect redirect redirect
    """,
    # Queues a fit of the learner's own parameters.
    "flashcards:request_fit": """
        GET  login 405 405 405 405
        POST login redirect redirect redirect redirect
    """,
    # Anyone may switch the colour theme; it is kept in the session, and a learner's profile.
    "flashcards:switch_theme": """
        GET  405 405 405 405 405
        POST redirect redirect redirect redirect redirect
    """,
    "flashcards:signup": """
        GET  200 redirect redirect redirect redirect
        POST 200 redirect redirect redirect redirect
    """,
    "login": """
        GET  200 200 200 200 200
        POST 200 200 200 200 200
    """,
    "logout": """
        GET  405 405 405 405 405
        POST redirect redirect redirect redirect redirect
    """,
    "password_change": """
        GET  login 200 200 200 200
        POST login 200 200 200 200
    """,
    "password_change_done": """
        GET login 200 200 200 200
    """,
    "password_reset": """
        GET  200 200 200 200 200
        POST redirect redirect redirect redirect redirect
    """,
    "password_reset_done": """
        GET 200 200 200 200 200
    """,
    # A valid link of the owner's: it moves its token into the session, whoever follows it.
    "password_reset_confirm": """
        GET  redirect redirect redirect redirect redirect
        POST redirect redirect redirect redirect redirect
    """,
    "password_reset_complete": """
        GET 200 200 200 200 200
    """,
    # The admin's login and logout pages are the two that anyone may open.
    "admin:login": """
        GET  200 200 200 redirect redirect
        POST 200 200 200 200 200
    """,
    "admin:logout": """
        GET  redirect redirect redirect 405 405
        POST redirect redirect redirect redirect redirect
    """,
}
# The rest of the admin as a group: anonymous visitors and learners are sent to its login page,
# so a line gives only staff and superuser. Staff here hold no model permission (as
# make_user(is_staff=True) makes them): the admin shows them its index and their password, and
# refuses every model page. Objects are the owner's; answers and memories are read-only.
ADMIN = {
    "admin:index": "GET 200 200",
    "admin:password_change": "GET 200 200\nPOST 200 200",
    "admin:password_change_done": "GET 200 200",
    "admin:autocomplete": "GET 403 403",
    "admin:jsi18n": "GET 200 200",
    # Django's "view on site" redirects to the deck's page, where staff then get a 404.
    "admin:view_on_site": "GET redirect redirect",
    "admin:app_list": "GET 404 200",
    "admin/(?P<url>.*)$": "GET 404 404",
    "admin:flashcards_deck_changelist": "GET 403 200\nPOST 403 200",
    "admin:flashcards_deck_add": "GET 403 200\nPOST 403 200",
    "admin:flashcards_deck_history": "GET redirect 200",
    # The deck holds answers, which protect it: the page lists them and deletes nothing.
    "admin:flashcards_deck_delete": "GET 403 200\nPOST 403 200",
    "admin:flashcards_deck_change": "GET 403 200\nPOST 403 200",
    "admin/flashcards/deck/<path:object_id>/": "GET redirect redirect",
    "admin:flashcards_card_changelist": "GET 403 200\nPOST 403 200",
    "admin:flashcards_card_add": "GET 403 200\nPOST 403 200",
    "admin:flashcards_card_history": "GET redirect 200",
    "admin:flashcards_card_delete": "GET 403 200\nPOST 403 200",
    "admin:flashcards_card_change": "GET 403 200\nPOST 403 200",
    "admin/flashcards/card/<path:object_id>/": "GET redirect redirect",
    "admin:flashcards_review_changelist": "GET 403 200\nPOST 403 200",
    "admin:flashcards_review_add": "GET 403 403\nPOST 403 403",
    "admin:flashcards_review_history": "GET 403 200",
    "admin:flashcards_review_delete": "GET 403 200\nPOST 403 redirect",
    "admin:flashcards_review_change": "GET 403 200\nPOST 403 403",
    "admin/flashcards/review/<path:object_id>/": "GET redirect redirect",
    "admin:flashcards_memory_changelist": "GET 403 200\nPOST 403 200",
    "admin:flashcards_memory_add": "GET 403 403\nPOST 403 403",
    "admin:flashcards_memory_history": "GET 403 200",
    "admin:flashcards_memory_delete": "GET 403 200\nPOST 403 redirect",
    "admin:flashcards_memory_change": "GET 403 200\nPOST 403 403",
    "admin/flashcards/memory/<path:object_id>/": "GET redirect redirect",
    "admin:flashcards_profile_changelist": "GET 403 200\nPOST 403 200",
    "admin:flashcards_profile_add": "GET 403 200\nPOST 403 200",
    "admin:flashcards_profile_history": "GET 403 200",
    "admin:flashcards_profile_delete": "GET 403 200\nPOST 403 redirect",
    "admin:flashcards_profile_change": "GET 403 200\nPOST 403 200",
    "admin/flashcards/profile/<path:object_id>/": "GET redirect redirect",
    "admin:auth_group_changelist": "GET 403 200\nPOST 403 200",
    "admin:auth_group_add": "GET 403 200\nPOST 403 200",
    "admin:auth_group_history": "GET 403 200",
    "admin:auth_group_delete": "GET 403 200\nPOST 403 redirect",
    "admin:auth_group_change": "GET 403 200\nPOST 403 200",
    "admin/auth/group/<path:object_id>/": "GET redirect redirect",
    "admin:auth_user_password_change": "GET 403 200\nPOST 403 200",
    "admin:auth_user_changelist": "GET 403 200\nPOST 403 200",
    "admin:auth_user_add": "GET 403 200\nPOST 403 200",
    "admin:auth_user_history": "GET 403 200",
    # The learner's answers and memories go with them, and nobody may delete those here.
    "admin:auth_user_delete": "GET 403 200\nPOST 403 200",
    "admin:auth_user_change": "GET 403 200\nPOST 403 200",
    "admin/auth/user/<path:object_id>/": "GET redirect redirect",
    # Background tasks' results: read-only, for staff with the view permission.
    "admin:django_tasks_database_dbtaskresult_changelist": "GET 403 200\nPOST 403 200",
    "admin:django_tasks_database_dbtaskresult_add": "GET 403 403\nPOST 403 403",
    "admin:django_tasks_database_dbtaskresult_history": "GET 403 200",
    "admin:django_tasks_database_dbtaskresult_delete": "GET 403 403\nPOST 403 403",
    "admin:django_tasks_database_dbtaskresult_change": "GET 403 200\nPOST 403 403",
    "admin/django_tasks_database/dbtaskresult/<path:object_id>/": "GET redirect redirect",
}
ADMIN_GROUP = ("admin-login", "admin-login", "admin-login")


def url_patterns(patterns=None, prefix="", namespace=""):
    """(key, route) of every URL pattern: its name with namespace, or its route if unnamed."""
    if patterns is None:
        patterns = get_resolver().url_patterns
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = entry.namespace or ""
            space = f"{namespace}:{inner}" if namespace and inner else namespace or inner
            yield from url_patterns(entry.url_patterns, prefix + str(entry.pattern), space)
        else:
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield (name or route), route


def expectations(key):
    """{(target, method): {role: status class}} for one URL pattern, or None if it has none."""
    if key in EXPECTED:
        lines, group = EXPECTED[key], ()
    elif key in ADMIN:
        lines, group = ADMIN[key], ADMIN_GROUP
    else:
        return None
    table = {}
    for line in lines.strip().splitlines():
        words = line.split()
        target = "" if words[0] in ("GET", "POST") else words.pop(0)
        method, statuses = words[0], (*group, *words[1:])
        assert len(statuses) == len(ROLES), f"{key}: {line!r} needs one status per role"
        table[target, method] = dict(zip(ROLES, statuses, strict=True))
    return table


def build_matrix():
    """Every (URL key, route, target, method, role, expected status) of the URL conf."""
    cases, seen = [], set()
    for key, route in url_patterns():
        # django.contrib.auth.urls' own "login" is shadowed by ours, at the same route.
        if (key, route) in seen:
            continue
        seen.add((key, route))
        table = expectations(key)
        if table is None:
            cases.append((key, route, "", "GET", "owner", None))
            continue
        for (target, method), statuses in table.items():
            for role, expected in statuses.items():
                cases.append((key, route, target, method, role, expected))
    return cases


MATRIX = build_matrix()
MATRIX_SIZE = len(MATRIX)


def case_id(key, target, method, role=None):
    return "-".join(part for part in (f"{key}[{target}]" if target else key, role, method) if part)


def url_targets(method):
    """(key, route, target, statuses) of each URL and target checked with this method."""
    rows = {}
    for key, route, target, each_method, role, expected in MATRIX:
        if each_method == method and expected is not None:
            rows.setdefault((key, route, target), {})[role] = expected
    return [
        pytest.param(*row, statuses, id=case_id(row[0], row[2], method))
        for row, statuses in rows.items()
    ]


# The world of objects every URL is opened against.


@pytest.fixture
def world(db):
    """Every role, and an object of each kind for the URL kwargs: the owner's private deck, a
    curated published deck and a curated draft, their cards, the owner's answers and import."""
    users = SimpleNamespace(
        owner=make_user("owner", email="owner@example.com"),
        other=make_user("other", email="other@example.com"),
        staff=make_user("staff", is_staff=True),
        superuser=make_user("root", is_staff=True, is_superuser=True),
    )
    # Profiles exist before any request, so a page reading one (profile_for) creates nothing
    # and the no-writes-on-GET check can include them.
    for user in vars(users).values():
        profile_for(user)
    private = make_deck("Secret deck of the owner", cards=0, owner=users.owner)
    for n in (1, 2):
        Card.objects.create(
            deck=private, front=f"Secret front {n}", back=f"Secret back {n}", position=n
        )
    decks = {
        "private": private,
        "curated": make_deck("Curated capitals", cards=2),
        "draft": make_deck("Draft deck", cards=2, published=False),
    }
    reviews = {}
    for key in ("private", "curated"):
        card = decks[key].cards.get(position=1)
        reviews[key] = answer(users.owner, card, scheduling.GOOD, timezone.now()).review
    pending = PendingImport.objects.create(
        user=users.owner,
        filename="secret-import.csv",
        data=b"front,back\nSecret imported front,Secret imported back\n",
    )
    return SimpleNamespace(
        users=users,
        decks=decks,
        reviews=reviews,
        pending=pending,
        group=Group.objects.create(name="Editors"),
        task_result=fit_parameters.enqueue(users.owner.pk).db_result,
        # What nobody but the owner (and the superuser, in the admin) may ever read.
        secrets=[private.title, "Secret front", "Secret back", "secret-import"],
    )


def client_for(world, role, **kwargs):
    client = Client(**kwargs)
    if role != "anonymous":
        client.force_login(getattr(world.users, role))
    return client


MISSING_ID = 2**31 - 1
KWARG = re.compile(r"<(?:\w+:)?(\w+)>|\(\?P<(\w+)>[^)]*\)")
ADMIN_MODEL = re.compile(r"^admin[:/](?:flashcards|auth|django_tasks_database)[_/](\w+?)[_/]")


def admin_object(world, model):
    owner, private = world.users.owner, world.decks["private"]
    return {
        "deck": private,
        "card": private.cards.get(position=1),
        "review": world.reviews["private"],
        "memory": Memory.objects.get(user=owner, deck=private),
        "profile": profile_for(owner),
        "group": world.group,
        "user": owner,
        "dbtaskresult": world.task_result,
    }[model]


def path_for(world, key, route, target, *, missing=False):
    """The URL of a pattern, its arguments filled from the world's objects for this target, or
    naming objects that do not exist."""
    deck_key, _, literal = target.partition("/")
    if deck_key not in world.decks:
        literal = target
    deck, owner = world.decks.get(deck_key), world.users.owner
    kwargs = {}
    for match in KWARG.finditer(route):
        name = match.group(1) or match.group(2)
        if name == "slug":
            kwargs[name] = "no-such-deck" if missing else deck.slug
        elif name == "card_id":
            kwargs[name] = MISSING_ID if missing else deck.cards.get(position=1).pk
        elif name == "pending_id":
            kwargs[name] = MISSING_ID if missing else world.pending.pk
        elif name == "uidb64":
            kwargs[name] = urlsafe_base64_encode(str(owner.pk).encode())
        elif name == "token":
            kwargs[name] = default_token_generator.make_token(owner)
        elif name == "id":
            kwargs[name] = owner.pk
        elif name == "content_type_id":
            kwargs[name] = ContentType.objects.get_for_model(Deck).pk
        elif name == "object_id" and key == "admin:view_on_site":
            kwargs[name] = world.decks["private"].pk
        elif name == "object_id":
            kwargs[name] = admin_object(world, ADMIN_MODEL.match(key).group(1)).pk
        elif name == "app_label":
            kwargs[name] = "flashcards"
        elif name == "url":
            kwargs[name] = "no-such-page/"
        else:
            kwargs[name] = literal
    if key != route:
        return reverse(key, kwargs=kwargs)
    # Unnamed patterns: the admin's redirects to a change page, and its catch-all.
    path = KWARG.sub(lambda m: str(kwargs[m.group(1) or m.group(2)]), route)
    return "/" + path.replace("^", "").replace("$", "")


def post_data(world, key, target):
    """What the form of this view would send."""
    deck = world.decks.get(target.partition("/")[0])
    if key.startswith("admin:") and key.endswith("_delete"):
        return {"post": "yes"}
    return {
        "flashcards:deck_create": {"title": "A new deck"},
        "flashcards:deck_edit": {"title": "Renamed"},
        "flashcards:card_create": {"front": "A new front", "back": "A new back"},
        "flashcards:card_edit": {"front": "Edited front", "back": "Edited back"},
        "flashcards:markdown_preview": {"front": "**bold**", "back": "plain"},
        "flashcards:answer": {
            "card": deck.cards.get(position=2).pk if deck else 0,
            "rating": scheduling.GOOD,
            "reps": 0,
        },
        "flashcards:undo": {"review": world.reviews[target].pk if target in world.reviews else 0},
        "flashcards:settings": {
            "timezone": "Europe/Paris",
            "new_cards_per_day": 10,
            "reviews_per_day": 100,
            "desired_retention": 0.9,
        },
        "password_reset": {"email": "owner@example.com"},
    }.get(key, {})


def request(client, method, path, data, **headers):
    if method == "GET":
        return client.get(path, **headers)
    return client.post(path, data, **headers)


def outcome(response):
    """The status class of a response: its code, or where a redirect leads."""
    if response.status_code in (301, 302):
        location = response["Location"]
        if location.startswith(reverse("login") + "?next="):
            return "login"
        if location.startswith(reverse("admin:login") + "?next="):
            return "admin-login"
        return "redirect"
    return str(response.status_code)


def body(response):
    if response.streaming:
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


class ScriptTags(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.scripts = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))


def assert_no_inline_script(response):
    """A page's scripts are files of ours: the CSP forbids inline ones, and the page has none."""
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    inline = [attrs for attrs in ScriptTags(body(response)).scripts if not attrs.get("src")]
    assert inline == [], f"{response.request['PATH_INFO']} has <script> tags without src"


def is_html(response):
    return response.get("Content-Type", "").startswith("text/html")


def snapshot():
    """Every row of every model a request could change (sessions aside: logging in and a
    password-reset link write theirs by design)."""
    models = (Deck, Card, Memory, Review, PendingImport, Profile, get_user_model(), Group)
    return {
        model.__name__: list(model.objects.order_by("pk").values()) for model in (*models, LogEntry)
    }


# The access matrix.


@pytest.mark.parametrize("size", [MATRIX_SIZE], ids=[f"{MATRIX_SIZE} cases"])
def test_the_access_matrix_has_an_expectation_for_every_url_pattern(size):
    patterns = len({(key, route) for key, route, *_ in MATRIX})
    print(f"\nAccess matrix: {size} cases over {patterns} URL patterns (target x method x role)")
    assert size > 0
    missing = sorted({key for key, *_, expected in MATRIX if expected is None})
    assert missing == [], f"URL patterns without an expectation in EXPECTED or ADMIN: {missing}"
    keys = {key for key, _ in url_patterns()}
    stale = sorted((set(EXPECTED) | set(ADMIN)) - keys)
    assert stale == [], f"Expectations for URL patterns that no longer exist: {stale}"


def test_no_other_learner_nor_staff_reaches_a_private_deck_card_or_import():
    """They get a 404, never a 200 or a 403 that would confirm the object exists; a 403 or 405
    only where the view refuses them whatever the object. (The superuser may open any deck.)"""
    curated = {
        (key, method, role): expected
        for key, _, target, method, role, expected in MATRIX
        if target.startswith("curated")
    }
    for key, _, target, method, role, expected in MATRIX:
        if target.partition("/")[0] not in ("private", "pending"):
            continue
        if role == "anonymous":
            assert expected in ("login", "405"), (key, target, method, role)
        elif role in ("other", "staff") and expected != "404":
            refused = curated.get((key, method, role))
            assert expected in ("403", "405") and expected == refused, (key, method, role)


@pytest.mark.parametrize(
    ("key", "route", "target", "method", "role", "expected"),
    [pytest.param(*case, id=case_id(case[0], case[2], case[3], case[4])) for case in MATRIX],
)
def test_access(world, key, route, target, method, role, expected):
    assert expected is not None, f"No expectation for {key} ({route}): add one to EXPECTED"
    client = client_for(world, role)
    path = path_for(world, key, route, target)
    response = request(client, method, path, post_data(world, key, target))
    assert outcome(response) == expected, f"{method} {path} as {role}"
    if role in ("anonymous", "other", "staff"):
        text = body(response)
        assert not [secret for secret in world.secrets if secret in text]
    if response.status_code == 200 and is_html(response):
        assert_no_inline_script(response)


PRIVATE_TARGETS = [
    pytest.param(key, route, target, method, id=case_id(key, target, method))
    for method in ("GET", "POST")
    for key, route, target, _ in (param.values for param in url_targets(method))
    if target.partition("/")[0] in ("private", "pending")
]


@pytest.mark.parametrize("role", ["other", "staff"])
@pytest.mark.parametrize(("key", "route", "target", "method"), PRIVATE_TARGETS)
def test_another_learners_private_object_answers_like_one_that_does_not_exist(
    world, key, route, target, method, role
):
    client = client_for(world, role)
    data = post_data(world, key, target)
    private = request(client, method, path_for(world, key, route, target), data)
    missing = request(client, method, path_for(world, key, route, target, missing=True), data)
    assert private.status_code == missing.status_code
    assert not [secret for secret in world.secrets if secret in body(private)]


def test_another_learner_reads_none_of_the_owners_answers_to_a_shared_card(world):
    card = world.decks["curated"].cards.get(position=1)
    client = client_for(world, "other")
    history = client.get(reverse("flashcards:card_history", args=[card.pk]))
    assert history.context["memory"] is None
    assert list(history.context["reviews"]) == []
    assert list(client.get(reverse("flashcards:progress")).context["recent"]) == []
    export = client.get(reverse("flashcards:export_history", args=["json"]))
    assert json.loads(body(export)) == []
    owners = client_for(world, "owner").get(reverse("flashcards:export_history", args=["json"]))
    assert len(json.loads(body(owners))) == 2


# CSRF, and GETs that change nothing.


def csrf_token_from_page(client):
    """The token htmx sends, from the hx-headers on the page's <body>."""
    page = client.get(reverse("flashcards:deck_list"))
    headers = re.search(r"<body[^>]*\shx-headers(?::inherited)?='([^']+)'", page.text)
    return json.loads(headers.group(1))["X-CSRFToken"]


def role_allowed(statuses):
    """A role whose POST gets past the view's own checks; else the superuser, whose 403 then
    comes from a permission, not from CSRF."""
    for role in ("owner", "superuser", "staff", "other", "anonymous"):
        if statuses[role] not in ("login", "admin-login", "403", "404", "405"):
            return role
    return "superuser"


@pytest.mark.parametrize(("key", "route", "target", "statuses"), url_targets("POST"))
def test_a_post_without_the_csrf_token_is_refused_and_with_it_is_answered(
    world, key, route, target, statuses
):
    role = role_allowed(statuses)
    client = client_for(world, role, enforce_csrf_checks=True)
    token = csrf_token_from_page(client)
    path, data = path_for(world, key, route, target), post_data(world, key, target)
    before = snapshot()
    for headers in ({}, HTMX):
        refused = client.post(path, data, **headers)
        assert refused.status_code == 403
        assert "CSRF verification failed" in refused.text
    assert snapshot() == before
    accepted = client.post(path, data, HTTP_X_CSRFTOKEN=token)
    assert outcome(accepted) == statuses[role], f"POST {path} as {role}"
    assert "CSRF verification failed" not in body(accepted)


def test_the_csrf_cookie_also_serves_as_the_token(world):
    client = client_for(world, "other", enforce_csrf_checks=True)
    client.get(reverse("flashcards:deck_list"))
    token = client.cookies["csrftoken"].value
    deck = world.decks["curated"]
    data = post_data(world, "flashcards:answer", "curated")
    response = client.post(
        reverse("flashcards:answer", args=[deck.slug]), data, HTTP_X_CSRFTOKEN=token, **HTMX
    )
    assert response.status_code == 200
    assert Review.objects.filter(user=world.users.other).count() == 1


@pytest.mark.parametrize("role", ["owner", "superuser"])
@pytest.mark.parametrize(("key", "route", "target", "statuses"), url_targets("GET"))
def test_a_get_changes_no_row_and_its_page_has_no_inline_script(
    world, key, route, target, statuses, role
):
    """As the owner, and as the superuser, who alone gets past the admin's login. Profiles are
    made in the world fixture, since profile_for() creates one on a learner's first visit."""
    client = client_for(world, role)
    path = path_for(world, key, route, target)
    before = snapshot()
    page = client.get(path)
    fragment = client.get(path, **HTMX)
    assert snapshot() == before
    assert outcome(page) == statuses[role]
    for response in (page, fragment):
        if response.status_code == 200 and is_html(response):
            assert_no_inline_script(response)


# The Content-Security-Policy.


@pytest.mark.parametrize(
    "path", ["/", "/accounts/login/", "/accounts/signup/", "/admin/login/", "/no-such-page/"]
)
def test_every_response_carries_a_csp_without_inline_script(client, db, path):
    policy = client.get(path)["Content-Security-Policy"]
    directives = {
        name: value
        for name, _, value in (item.strip().partition(" ") for item in policy.split(";"))
    }
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_every_page_refuses_framing_and_content_sniffing(client, db):
    response = client.get(reverse("flashcards:deck_list"))
    assert response["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_template_of_ours_has_an_inline_script():
    templates = sorted((settings.BASE_DIR / "templates").rglob("*.html"))
    assert templates
    for template in templates:
        scripts = ScriptTags(template.read_text()).scripts
        assert all(attrs.get("src") for attrs in scripts), template


# Logging in, signing up, resetting a password.


def log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def login_errors(response):
    return response.context["form"].non_field_errors()


@pytest.fixture
def window_start(settings):
    """Failures are counted in fixed windows: a test starts at the beginning of one."""
    window = settings.LOGIN_FAILURE_WINDOW
    with time_machine.travel((time.time() // window + 1) * window, tick=True):
        yield


def test_five_failures_from_one_address_refuse_even_the_right_password_there(
    world, settings, window_start
):
    client = Client()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        assert THROTTLED not in login_errors(log_in(client, "owner", "wrong password"))
    refused = log_in(client, "owner", PASSWORD)
    assert refused.status_code == 200
    assert login_errors(refused) == [THROTTLED]
    assert "_auth_user_id" not in client.session
    # Another account from that address, and the account from another address, are not.
    assert log_in(Client(), "other", PASSWORD).status_code == 302
    assert log_in(Client(REMOTE_ADDR="10.0.0.2"), "owner", PASSWORD).status_code == 302


def test_four_failures_still_let_the_right_password_in(world, settings, window_start):
    client = Client()
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS - 1):
        log_in(client, "owner", "wrong password")
    assert log_in(client, "owner", PASSWORD).status_code == 302


def test_twenty_failures_from_one_address_block_that_address(world, settings, window_start):
    attacker = Client(REMOTE_ADDR="10.0.0.9")
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        assert THROTTLED not in login_errors(log_in(attacker, f"guess{n}", "wrong password"))
    assert login_errors(log_in(attacker, "owner", PASSWORD)) == [THROTTLED]
    assert log_in(Client(REMOTE_ADDR="10.0.0.10"), "owner", PASSWORD).status_code == 302


def test_a_wrong_password_and_an_unknown_username_fail_alike(world, settings, window_start):
    def page(username):
        response = log_in(Client(), username, "wrong password")
        text = re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", response.text)
        return response.status_code, login_errors(response), text

    assert page("owner") == page("nobody-by-this-name")
    for username in ("other", "nobody-by-this-name"):
        for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
            log_in(Client(), username, "wrong password")
    assert page("other") == page("nobody-by-this-name")
    assert page("other")[1] == [THROTTLED]


def test_behind_the_proxy_one_clients_failures_do_not_lock_out_another(
    world, settings, window_start
):
    settings.TRUSTED_PROXIES = 1
    proxy = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_PROTO": "https"}
    attacker = Client(HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        log_in(attacker, f"guess{n}", "wrong password")
    learner = Client(HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    response = log_in(learner, "owner", PASSWORD)
    assert THROTTLED not in response.text
    assert response.status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_address_is_ignored(
    world, settings, window_start
):
    settings.TRUSTED_PROXIES = 0
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        forged = Client(HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        log_in(forged, f"guess{n}", "wrong password")
    # Every attempt came from the one real address, whatever the header claimed.
    response = log_in(Client(), "owner", PASSWORD)
    assert THROTTLED in response.text


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
@pytest.mark.parametrize("view", ["login", "flashcards:switch_theme"])
def test_a_next_address_on_another_site_is_not_followed(world, view, target):
    data = {"username": "owner", "password": PASSWORD, "next": target}
    response = Client().post(reverse(view), data)
    assert response["Location"] == reverse("flashcards:deck_list")


def test_logging_in_gives_a_new_session_key(world):
    client = Client()
    session = client.session
    session["before_login"] = True
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    assert log_in(client, "owner", PASSWORD).status_code == 302
    assert client.cookies[settings.SESSION_COOKIE_NAME].value != session.session_key
    assert not session.exists(session.session_key)


@pytest.mark.parametrize(
    ("password", "error"),
    [
        ("k7#qa", "This password is too short. It must contain at least 8 characters."),
        ("password1", "This password is too common."),
        ("83920174651", "This password is entirely numeric."),
        ("marguerite77", "The password is too similar to the username."),
    ],
)
def test_sign_up_refuses_a_weak_password(client, db, password, error):
    data = {"username": "marguerite", "password1": password, "password2": password}
    response = client.post(reverse("flashcards:signup"), data)
    assert response.status_code == 200
    assert error in response.context["form"].errors["password2"]
    assert not get_user_model().objects.exists()


def test_password_reset_answers_alike_for_a_known_and_an_unknown_address(world, mailoutbox):
    def reset(email):
        response = Client().post(reverse("password_reset"), {"email": email}, follow=True)
        text = re.sub(r'"X-CSRFToken": "[^"]*"', "", response.text)
        return response.redirect_chain, response.status_code, text

    known = reset("owner@example.com")
    assert [message.to for message in mailoutbox] == [["owner@example.com"]]
    unknown = reset("nobody@example.com")
    assert len(mailoutbox) == 1
    assert known == unknown
    assert known[0] == [(reverse("password_reset_done"), 302)]


# Uploads.


def upload(client, name, data):
    return client.post(
        reverse("flashcards:import_upload"), {"file": SimpleUploadedFile(name, data), "deck": ""}
    )


def test_an_import_over_10_mb_is_refused_with_a_message(world):
    client = client_for(world, "owner")
    data = b"front,back\n" + b"x" * settings.MAX_IMPORT_BYTES
    response = upload(client, "huge.csv", data)
    assert response.status_code == 400
    assert re.search(r"imports are limited to 10\s+MB", response.text)
    assert PendingImport.objects.count() == 1  # the world's own


def apkg_with_member(name):
    buffer = io.BytesIO(write_apkg("Smuggled", [("g-1", "Front", "Back")]))
    if name:
        with zipfile.ZipFile(buffer, "a") as archive:
            archive.writestr(name, b"echo owned")
    return buffer.getvalue()


def test_a_package_without_a_stray_member_is_accepted(world):
    response = upload(client_for(world, "owner"), "deck.apkg", apkg_with_member(None))
    assert response.status_code == 302
    assert PendingImport.objects.count() == 2


@pytest.mark.parametrize("name", ["../x", "/etc/x", "media/../../x"])
def test_a_package_with_a_member_outside_its_folder_is_refused(world, name):
    client = client_for(world, "owner")
    response = upload(client, "deck.apkg", apkg_with_member(name))
    run_worker()  # the import's job reads it, as `manage.py db_worker` would
    page = client.get(response["Location"])
    assert "The package is refused" in page.text
    assert "points outside its folder" in page.text
    refused = PendingImport.objects.exclude(pk=world.pending.pk).get()
    assert (refused.status, bytes(refused.data)) == ("refused", b"")
