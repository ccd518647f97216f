"""Signing up and a learner's study settings."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from flashcards import fitting, pooled, scheduling, throttle
from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import profile_for
from flashcards.tasks import queue_fit, workload_table


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
        "workload": workload_table(request.user, profile),
        "parameters": profile.parameters or list(scheduling.DEFAULT_PARAMETERS),
        "holdout_percent": round(fitting.HOLDOUT_FRACTION * 100),
        "folds": fitting.FOLDS,
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
