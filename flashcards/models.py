"""Decks, cards, each learner's memory of a card and the history of their answers."""

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import (
    Avg,
    Case,
    Count,
    Exists,
    F,
    FloatField,
    OuterRef,
    Q,
    Subquery,
    When,
)
from django.db.models.functions import Cast, Coalesce
from django.urls import reverse
from django.utils.crypto import get_random_string
from django.utils.safestring import mark_safe
from django.utils.text import slugify

from flashcards import scheduling
from flashcards.rendering import MarkdownRefused, check_markdown, render_markdown

DAY_ROLLOVER_HOUR = 4
# Deck slugs that would shadow a URL of their own (/decks/new/).
RESERVED_SLUGS = {"new"}
# A learner who leaves a card on screen longer than this was not thinking about it (Anki's cap).
MAX_ANSWER_MS = 60_000


class DeckQuerySet(models.QuerySet):
    def listed_for(self, user):
        """The decks a user studies: published curated decks and their own; staff also see
        unpublished curated decks. A deck still being imported is nobody's yet."""
        if not user.is_authenticated:
            return self.filter(owner=None, published=True, hidden=False)
        curated = Q(owner=None) if user.is_staff else Q(owner=None, published=True)
        return self.filter(curated | Q(owner=user), hidden=False)

    def visible_to(self, user):
        """The decks a user may open: those listed for them; a superuser may open any deck that
        is not still being imported."""
        if user.is_authenticated and user.is_superuser:
            return self.filter(hidden=False)
        return self.listed_for(user)


class DeckManager(models.Manager.from_queryset(DeckQuerySet)):
    def get_by_natural_key(self, slug):
        return self.get(slug=slug)


class Deck(models.Model):
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    published = models.BooleanField(default=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="decks",
        help_text="Empty for a deck curated by staff; a learner's private deck otherwise.",
    )
    # An import writes a deck's new cards into a hidden deck, and shows them in one step.
    hidden = models.BooleanField(default=False, editable=False)
    # FSRS-6 parameters fitted to every learner's answers on this curated deck, adopted only
    # when they beat the defaults through the fitting gate; empty means FSRS's defaults. A
    # learner without parameters of their own is scheduled with them on this deck.
    pooled_parameters = models.JSONField(default=list, blank=True, editable=False)
    pooled_evaluation = models.JSONField(default=dict, blank=True, editable=False)
    pooled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DeckManager()

    class Meta:
        ordering = ["title"]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = self._unique_slug()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("flashcards:study", args=[self.slug])

    def _unique_slug(self):
        base = slugify(self.title)[:180] or "deck"
        if self.owner_id is not None:
            # A private deck's slug ends in a random token: a numbered one ("secret-x-2") would
            # tell its owner that somebody else has a deck of that title.
            base = f"{base}-{get_random_string(6, 'abcdefghijklmnopqrstuvwxyz0123456789')}"
        slug, n = base, 1
        while slug in RESERVED_SLUGS or Deck.objects.filter(slug=slug).exclude(pk=self.pk).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug

    def natural_key(self):
        return (self.slug,)

    def visible_to(self, user):
        """Deck.objects.visible_to(user), for a deck already in hand."""
        if self.hidden:
            return False
        if user.is_authenticated and (user.is_superuser or self.owner_id == user.pk):
            return True
        if self.owner_id is not None:
            return False
        return self.published or (user.is_authenticated and user.is_staff)

    def editable_by(self, user):
        """The owner edits a private deck; staff edit curated decks; a superuser edits any."""
        if not user.is_authenticated:
            return False
        if user.is_superuser:
            return True
        return self.owner_id == user.pk if self.owner_id else user.is_staff

    def next_position(self):
        last = self.cards.aggregate(last=models.Max("position"))["last"]
        return (last or 0) + 1


