"""Signing up and a learner's study settings."""

import functools
import hashlib
import json
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import fitting, pooled, scheduling, stats, throttle, workload
from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import Card, Deck, Memory, Review, profile_for
from flashcards.tasks import queue_fit, retried_task

# A workload depends only on its inputs: it is kept until they change (or for a month).
WORKLOAD_KEPT_FOR = timedelta(days=30)
# Long enough for a busy worker and the task's retries; a lost task is queued again after it.
WORKLOAD_QUEUED_FOR = timedelta(hours=1)


@require_http_methods(["GET", "POST"])
@login_required
@vary_on_headers("HX-Request")
def study_settings(request):
    """The learner's settings; an HTMX request gets the workload table once it is computed."""
    profile = profile_for(request.user)
    if not profile.timezone:
        profile.timezone = profile.zone.key
    form = SettingsForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("flashcards:settings")
    context = {
        "form": form,
        "profile": profile,
        "workload": _workload(request.user, profile),
        "parameters": profile.parameters or list(scheduling.DEFAULT_PARAMETERS),
        "holdout_percent": round(fitting.HOLDOUT_FRACTION * 100),
        "adopt_below_z": f"{-fitting.ADOPT_BELOW_Z:g}",
        # Lazy: queried only where the template shows it.
        "pooled_decks": pooled.decks_scheduled_with_pooled(profile),
    }
    template = "flashcards/settings.html"
    if not request.htmx:
        return render(request, template, context)
    if context["workload"]["status"] == "computing":
        # Nothing to swap yet: the poll leaves the page, and the focus in it, as it is.
        return HttpResponse(status=204)
    return render(request, f"{template}#workload", context)


def _workload(user, profile):
    """The table of FSRS's simulator for this learner, from the cache; on a miss a worker is
    asked for it (a CPU second at 1,000 cards, up to 20 at the cap: too slow for a request)."""
    inputs = _workload_inputs(user, profile)
    if inputs["cards"] == 0 or inputs["new_cards_per_day"] == 0:
        return {"status": "nothing", **inputs}
    computed = cache.get(_workload_key(inputs))
    if computed is None:
        # One simulation queued per learner: saving settings again and again queues no more,
        # and the page's poll queues the latest once that one is done.
        if cache.add(_workload_queued_key(user.pk), True, WORKLOAD_QUEUED_FOR.total_seconds()):
            transaction.on_commit(functools.partial(compute_workload.enqueue, user.pk, inputs))
        return {"status": "computing", **inputs}
    # Both the learner's retention and the optimum have rows of their own.
    rows = [
        {
            "row": row,
            "chosen": row.retention == round(profile.desired_retention, 2),
            "optimal": row.retention == computed.optimal,
        }
        for row in computed.rows
    ]
    return {"status": "ready", "rows": rows, "optimal": computed.optimal, **inputs}


def _workload_inputs(user, profile):
    """What the simulation is made from, as JSON for the task: the learner's parameters, the
    cards of the decks they study, their new cards a day and their pace in whole seconds."""
    decks = Deck.objects.listed_for(user)
    # Before a first answer, the decks they study are those they can start.
    if Memory.objects.filter(user=user).exists():
        decks = decks.filter(pk__in=Memory.objects.filter(user=user).values("deck"))
    # Counting stops at the cap: a learner may own decks far larger than is ever simulated.
    cards = Card.objects.filter(deck__in=decks).order_by()[: workload.MAX_CARDS].count()
    pace = stats.seconds_per_answer(stats.answers_by_day(Review.objects.filter(user=user)))
    return {
        "parameters": profile.parameters or fitting.default_parameters(),
        "cards": cards,
        "new_cards_per_day": profile.new_cards_per_day,
        # Whole seconds, so that a few more answers do not start the simulation again.
        "seconds_per_answer": max(1, round(pace)),
        # To a hundredth, as the table shows it and the form's step asks.
        "also": [round(profile.desired_retention, 2)],
    }


def _workload_key(inputs):
    """The table's key: learners with the same inputs share it."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"workload:2:{digest}"


def _workload_queued_key(user_id):
    return f"workload:2:queued:{user_id}"


def _workload_given_up(user_id, inputs, error):
    """Let the next visit to the settings page queue the computation again."""
    cache.delete(_workload_queued_key(user_id))


@retried_task(on_give_up=_workload_given_up)
def compute_workload(user_id, inputs):
    """Simulate a year at each desired retention and keep the table in the cache."""
    computed = workload.workload(**inputs)
    cache.set(_workload_key(inputs), computed, WORKLOAD_KEPT_FOR.total_seconds())
    cache.delete(_workload_queued_key(user_id))


NEXT_THEME = {"auto": "dark", "dark": "light", "light": "auto"}


@require_POST
def switch_theme(request):
    """Cycle the colour theme: as the system, dark, light. Kept in the learner's settings."""
    theme = NEXT_THEME.get(request.session.get("theme", "auto"), "auto")
    request.session["theme"] = theme
    if request.user.is_authenticated:
        profile = profile_for(request.user)
        profile.theme = theme
        profile.save(update_fields=["theme"])
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        target = reverse("flashcards:deck_list")
    return redirect(target)


@login_required
@require_POST
def request_fit(request):
    """Queue a fit of the learner's parameters; a worker does it, not this request."""
    if queue_fit(request.user):
        messages.success(request, "Queued: your parameters will be fitted in the next few minutes.")
    else:
        messages.info(request, "A fit of your parameters is already queued.")
    return redirect("flashcards:settings")


def signup(request):
    if request.user.is_authenticated:
        return redirect("flashcards:deck_list")
    form = SignUpForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        messages.success(request, f"Welcome, {user.username}! Pick a deck to start studying.")
        response = redirect("flashcards:deck_list")
        throttle.remember_device(request, response, user)
        return response
    return render(request, "registration/signup.html", {"form": form})
