from django.contrib import admin
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.formats import localize
from django.utils.html import format_html

from flashcards import throttle
from flashcards.forms import ThrottledAdminAuthenticationForm
from flashcards.models import FIT_STATUSES, Card, Deck, Memory, Profile, Review

# The admin's login is throttled as the site's, and a successful one remembers the device.
admin.site.login_form = ThrottledAdminAuthenticationForm
admin.site.login = throttle.remembering_device(admin.site.login)


class CardInline(admin.TabularInline):
    model = Card
    fields = ("position", "front", "back")
    ordering = ("position", "id")
    extra = 1


@admin.register(Deck)
class DeckAdmin(admin.ModelAdmin):
    list_display = ("title", "slug", "published", "owner", "card_count", "updated_at")
    list_filter = ("published", ("owner", admin.EmptyFieldListFilter))
    search_fields = ("title", "description")
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("pooled_fit",)
    inlines = [CardInline]

    def get_queryset(self, request):
        # Staff curate the shared decks; learners' private decks are for superusers only.
        decks = super().get_queryset(request).annotate(card_count=Count("cards"))
        return decks if request.user.is_superuser else decks.filter(owner=None)

    @admin.display(description="cards", ordering="card_count")
    def card_count(self, deck):
        return deck.card_count

    @admin.display(description="pooled parameters")
    def pooled_fit(self, deck):
        """The nightly fit of the deck's pooled parameters: its verdict, figures and values."""
        figures = deck.pooled_evaluation
        if deck.pooled_parameters:
            adopted = figures.get("adopted_at")
            in_use = format_html(
                "Learners without a fit of their own are scheduled with these{}: <code>{}</code>",
                f" since {adopted[:10]}" if adopted else "",
                ", ".join(f"{value:.4f}" for value in deck.pooled_parameters),
            )
        else:
            in_use = "Learners without a fit of their own are scheduled with FSRS's defaults."
        if not figures:
            return format_html("<p>Never fitted.</p><p>{}</p>", in_use)
        scored = ""
        if figures.get("current"):
            scored = format_html(
                "<p>Log loss on the latest reviews: {} with the defaults, {} fitted (z = {}); "
                "RMSE (bins) {} and {}.</p>",
                f"{figures['current']['log_loss']:.4f}",
                f"{figures['candidate']['log_loss']:.4f}",
                f"{figures['z']:.2f}",
                f"{figures['current']['rmse_bins']:.4f}",
                f"{figures['candidate']['rmse_bins']:.4f}",
            )
        return format_html(
            "<p><strong>{}</strong> ({}): {} learners, {} answers. {}</p>{}<p>{}</p>",
            dict(FIT_STATUSES)[figures["status"]],
            localize(timezone.localtime(deck.pooled_at)),
            figures["learners"],
            figures["answers"],
            figures["reason"],
            scored,
            in_use,
        )


@admin.register(Card)
class CardAdmin(admin.ModelAdmin):
    actions = ["reset_progress"]
    list_display = ("front", "deck", "position", "updated_at")
    list_filter = ("deck",)
    list_select_related = ("deck",)
    search_fields = ("front", "back")
    ordering = ("deck", "position", "id")

    def get_queryset(self, request):
        cards = super().get_queryset(request)
        return cards if request.user.is_superuser else cards.filter(deck__owner=None)

    @admin.action(description="Reset every learner's progress on the selected cards")
    def reset_progress(self, request, queryset):
        now = timezone.now()
        with transaction.atomic():
            reset = sum(card.reset_progress(now) for card in queryset)
        self.message_user(
            request,
            f"{reset} learner memor{'y' if reset == 1 else 'ies'} reset; their history is kept.",
        )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Learners' history is theirs: only a superuser may read one learner's answers here, and
    nobody may change them."""

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        # Only as part of deleting a learner's account, which only a superuser may do.
        return request.user.is_superuser


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("reviewed_at", "user", "card", "deck", "rating", "duration_ms", "state_after")
    list_filter = ("rating", "deck")
    list_select_related = ("user", "card", "deck")
    search_fields = ("card__front", "user__username")
    date_hierarchy = "reviewed_at"


@admin.register(Memory)
class MemoryAdmin(ReadOnlyAdmin):
    list_display = ("user", "card", "deck", "state", "due", "reps", "lapses")
    list_filter = ("state", "deck")
    list_select_related = ("user", "card", "deck")
    search_fields = ("card__front", "user__username")


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ("user", "timezone", "new_cards_per_day", "reviews_per_day")
    search_fields = ("user__username",)