class CardQuerySet(models.QuerySet):
    def with_insight(self):
        """Cards annotated with figures across all learners: never one learner's answers."""
        memories = Memory.objects.filter(card=OuterRef("pk")).values("card")
        reviews = Review.objects.filter(card=OuterRef("pk")).values("card")
        review_state = Q(state_before=scheduling.REVIEW)
        lapsed = review_state & Q(rating=scheduling.AGAIN)
        return self.annotate(
            learners=Coalesce(Subquery(memories.annotate(n=Count("id")).values("n")), 0),
            difficulty=Subquery(memories.annotate(d=Avg("difficulty")).values("d")),
            answers=Coalesce(Subquery(reviews.annotate(n=Count("id")).values("n")), 0),
            reviewed=Subquery(reviews.annotate(n=Count("id", filter=review_state)).values("n")),
            lapsed=Subquery(reviews.annotate(n=Count("id", filter=lapsed)).values("n")),
        ).annotate(
            lapse_rate=Case(
                When(reviewed__gt=0, then=Cast("lapsed", FloatField()) / F("reviewed")),
                default=None,
                output_field=FloatField(),
            )
        )


class Card(models.Model):
    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="cards")
    front = models.TextField(help_text="Markdown.")
    back = models.TextField(help_text="Markdown.")
    position = models.PositiveIntegerField(default=0, help_text="Order of new cards in the deck.")
    tags = models.CharField(max_length=500, blank=True, help_text="Separated by spaces.")
    # The sanitised HTML of front and back, rendered when the card is saved: the study loop
    # shows a card far more often than anyone edits it. Empty until then (loaddata saves raw).
    front_html = models.TextField(blank=True, editable=False)
    back_html = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CardQuerySet.as_manager()

    class Meta:
        ordering = ["deck", "position", "id"]
        indexes = [models.Index(fields=["deck", "position"])]

    def __str__(self):
        return self.front[:80]

    def save(self, *args, **kwargs):
        self.front_html = render_markdown(self.front)
        self.back_html = render_markdown(self.back)
        if (fields := kwargs.get("update_fields")) is not None and {"front", "back"} & set(fields):
            kwargs["update_fields"] = {*fields, "front_html", "back_html"}
        placed = self._state.adding or (
            Card.objects.filter(pk=self.pk).values_list("deck_id", "position").first()
            != (self.deck_id, self.position)
        )
        super().save(*args, **kwargs)
        if placed:
            # A card placed before a learner's unseen cards is unseen too.
            NewCardCursor.rewind(self)

    def clean(self):
        """Refuse text beyond the limits that keep rendering it cheap (the admin, the editor)."""
        errors = {}
        for field, label in (("front", "The front"), ("back", "The back")):
            try:
                check_markdown(getattr(self, field), label)
            except MarkdownRefused as refusal:
                errors[field] = str(refusal)
        if errors:
            raise ValidationError(errors)

    @property
    def front_rendered(self):
        return mark_safe(self.front_html or render_markdown(self.front))  # noqa: S308 - nh3

    @property
    def back_rendered(self):
        return mark_safe(self.back_html or render_markdown(self.back))  # noqa: S308 - nh3

    def reset_progress(self, now):
        """Every learner starts this card anew; their history of it is kept."""
        NewCardCursor.rewind(self)
        MemorySnapshot.forget(Memory.objects.filter(card=self).values("user"))
        # The review count stays, so that the next answer is numbered after the kept history.
        return Memory.objects.filter(card=self).update(
            state=scheduling.NEW,
            step=None,
            stability=None,
            difficulty=None,
            due=now,
            last_review=None,
            lapses=0,
        )


THEMES = [("auto", "As the system"), ("light", "Light"), ("dark", "Dark")]
FIT_STATUSES = [
    ("", "Never fitted"),
    ("queued", "Queued"),
    ("adopted", "Adopted"),
    ("kept", "Kept the previous parameters"),
    ("failed", "Failed"),
]


