import hashlib
import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm
from django.core.cache import cache

from flashcards.models import Card, Deck, Profile
from flashcards.rendering import MarkdownRefused, check_markdown

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
            "front": forms.Textarea(attrs={"rows": 2, "class": "markdown-source"}),
            "back": forms.Textarea(attrs={"rows": 6, "class": "markdown-source"}),
        }
        help_texts = {
            "front": "Markdown: **bold**, *italic*, lists, `code`, tables, images by URL, "
            "math between $ signs.",
        }

    def __init__(self, *args, deck, **kwargs):
        super().__init__(*args, **kwargs)
        self.deck = deck

    def clean_front(self):
        front = self.cleaned_data["front"].strip()
        self._check_markdown(front, "The front")
        others = self.deck.cards.filter(front=front).exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError("Another card of this deck has this front.")
        return front

    def clean_back(self):
        back = self.cleaned_data["back"]
        self._check_markdown(back, "The back")
        return back

    def _check_markdown(self, text, label):
        try:
            check_markdown(text, label)
        except MarkdownRefused as refusal:
            raise forms.ValidationError(str(refusal), code="too_costly") from refusal


class ImportForm(forms.Form):
    file = forms.FileField(
        help_text="A source document (.txt), a CSV or TSV file (front, back, optional tags) or "
        "an Anki package (.apkg), up to 10 MB."
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


class ThrottledAuthenticationForm(AuthenticationForm):
    """Login that refuses an account, or an address, after repeated failures.

    The refusal reads the same whether or not the account exists, so it reveals no usernames.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": "Too many failed attempts. Wait a few minutes and try again.",
    }

    def clean(self):
        username = (self.cleaned_data.get("username") or "").strip().lower()
        address = client_address(self.request) if self.request else ""
        keys = [
            (f"login-failures:account:{username}", settings.LOGIN_FAILURES_PER_ACCOUNT),
            (f"login-failures:address:{address}", settings.LOGIN_FAILURES_PER_ADDRESS),
        ]
        if any(cache.get(_cache_key(key), 0) >= limit for key, limit in keys):
            raise forms.ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            for key, _ in keys:
                key = _cache_key(key)
                cache.add(key, 0, settings.LOGIN_FAILURE_WINDOW)
                try:
                    cache.incr(key)
                except ValueError:  # expired between add and incr
                    cache.set(key, 1, settings.LOGIN_FAILURE_WINDOW)
            raise


def client_address(request):
    """The client's address, through as many proxies as the deployment says it has."""
    if settings.TRUSTED_PROXIES:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        if len(forwarded) >= settings.TRUSTED_PROXIES and forwarded[-settings.TRUSTED_PROXIES]:
            return forwarded[-settings.TRUSTED_PROXIES]
    return request.META.get("REMOTE_ADDR", "")


def _cache_key(key):
    # Usernames may hold characters a cache key may not.
    return "throttle:" + hashlib.sha256(key.encode()).hexdigest()
