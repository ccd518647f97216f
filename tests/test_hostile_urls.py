"""Every URL of the URL conf, opened with numbers or methods no form would send, answers without
a 500; and a deck's address reveals nothing of other learners' decks."""

import contextlib
import re
from urllib.parse import urlencode

import pytest
from django.urls import NoReverseMatch, resolve, reverse

from tests.conftest import make_deck, make_user
from tests.test_security import client_for, path_for, post_data, url_targets, world  # noqa: F401

# A digit to str.isdigit() that int() refuses, and an id beyond any 64-bit column.
HOSTILE = {"superscript": "²", "huge": "9" * 25}
# Every query parameter and form field a view of ours reads as a number, or at all.
QUERY_NAMES = ("card", "shown", "page", "sort", "deck", "title", "from", "review", "p", "o", "q")
FORM_NAMES = ("card", "rating", "reps", "shown_at", "review")
# Views whose fields are numbers are tried a field at a time, the others valid.
NUMBER_FIELDS = {
    "flashcards:answer": ("card", "rating", "reps", "shown_at"),
    "flashcards:undo": ("review",),
}
# Arguments that name an object found in the world, not a number the visitor chooses.
KEPT_ARGUMENTS = ("slug", "uidb64", "token", "app_label")


def cases():
    """A GET with hostile URL arguments, one with a hostile query; a POST with every field and
    argument hostile, and one per field of the views whose fields are numbers."""
    for name, value in HOSTILE.items():
        for param in url_targets("GET"):
            for part in ("path", "query"):
                yield pytest.param(
                    "GET", *param.values[:3], value, part, id=f"{param.id}-{part}-{name}"
                )
        for param in url_targets("POST"):
            for field in (None, *NUMBER_FIELDS.get(param.values[0], ())):
                yield pytest.param(
                    "POST",
                    *param.values[:3],
                    value,
                    field,
                    id=f"{param.id}-{field or 'all'}-{name}",
                )


def hostile_path(path, value):
    """The same URL with every argument the visitor chooses set to the hostile value."""
    match = resolve(path)
    kwargs = {
        name: argument if name in KEPT_ARGUMENTS else value
        for name, argument in match.kwargs.items()
    }
    # Where the URL's converter refuses the value, the URL keeps its own arguments.
    with contextlib.suppress(NoReverseMatch):
        path = reverse(match.view_name, kwargs=kwargs)
    return path


@pytest.mark.parametrize(("method", "key", "route", "target", "value", "part"), list(cases()))
def test_a_hostile_number_in_any_url_query_or_form_is_never_a_server_error(
    world,  # noqa: F811
    method,
    key,
    route,
    target,
    value,
    part,
):
    role = "superuser" if key.startswith("admin") else "owner"
    client = client_for(world, role)
    path = path_for(world, key, route, target)
    if method == "GET" and part == "path":
        response = client.get(hostile_path(path, value))
    elif method == "GET":
        response = client.get(f"{path}?{urlencode(dict.fromkeys(QUERY_NAMES, value))}")
    else:
        data = post_data(world, key, target)
        if part is None:
            path, names = hostile_path(path, value), [*data, *FORM_NAMES]
        else:
            names = [part]
        response = client.post(path, data | dict.fromkeys(names, value))
    assert response.status_code < 500, f"{method} {path} as {role} ({part} = {value})"


FLASHCARDS_TARGETS = [
    pytest.param(*param.values[:3], id=param.id)
    for param in url_targets("GET")
    if param.values[0].startswith("flashcards:")
]


@pytest.mark.parametrize(("key", "route", "target"), FLASHCARDS_TARGETS)
def test_no_page_of_ours_answers_a_put_or_a_delete(world, key, route, target):  # noqa: F811
    """Each says 405, or refuses the learner as it refuses their GET (403, a redirect)."""
    client = client_for(world, "owner")
    path = path_for(world, key, route, target)
    refusal = client.get(path).status_code
    for method in (client.put, client.delete):
        status = method(path).status_code
        assert status == 405 or status == refusal != 200, f"{method.__name__} {path}: {status}"


def test_a_private_decks_address_does_not_tell_that_another_deck_has_its_title(db):
    owner, other = make_user(), make_user()
    theirs = make_deck("Secret X", cards=0, owner=owner)
    mine = make_deck("Secret X", cards=0, owner=other)
    curated = make_deck("Secret X", cards=0)
    assert theirs.slug.startswith("secret-x-") and mine.slug.startswith("secret-x-")
    assert len({theirs.slug, mine.slug, curated.slug}) == 3
    assert curated.slug == "secret-x"
    assert re.fullmatch(r"secret-x-[a-z0-9]{6}", mine.slug)