class Profile(models.Model):
    """A learner's study settings, and the scheduler parameters fitted to their history."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    timezone = models.CharField(max_length=64, default="", blank=True)
    new_cards_per_day = models.PositiveIntegerField(default=20)
    reviews_per_day = models.PositiveIntegerField(default=200)
    desired_retention = models.FloatField(
        default=scheduling.DESIRED_RETENTION,
        validators=[MinValueValidator(0.70), MaxValueValidator(0.97)],
    )
    # FSRS-6 parameters fitted to this learner's history; empty means FSRS's defaults.
    parameters = models.JSONField(default=list, blank=True)
    previous_parameters = models.JSONField(default=list, blank=True)
    fit_status = models.CharField(
        max_length=10, choices=FIT_STATUSES, default="", blank=True, db_index=True
    )
    fit_message = models.TextField(blank=True)
    fit_evaluation = models.JSONField(default=dict, blank=True)
    fit_requested_at = models.DateTimeField(null=True, blank=True)
    fitted_at = models.DateTimeField(null=True, blank=True)
    theme = models.CharField(max_length=5, choices=THEMES, default="auto")
    reschedule_on_fit = models.BooleanField(
        default=True,
        help_text="When new parameters are adopted, reschedule your cards from their history.",
    )

    def __str__(self):
        return f"Settings of {self.user}"

    @property
    def zone(self):
        try:
            return zoneinfo.ZoneInfo(self.timezone or settings.TIME_ZONE)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return zoneinfo.ZoneInfo(settings.TIME_ZONE)

    def parameters_for(self, deck):
        """The parameters this learner's cards of `deck` are scheduled with: their own fit, else
        the deck's pooled one, else None (FSRS's defaults)."""
        return self.parameters or deck.pooled_parameters or None

    def scheduler_options(self, deck):
        """The keyword arguments the scheduling functions take for this learner's cards of
        `deck`."""
        return {
            "parameters": self.parameters_for(deck),
            "desired_retention": self.desired_retention,
        }

    def study_date(self, now):
        """The calendar date of the study day holding `now`: it rolls over at 4 AM local time."""
        local = now.astimezone(self.zone)
        if local.hour < DAY_ROLLOVER_HOUR:
            return local.date() - timedelta(days=1)
        return local.date()

    def day_start(self, date):
        """When the study day of `date` starts, in UTC."""
        return datetime.combine(date, time(DAY_ROLLOVER_HOUR), tzinfo=self.zone).astimezone(UTC)

    def study_day(self, now):
        """The [start, end) of the study day holding `now`, in UTC so that arithmetic across a
        daylight-saving change counts real hours."""
        date = self.study_date(now)
        return self.day_start(date), self.day_start(date + timedelta(days=1))

    def answer_day(self, now, shown_at=None):
        """The study day an answer given at `now` counts on: the day its card was shown
        (`shown_at`) if the day rolled over while it was on screen, so that the intervals
        applied are those its buttons showed; else the day of `now`."""
        today = self.study_date(now)
        yesterday = today - timedelta(days=1)
        if shown_at is not None and shown_at <= now and self.study_date(shown_at) == yesterday:
            return yesterday
        return today

    def elapsed_days(self, memory, day):
        """Study days from the memory's last answer to the study day `day`; None if the card
        was never answered (or its progress was reset)."""
        if memory.last_review is None:
            return None
        return scheduling.study_days_between(self.study_date(memory.last_review), day)


def profile_for(user):
    """The learner's settings: already loaded with the learner (flashcards.auth), else made."""
    try:
        return user.profile
    except Profile.DoesNotExist:
        profile, _ = Profile.objects.get_or_create(user=user)
        user.profile = profile
        return profile


