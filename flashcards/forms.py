import zoneinfo

from django import forms
from django.contrib.auth.forms import UserCreationForm

from flashcards.models import Profile

TIMEZONE_CHOICES = [
    (name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())
]


class SignUpForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        fields = ("username",)


class SettingsForm(forms.ModelForm):
    timezone = forms.ChoiceField(
        choices=TIMEZONE_CHOICES,
        label="Time zone",
        help_text="Your study day starts at 4 AM in this time zone.",
    )
    new_cards_per_day = forms.IntegerField(
        min_value=0, max_value=9999, label="New cards per day, per deck"
    )
    reviews_per_day = forms.IntegerField(
        min_value=0, max_value=99999, label="Reviews per day, per deck"
    )

    class Meta:
        model = Profile
        fields = ("timezone", "new_cards_per_day", "reviews_per_day")
