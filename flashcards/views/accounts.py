"""Signing up and a learner's study settings."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from flashcards.forms import SettingsForm, SignUpForm
from flashcards.models import (
    profile_for,
)


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
    return render(request, "flashcards/settings.html", {"form": form})


def signup(request):
    if request.user.is_authenticated:
        return redirect("flashcards:deck_list")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome, {user.username}! Pick a deck to start studying.")
        return redirect("flashcards:deck_list")
    return render(request, "registration/signup.html", {"form": form})