class Memory(models.Model):
    """What the scheduler knows of one learner's memory of one card; absent for a new card."""

    STATE_CHOICES = [(k, v) for k, v in scheduling.STATE_LABELS.items()]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    card = models.ForeignKey(Card, on_delete=models.CASCADE, related_name="memories")
    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="+")
    state = models.PositiveSmallIntegerField(choices=STATE_CHOICES)
    step = models.PositiveSmallIntegerField(null=True, blank=True)
    stability = models.FloatField(null=True, blank=True)
    difficulty = models.FloatField(null=True, blank=True)
    due = models.DateTimeField()
    last_review = models.DateTimeField(null=True, blank=True)
    reps = models.PositiveIntegerField(default=0)
    lapses = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "memories"
        constraints = [
            models.UniqueConstraint(fields=["user", "card"], name="one_memory_per_user_and_card")
        ]
        indexes = [
            # The forecast counts cards by due day from it alone.
            models.Index(fields=["user", "due", "state"], name="memory_due"),
            # The study queue reads ranges of it by (user, deck, state, due); the progress page
            # sums every learner's memory from it alone, without the table.
            models.Index(
                fields=["user", "deck", "state", "due", "last_review", "stability"],
                name="memory_queue_and_figures",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.card}"

    # The fields the scheduler reads and writes: those of scheduling.Memory.
    SCHEDULING_FIELDS = tuple(scheduling.Memory.__dataclass_fields__)

    def as_scheduling(self):
        return scheduling.Memory(**{name: getattr(self, name) for name in self.SCHEDULING_FIELDS})

    def set_from(self, memory):
        for name in self.SCHEDULING_FIELDS:
            setattr(self, name, getattr(memory, name))


class NewCardCursor(models.Model):
    """Where a learner's unseen cards of a deck start.

    Every card of the deck before (position, card id), in the order new cards are introduced,
    has been seen by the learner. Finding and counting their new cards starts here rather than
    reading every card they have seen: the cost stays the same at 19,000 cards seen as at none.
    No cursor means from the start.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(default=0)
    # Not a foreign key: the card may be deleted, and the cursor stays a valid bound.
    card_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "deck"], name="one_new_card_cursor_per_user_and_deck"
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.deck} from position {self.position}"

    @classmethod
    def move(cls, user, deck_id, to, *, since):
        """Move the learner's cursor of the deck to `to` (position, card id), their first unseen
        card, found when the cursor was at `since`: if it has moved meanwhile (an undo may have
        moved it back), it stays."""
        position, card_id = to
        cls.objects.filter(user=user, deck_id=deck_id, position=since[0], card_id=since[1]).update(
            position=position, card_id=card_id
        )

    @classmethod
    def start(cls, user, deck_id, at):
        """The learner's first cursor in the deck, at `at` (position, card id): their first
        unseen card as they answer their first new card there."""
        cls.objects.bulk_create(
            [cls(user=user, deck_id=deck_id, position=at[0], card_id=at[1])],
            ignore_conflicts=True,
        )

    @classmethod
    def catch_up(cls, user_id, deck_id):
        """Put the learner's cursor at their first unseen card of the deck, reading every card
        before it: once, after their memories were written in bulk (an import with history, a
        simulation), which moves no cursor."""
        seen = Memory.objects.filter(user_id=user_id, card=OuterRef("pk")).exclude(
            state=scheduling.NEW
        )
        cards = Card.objects.filter(deck_id=deck_id).order_by("position", "id")
        first = cards.exclude(Exists(seen)).values_list("position", "id").first()
        if first is None:
            # Every card seen: a card added later at the end is the next new one.
            last = cards.reverse().values_list("position", "id").first() or (0, -1)
            first = (last[0], last[1] + 1)
        cls.objects.update_or_create(
            user_id=user_id,
            deck_id=deck_id,
            defaults={"position": first[0], "card_id": first[1]},
        )

    @classmethod
    def rewind(cls, card, learners=None):
        """Move back to `card` the cursors past it (of `learners`, a Q on this model, or of
        everyone): it is, or may be again, unseen."""
        at_or_before = Q(position__lt=card.position) | Q(
            position=card.position, card_id__lte=card.pk
        )
        past = cls.objects.filter(deck_id=card.deck_id).exclude(at_or_before)
        if learners is not None:
            past = past.filter(learners)
        past.update(position=card.position, card_id=card.pk)

    @classmethod
    def rewind_deck(cls, deck):
        """Every learner's unseen cards of the deck start from its first card again: its cards
        were put in a new order."""
        cls.objects.filter(deck=deck).update(position=0, card_id=0)


class Review(models.Model):
    """One answer, with the memory before and after it: enough to undo it and to refit FSRS."""

    RATING_CHOICES = [(k, v) for k, v in scheduling.RATING_LABELS.items()]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    # History outlives edits; deleting a card that has been studied is refused.
    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="reviews")
    deck = models.ForeignKey(Deck, on_delete=models.PROTECT, related_name="+")
    rating = models.PositiveSmallIntegerField(choices=RATING_CHOICES)
    reviewed_at = models.DateTimeField()
    # The learner's study day (4 AM to 4 AM in their time zone) when they answered: kept, so a
    # later change of time zone does not move past days.
    study_day = models.DateField()
    # The card's first answer on that study day: what true retention counts.
    first_of_day = models.BooleanField(default=True, db_default=True)
    duration_ms = models.PositiveIntegerField(default=0)
    # The card's review count after this answer: one answer per count, so a repeated
    # submission of the same answer cannot be recorded twice.
    number = models.PositiveIntegerField()

    state_before = models.PositiveSmallIntegerField(choices=Memory.STATE_CHOICES)
    step_before = models.PositiveSmallIntegerField(null=True)
    stability_before = models.FloatField(null=True)
    difficulty_before = models.FloatField(null=True)
    due_before = models.DateTimeField(null=True)
    last_review_before = models.DateTimeField(null=True)
    lapses_before = models.PositiveIntegerField(default=0)
    # The card was in review with an interval of 21 days or more (scheduling.is_mature): kept,
    # so that true retention does not work out the interval of every answer again.
    mature_before = models.BooleanField(default=False, db_default=False)

    state_after = models.PositiveSmallIntegerField(choices=Memory.STATE_CHOICES)
    step_after = models.PositiveSmallIntegerField(null=True)
    stability_after = models.FloatField()
    difficulty_after = models.FloatField()
    due_after = models.DateTimeField()

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "card", "number"], name="one_review_per_card_count"
            ),
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=4), name="rating_between_1_and_4"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "reviewed_at"]),
            # Covers the study queue's count of today's answers in a deck by kind of card: a
            # range of at most the day's new cards, or its reviews, whatever else was answered.
            models.Index(fields=["user", "deck", "state_before", "reviewed_at"]),
            # Covers the dashboard's answers by day, for all decks or one, without the table.
            models.Index(
                fields=[
                    "user",
                    "study_day",
                    "deck",
                    "rating",
                    "duration_ms",
                    "state_before",
                    "first_of_day",
                    "mature_before",
                ]
            ),
        ]

    def __str__(self):
        return f"{self.user} answered {self.get_rating_display()} on {self.card}"

    @property
    def interval(self):
        return self.due_after - self.reviewed_at

    # The memory before and after the answer, which replaying the history recomputes.
    MEMORY_FIELDS = [
        "state_before",
        "step_before",
        "stability_before",
        "difficulty_before",
        "due_before",
        "last_review_before",
        "mature_before",
        "lapses_before",
        "state_after",
        "step_after",
        "stability_after",
        "difficulty_after",
        "due_after",
    ]

    @classmethod
    def from_answer(cls, user, card, *, rating, at, profile, duration_ms, before, after, day=None):
        """The history row of one answer, with the memory before and after it (unsaved); it
        counts on the study day `day`, by default the one holding `at`."""
        study_day = day or profile.study_date(at)
        previous_day = profile.study_date(before.last_review) if before.last_review else None
        review = cls(
            user=user,
            card=card,
            deck_id=card.deck_id,
            rating=rating,
            reviewed_at=at,
            study_day=study_day,
            first_of_day=previous_day != study_day,
            duration_ms=duration_ms,
            number=after.reps,
        )
        review.set_memories(before, after)
        return review

    def set_memories(self, before, after):
        """Hold the memory before and after this answer (scheduling.Memory)."""
        self.state_before = before.state
        self.step_before = before.step
        self.stability_before = before.stability
        self.difficulty_before = before.difficulty
        self.due_before = before.due
        self.last_review_before = before.last_review
        self.mature_before = scheduling.is_mature(before)
        self.lapses_before = before.lapses
        self.state_after = after.state
        self.step_after = after.step
        self.stability_after = after.stability
        self.difficulty_after = after.difficulty
        self.due_after = after.due

    def memory_before(self):
        return scheduling.Memory(
            state=self.state_before,
            step=self.step_before,
            stability=self.stability_before,
            difficulty=self.difficulty_before,
            due=self.due_before,
            last_review=self.last_review_before,
            reps=self.number - 1,
            lapses=self.lapses_before,
        )


class StudyDayTotal(models.Model):
    """One learner's answers in one deck on one past study day, summed as stats.Day sums them.

    The progress page reads these instead of every answer ever given: its cost stays flat at a
    million answers. They are summed from the answers when first needed (stats.answers_by_day)
    and forgotten whenever past answers change (an import with history, a reschedule, a card's
    answers deleted), to be summed again.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="+")
    study_day = models.DateField()
    answers = models.PositiveIntegerField()
    milliseconds = models.PositiveBigIntegerField()
    again = models.PositiveIntegerField()
    young = models.PositiveIntegerField()
    young_passed = models.PositiveIntegerField()
    mature = models.PositiveIntegerField()
    mature_passed = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "study_day", "deck"], name="one_total_per_user_day_and_deck"
            )
        ]

    def __str__(self):
        return f"{self.user} · {self.deck} on {self.study_day}"

    @classmethod
    def forget(cls, users):
        """Past answers of these users (ids or a queryset of them) changed: sum them again."""
        cls.objects.filter(user__in=users).delete()


class MemorySnapshot(models.Model):
    """One learner's memories, deck by deck, as they stood at the start of a study day: the
    cards by state, the forecast and the retrievability the progress page shows, summed.

    The page adds today's answers to it (stats.memory_figures) instead of reading every memory:
    its cost stays flat at 80,000 cards seen. It is summed again on the first visit of each
    study day, when the parameters change, and after any change to memories other than an
    answer or its undo (an import, a reschedule, a reset, a card or deck deleted).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    day_start = models.DateTimeField()
    # The forgetting curve's (factor, decay) the retrievability was computed with.
    curve = models.JSONField()
    # {deck id: stats.MemoryFigures as a list}, the decks the learner has memories of.
    decks = models.JSONField()

    def __str__(self):
        return f"{self.user} at {self.day_start}"

    @classmethod
    def forget(cls, users):
        """The memories of these users (ids or a queryset of them) changed: sum them again."""
        cls.objects.filter(user__in=users).delete()


IMPORT_STATUSES = [
    ("reading", "Reading the file"),
    ("ready", "Ready to import"),
    ("refused", "Refused"),
    ("writing", "Importing"),
    ("done", "Imported"),
    ("failed", "Failed"),
]


class PendingImportQuerySet(models.QuerySet):
    def holding_files(self):
        """Imports whose uploaded file is still kept: what a learner's upload quota counts."""
        return self.filter(status__in=["reading", "ready", "writing"])

    def expired(self, now):
        """Imports untouched for PendingImport.LIFETIME: abandoned, finished or stuck."""
        return self.filter(updated_at__lt=now - PendingImport.LIFETIME)


class PendingImport(models.Model):
    """An uploaded file on its way into a deck: read by a job, previewed, confirmed, then written
    by another job. Kept in the database so that any app server and worker can finish it."""

    LIFETIME = timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    deck = models.ForeignKey(Deck, null=True, blank=True, on_delete=models.CASCADE)
    filename = models.CharField(max_length=255)
    # Emptied once the file is refused, written or failed: only waiting files take up space.
    data = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    include_history = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=IMPORT_STATUSES, default="reading")
    # What reading the file found (format, title, counts, first rows, plan), so that the preview
    # never reads the file again.
    summary = models.JSONField(default=dict, blank=True)
    title = models.CharField(max_length=200, blank=True)
    message = models.TextField(blank=True)
    written = models.PositiveIntegerField(default=0)
    to_write = models.PositiveIntegerField(default=0)
    # The deck the import made or filled.
    result = models.ForeignKey(
        Deck, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    objects = PendingImportQuerySet.as_manager()

    def __str__(self):
        return f"{self.filename} for {self.user}"
