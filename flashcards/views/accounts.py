"""Signing up and a learner's study settings."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from flashcards import fitting, pooled, scheduling, throttle
from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import profile_for
from flashcards.tasks import queue_fit


@require_http_methods(["GET", "POST"])
@login_required
def study_settings(request):
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
        "workload": _workload(profile),
        "parameters": profile.parameters or list(scheduling.DEFAULT_PARAMETERS),
        "holdout_percent": round(fitting.HOLDOUT_FRACTION * 100),
        "adopt_below_z": f"{-fitting.ADOPT_BELOW_Z:g}",
        # Lazy: queried only where the template shows it.
        "pooled_decks": pooled.decks_scheduled_with_pooled(profile),
    }
    return render(request, "flashcards/settings.html", context)


def _workload(profile):
    """Reviews a day at each desired retention, relative to 0.90, under the learner's curve.

    An interval is proportional to (R ** (1 / decay) - 1); the number of reviews to its inverse.
    """
    factor, decay = scheduling.forgetting_curve(profile.parameters or None)

    def interval(retention):
        return (retention ** (1 / decay) - 1) / factor

    return [
        {
            "retention": retention,
            "relative": interval(0.90) / interval(retention),
            "chosen": abs(retention - profile.desired_retention) < 0.005,
        }
        for retention in (0.70, 0.80, 0.85, 0.90, 0.95, 0.97)
    ]


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
