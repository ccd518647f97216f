"""Who may see what: helpers every view uses, so that cross-user access cannot be forgotten."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from flashcards.models import Deck


def login_required_for_study(view):
    """Like login_required, but an HTMX request gets a fragment saying so, not a login page."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated:
            return view(request, *args, **kwargs)
        if request.htmx:
            study_url = reverse("flashcards:study", args=[kwargs["slug"]])
            return render(
                request,
                "flashcards/study.html#logged_out",
                {"login_url": f"{reverse('login')}?next={study_url}"},
                status=401,
            )
        return redirect_to_login(request.get_full_path())

    return wrapper


def get_deck_for_user(user, slug):
    """A deck the user may see, or 404: another learner's deck is never revealed."""
    return get_object_or_404(Deck.objects.visible_to(user), slug=slug)


def get_deck_for_editor(user, slug):
    """A deck the user may edit; 404 if they cannot see it, 403 if they only study it."""
    deck = get_deck_for_user(user, slug)
    if not deck.editable_by(user):
        raise PermissionDenied
    return deck


# The largest value of a 64-bit integer column: a larger id names nothing.
MAX_ID = 2**63 - 1


def int_field(data, name):
    """The field as a whole number a database column holds, or None: "²" is a digit to
    str.isdigit() but not to int(), and a 25-digit id overflows the column."""
    value = data.get(name, "")
    if value.isascii() and value.isdigit() and len(value) <= len(str(MAX_ID)):
        number = int(value)
        return number if number <= MAX_ID else None
    return None


def staff_required(view):
    """Staff only: anonymous visitors are sent to log in, learners are refused."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper
