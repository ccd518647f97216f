import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.forms.utils import ErrorDict

from flashcards import throttle
from flashcards.models import Card, Deck, Profile
from flashcards.rendering import MAX_SIDE_CHARS

TIMEZONE_CHOICES = [
    (name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())
]


class SignUpForm(UserCreationForm):
    """Sign-up; its refusals tell whether a username is taken, so an address gets only a few."""

    class Meta(UserCreationForm.Meta):
        fields = ("username",)

    def __init__(self, *args, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.counters = throttle.signup_counters(request)

    def full_clean(self):
        if self.is_bound and throttle.refused(self.counters):
            # Refused before any field is read: no lookup of the username, no password checks.
            self._errors, self.cleaned_data = ErrorDict(renderer=self.renderer), {}
            self.add_error(None, forms.ValidationError(throttle.THROTTLED, code="throttled"))
            return
        super().full_clean()
        if self._errors:
            throttle.count_failure(self.counters)


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
    desired_retention = forms.FloatField(
        min_value=0.70,
        max_value=0.97,
        label="Desired retention",
        help_text="The share of cards you want to remember when they come due, 0.70 to 0.97.",
        widget=forms.NumberInput(attrs={"step": "0.01"}),
    )

    class Meta:
        model = Profile
        fields = (
            "timezone",
            "new_cards_per_day",
            "reviews_per_day",
            "desired_retention",
            "reschedule_on_fit",
        )


class DeckForm(forms.ModelForm):
    curated = forms.BooleanField(
        required=False,
        initial=True,
        label="Curated for all learners",
        help_text="Staff only: a curated deck is studied by every learner once published. "
        "Unticked, the deck is your private deck.",
    )

    class Meta:
        model = Deck
        fields = ("title", "description", "published")
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}
        help_texts = {"published": "Staff only: learners see a curated deck once it is published."}

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if not user.is_staff:
            del self.fields["published"]
            del self.fields["curated"]
        elif self.instance.pk:
            del self.fields["curated"]


class CardForm(forms.ModelForm):
    class Meta:
        model = Card
        fields = ("front", "back", "tags")
        widgets = {
            "front": forms.Textarea(
                attrs={"rows": 2, "class": "markdown-source", "maxlength": MAX_SIDE_CHARS}
            ),
            "back": forms.Textarea(
                attrs={"rows": 6, "class": "markdown-source", "maxlength": MAX_SIDE_CHARS}
            ),
        }
        help_texts = {
            "front": "Markdown: **bold**, *italic*, lists, `code`, tables, images by URL, "
            "math between $ signs.",
        }

    def __init__(self, *args, deck, **kwargs):
        super().__init__(*args, **kwargs)
        self.deck = deck

    # Card.clean() refuses a side beyond the rendering limits, for this form as for the admin.
    def clean_front(self):
        front = self.cleaned_data["front"].strip()
        others = self.deck.cards.filter(front=front).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("Another card of this deck has this front.")
        return front


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A source document (.txt), a CSV or TSV file (front, back, optional tags) or "
        f"an Anki package (.apkg), up to {settings.MAX_IMPORT_BYTES // 1048576} MB."
    )
    deck = forms.ChoiceField(label="Import into")
    title = forms.CharField(
        required=False, max_length=200, help_text="For a new deck; the file's title otherwise."
    )
    include_history = forms.BooleanField(
        required=False,
        initial=True,
        label="Import my review history from an Anki package",
        help_text="Your answers in Anki become your progress here.",
    )

    def __init__(self, *args, decks, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deck"].choices = [("", "A new deck")] + [
            (deck.slug, deck.title) for deck in decks
        ]
        self.fields["deck"].required = False


class ThrottledAuthenticationForm(throttle.ThrottledLoginMixin, AuthenticationForm):
    """The site's login, throttled as flashcards.throttle says."""


class ThrottledAdminAuthenticationForm(throttle.ThrottledLoginMixin, AdminAuthenticationForm):
    """The admin's login, throttled as the site's."""
