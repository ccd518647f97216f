"""Decks, cards, each learner's memory of a card and the history of their answers."""

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import IntegrityError, connection, models, transaction
from django.db.models import (
    Avg,
    Case,
    Count,
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
# Like Anki, when nothing else is left, learning cards due this soon are shown early.
LEARN_AHEAD = timedelta(minutes=20)
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
        super().save(*args, **kwargs)

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
            models.Index(fields=["user", "due"]),
            models.Index(fields=["user", "deck", "state", "due"]),
        ]

    def __str__(self):
        return f"{self.user} · {self.card}"

    def as_scheduling(self):
        return scheduling.Memory(
            state=self.state,
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due=self.due,
            last_review=self.last_review,
            reps=self.reps,
            lapses=self.lapses,
        )

    def set_from(self, memory):
        for field in scheduling.Memory.__dataclass_fields__:
            setattr(self, field, getattr(memory, field))


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
            # Covers the study queue's count of today's answers in a deck by kind of card.
            models.Index(fields=["user", "deck", "reviewed_at", "state_before"]),
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


class AnswerRefused(Exception):
    """An answer that cannot be recorded; the message is shown to the learner.

    `status` is 400 for a request that could never be right, 409 for one the state refuses.
    """

    def __init__(self, message, status=409):
        super().__init__(message)
        self.status = status


LEARNING_STATES = (scheduling.LEARNING, scheduling.RELEARNING)


def select_list(model, alias):
    """The columns of a model's fields, for a hand-written SELECT read back by instances()."""
    key = (connection.vendor, model, alias)
    if key not in _select_lists:
        quote = connection.ops.quote_name
        columns = (f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)
        _select_lists[key] = ", ".join(columns)
    return _select_lists[key]


def instances(row, *models):
    """Model instances from a row of select_list() columns, one model after another; None for
    a model whose primary key is NULL (the missing side of a LEFT JOIN)."""
    found, start = [], 0
    for model in models:
        width, pk_index, conversions = _reading(model)
        values = list(row[start : start + width])
        start += width
        if values[pk_index] is None:
            found.append(None)
            continue
        # Only the fields whose database value differs from Python's (datetimes on SQLite,
        # JSON) are converted, as the ORM would have done.
        for index, column, converters in conversions:
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        found.append(model.from_db(connection.alias, None, values))
    return found


# Built once per model and database: building them costs more than running them.
_select_lists = {}
_readings = {}
_insert_statements = {}


def _reading(model):
    key = (connection.vendor, model)
    if key not in _readings:
        fields = model._meta.concrete_fields
        conversions = []
        for index, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column)
            converters += field.get_db_converters(connection)
            if converters:
                conversions.append((index, column, converters))
        _readings[key] = (len(fields), fields.index(model._meta.pk), conversions)
    return _readings[key]


def insert(instance):
    """INSERT one instance and set its primary key: what save(force_insert=True) does, without
    building the statement anew on every answer."""
    model = instance._meta
    key = (connection.vendor, model.model)
    if key not in _insert_statements:
        quote = connection.ops.quote_name
        fields = [field for field in model.concrete_fields if not field.primary_key]
        columns = ", ".join(quote(field.column) for field in fields)
        placeholders = ", ".join(["%s"] * len(fields))
        returning = quote(model.pk.column)
        _insert_statements[key] = (
            fields,
            f"INSERT INTO {model.db_table} ({columns}) VALUES ({placeholders}) "
            f"RETURNING {returning}",
        )
    fields, sql = _insert_statements[key]
    params = [
        field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return instance


def study_queue(user, deck, now, profile):
    """What the learner has left to study in the deck now: one query for every count.

    Written as SQL because it runs on every answer, and building it with the ORM cost more
    than running it.
    """
    day_start, day_end = profile.study_day(now)
    counts, params = _queue_counts(user, deck.pk, day_start, day_end)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {counts}", params)
        figures = cursor.fetchone()
    return StudyQueue.of(figures, profile=profile, user=user, deck=deck, now=now, day_end=day_end)


def _queue_counts(user, deck_id, day_start, day_end):
    """A study queue's six figures as scalar subqueries of a SELECT list, and their parameters.
    `deck_id` is the deck's id, or the SQL naming the deck's id column of the query."""
    adapt = connection.ops.adapt_datetimefield_value
    card, memory, review = Card._meta.db_table, Memory._meta.db_table, Review._meta.db_table
    deck_sql, deck = (deck_id, []) if isinstance(deck_id, str) else ("%s", [deck_id])
    mine = f"FROM {memory} WHERE user_id = %s AND deck_id = {deck_sql}"
    today = f"FROM {review} WHERE user_id = %s AND deck_id = {deck_sql} AND reviewed_at >= %s"
    sql = f"""(SELECT COUNT(*) FROM {card} WHERE deck_id = {deck_sql}),
        (SELECT COUNT(*) {mine} AND state <> {scheduling.NEW}),
        (SELECT COUNT(*) {mine} AND state IN {LEARNING_STATES} AND due < %s),
        (SELECT COUNT(*) {mine} AND state = {scheduling.REVIEW} AND due < %s),
        (SELECT COUNT(*) {today} AND state_before = {scheduling.NEW}),
        (SELECT COUNT(*) {today} AND state_before = {scheduling.REVIEW})"""
    who = [user.pk, *deck]
    params = [*deck, *who, *who, adapt(day_end), *who, adapt(day_end)]
    params += [*who, adapt(day_start), *who, adapt(day_start)]
    return sql, params


class StudyQueue:
    """What one learner has left to study in one deck at one moment."""

    def __init__(
        self, *, profile, user, deck, now, day_end, cards, seen, learning, due, done_new,
        done_reviews,
    ):  # fmt: skip
        self.profile, self.user, self.deck, self.now, self.day_end = (
            profile,
            user,
            deck,
            now,
            day_end,
        )
        self.cards, self.seen, self.learning, self.due = cards, seen, learning, due
        self.done_new, self.done_reviews = done_new, done_reviews
        self.new_left = max(0, profile.new_cards_per_day - done_new)
        self.reviews_left = max(0, profile.reviews_per_day - done_reviews)

    @classmethod
    def of(cls, figures, **where):
        """The queue of the six figures _queue_counts() selects, in its order."""
        names = ("cards", "seen", "learning", "due", "done_new", "done_reviews")
        return cls(**where, **dict(zip(names, figures, strict=True)))

    def counts(self):
        """New, learning and due counts as the deck list and study screen show them."""
        return {
            "new": min(self.cards - self.seen, self.new_left),
            "learning": self.learning,
            "due": min(self.due, self.reviews_left),
        }

    def after_answer(self, before, after):
        """The queue once this answer is recorded, worked out without asking the database."""

        def today(memory):
            return memory.due is not None and memory.due < self.day_end

        def bucket(memory):
            if memory.state in LEARNING_STATES and today(memory):
                return "learning"
            if memory.state == scheduling.REVIEW and today(memory):
                return "due"
            return None

        figures = {
            "cards": self.cards,
            "seen": self.seen + (1 if before.state == scheduling.NEW else 0),
            "learning": self.learning,
            "due": self.due,
            "done_new": self.done_new + (1 if before.state == scheduling.NEW else 0),
            "done_reviews": self.done_reviews + (1 if before.state == scheduling.REVIEW else 0),
        }
        if bucket(before):
            figures[bucket(before)] -= 1
        if bucket(after):
            figures[bucket(after)] += 1
        return StudyQueue(
            profile=self.profile,
            user=self.user,
            deck=self.deck,
            now=self.now,
            day_end=self.day_end,
            **figures,
        )

    def next_card(self):
        """The next card to show and the learner's memory of it (None for a card never seen).

        Learning cards that are due come first, then reviews, then new cards; when nothing else
        is left, a learning card due within LEARN_AHEAD is shown early, as Anki does. One
        statement: each kind of card is the first of its own index range, and the best kind wins.
        """
        adapt = connection.ops.adapt_datetimefield_value
        card, memory = Card._meta.db_table, Memory._meta.db_table
        now = adapt(self.now)
        mine = f"FROM {memory} WHERE user_id = %s AND deck_id = %s AND state = %s"
        # Each kind is (card, priority, due, id): the first of its range of an index on (user,
        # deck, state, due), so that finding it reads a row or two however long the history.
        learning = f"""SELECT card_id, CASE WHEN due <= %s THEN 1 ELSE 4 END AS priority, due, id
            {mine} AND due <= %s ORDER BY due, id LIMIT 1"""
        kinds, params = [], []
        for state in LEARNING_STATES:
            kinds.append(learning)
            params += [now, self.user.pk, self.deck.pk, state, adapt(self.now + LEARN_AHEAD)]
        if self.reviews_left:
            kinds.append(f"SELECT card_id, 2, due, id {mine} AND due < %s ORDER BY due, id LIMIT 1")
            params += [self.user.pk, self.deck.pk, scheduling.REVIEW, adapt(self.day_end)]
        if self.new_left:
            kinds.append(
                f"""SELECT id, 3, %s, id FROM {card} WHERE deck_id = %s
                AND NOT EXISTS (SELECT 1 FROM {memory} seen WHERE seen.card_id = {card}.id
                    AND seen.user_id = %s AND seen.state <> {scheduling.NEW})
                ORDER BY position, id LIMIT 1"""
            )
            params += [now, self.deck.pk, self.user.pk]
        candidates = " UNION ALL ".join(
            f"SELECT * FROM ({sql}) AS kind{n}" for n, sql in enumerate(kinds)
        )
        sql = f"""SELECT {select_list(Card, "c")}, {select_list(Memory, "m")}
            FROM ({candidates}) AS pick JOIN {card} c ON c.id = pick.card_id
            LEFT JOIN {memory} m ON m.card_id = c.id AND m.user_id = %s
            ORDER BY pick.priority, pick.due, pick.id LIMIT 1"""
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, self.user.pk])
            row = cursor.fetchone()
        if row is None:
            return None, None
        card, memory = instances(row, Card, Memory)
        card.deck = self.deck
        if memory is not None:
            memory.card = card
        return card, memory

    def is_available(self, card, memory):
        """Whether this card may be answered now."""
        if memory is None or memory.state == scheduling.NEW:
            return self.new_left > 0
        if memory.state in LEARNING_STATES:
            return memory.due <= self.now + LEARN_AHEAD
        return memory.due < self.day_end and self.reviews_left > 0

    def next_due(self):
        """When the learner's next card in this deck comes due, after today's work is done."""
        upcoming = Memory.objects.filter(user=self.user, deck=self.deck, due__gt=self.now)
        return upcoming.order_by("due").values_list("due", flat=True).first()


@dataclass
class Answered:
    """What recording an answer did: the review, whether it is new, the card, and the queue."""

    review: "Review"
    created: bool
    card: "Card" = None
    queue: StudyQueue = None


def record_answer(user, card, rating, *, expected_reps, now, duration_ms, profile, shown_at=None):
    """Record one answer in one transaction; return (review, created).

    `expected_reps` is the card's review count the learner saw. A second submission of the same
    answer returns the review already recorded with created=False; any other mismatch is stale.
    """

    def read():
        memory = Memory.objects.filter(user=user, card=card).first()
        return card, memory, study_queue(user, card.deck, now, profile)

    day = profile.answer_day(now, shown_at)
    answered = _record(user, read, rating, expected_reps, now, day, duration_ms, profile)
    return answered.review, answered.created


def answer_card(
    user, slug, card_id, rating, *, expected_reps, now, duration_ms, profile, shown_at=None
):
    """Record an answer to a card, by id, of the deck with this slug; return an Answered.

    The card was shown at `shown_at` (when known): the answer counts on that study day if the
    day rolled over since, as its buttons did.

    Raises Deck.DoesNotExist for a deck the learner may not see, AnswerRefused for a card that
    is not in it.
    """

    def read():
        card, memory, queue = card_in_deck(user, card_id, slug, queue_at=(now, profile))
        if card is None or not card.deck.visible_to(user):
            if not Deck.objects.visible_to(user).filter(slug=slug).exists():
                raise Deck.DoesNotExist
            raise AnswerRefused("That card is not in this deck. Here is the next one.", 400)
        return card, memory, queue

    day = profile.answer_day(now, shown_at)
    return _record(user, read, rating, expected_reps, now, day, duration_ms, profile)


def card_in_deck(user, card_id, slug, *, queue_at=None):
    """The card with this id in the deck with this slug, its deck, and the learner's memory of
    it (None if never seen), in one query; (None, None) if there is no such card.

    With `queue_at=(now, profile)`, the same query also counts the deck's study queue, and
    (card, memory, queue) is returned.
    """
    card, deck, memory = Card._meta.db_table, Deck._meta.db_table, Memory._meta.db_table
    counts, count_params = "", []
    if queue_at:
        now, profile = queue_at
        day_start, day_end = profile.study_day(now)
        counts, count_params = _queue_counts(user, "d.id", day_start, day_end)
        counts = f", {counts}"
    sql = f"""SELECT {select_list(Card, "c")}, {select_list(Deck, "d")}, {select_list(Memory, "m")}
        {counts}
        FROM {card} c JOIN {deck} d ON d.id = c.deck_id
        LEFT JOIN {memory} m ON m.card_id = c.id AND m.user_id = %s
        WHERE c.id = %s AND d.slug = %s"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*count_params, user.pk, card_id, slug])
        row = cursor.fetchone()
    if row is None:
        return (None, None, None) if queue_at else (None, None)
    card, deck, memory = instances(row, Card, Deck, Memory)
    card.deck = deck
    if memory is not None:
        memory.card = card
    if not queue_at:
        return card, memory
    queue = StudyQueue.of(row[-6:], profile=profile, user=user, deck=deck, now=now, day_end=day_end)
    return card, memory, queue


def _record(user, read, rating, expected_reps, now, day, duration_ms, profile):
    """Record an answer. `read()` returns the card, the learner's memory of it and the deck's
    study queue, without locking anything: the write of the memory checks that its review count
    is still the one read, and two answers numbered alike cannot both be stored, so an answer
    racing another is refused when it writes."""
    if rating not in scheduling.RATINGS:
        raise AnswerRefused("Choose Again, Hard, Good or Easy (1-4).", 400)
    card = None
    try:
        with transaction.atomic():
            card, memory, queue = read()
            reps = memory.reps if memory else 0
            if reps != expected_reps:
                return Answered(_already_recorded(user, card, rating, expected_reps), False, card)
            if not queue.is_available(card, memory):
                raise AnswerRefused("That card is not due yet. Here is the next one.")
            before = memory.as_scheduling() if memory else scheduling.Memory()
            after = scheduling.review(
                before,
                rating,
                now,
                elapsed_days=profile.elapsed_days(before, day),
                seed=scheduling.fuzz_seed(card.pk, before.reps),
                **profile.scheduler_options(card.deck),
            )
            if memory is None:
                memory = Memory(user=user, card=card, deck_id=card.deck_id)
                memory.set_from(after)
                insert(memory)
            elif not _update_memory(memory, after, reps):
                # Another request answered this card between our read and our write.
                return Answered(_already_recorded(user, card, rating, expected_reps), False, card)
            review = Review.from_answer(
                user,
                card,
                rating=rating,
                at=now,
                profile=profile,
                duration_ms=duration_ms,
                before=before,
                after=after,
                day=day,
            )
            insert(review)
            return Answered(review, True, card, queue.after_answer(before, after))
    except IntegrityError:
        # Another request recorded this very answer between our read and our write.
        return Answered(_already_recorded(user, card, rating, expected_reps), False, card)


def _update_memory(memory, after, reps):
    """Write the memory after an answer if its review count is still `reps`; whether it was."""
    names = list(scheduling.Memory.__dataclass_fields__)
    fields = [Memory._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    params = [field.get_db_prep_save(getattr(after, field.name), connection) for field in fields]
    sql = f"UPDATE {Memory._meta.db_table} SET {assignments} WHERE id = %s AND reps = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, memory.pk, reps])
        if cursor.rowcount != 1:
            return False
    memory.set_from(after)
    return True


def update_each(rows, names):
    """Save these fields of each row (instances of one model), as one prepared UPDATE by id run
    for every row.

    bulk_update() builds a CASE expression per field and row in Python: rebuilding 8,000
    answers took it 90 s, this well under one.
    """
    if not rows:
        return
    model = type(rows[0])
    fields = [model._meta.get_field(name) for name in names]
    assignments = ", ".join(f"{connection.ops.quote_name(field.column)} = %s" for field in fields)
    sql = (
        f"UPDATE {connection.ops.quote_name(model._meta.db_table)} SET {assignments} WHERE id = %s"
    )
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def _already_recorded(user, card, rating, expected_reps):
    review = Review.objects.filter(user=user, card=card, number=expected_reps + 1).first()
    if review is None or review.rating != rating:
        raise AnswerRefused("That card was already answered, perhaps in another tab.")
    return review


def undo_review(user, deck, review_id, day_start):
    """Revert one of today's answers in a deck if it is still the learner's latest on its card."""
    with transaction.atomic():
        review = (
            Review.objects.select_for_update()
            .filter(user=user, deck=deck, pk=review_id, reviewed_at__gte=day_start)
            .first()
        )
        if review is None:
            raise AnswerRefused("There is nothing to undo.")
        memory = Memory.objects.select_for_update().get(user=user, card_id=review.card_id)
        if memory.reps != review.number:
            raise AnswerRefused("That answer was already undone.")
        if review.number == 1:
            memory.delete()
        else:
            memory.set_from(review.memory_before())
            memory.save()
        review.delete()
        return review


def card_insight(cards):
    """Cards annotated with figures across all learners: never one learner's answers."""
    memories = Memory.objects.filter(card=OuterRef("pk")).values("card")
    reviews = Review.objects.filter(card=OuterRef("pk")).values("card")
    review_state = Q(state_before=scheduling.REVIEW)
    return cards.annotate(
        learners=Coalesce(Subquery(memories.annotate(n=Count("id")).values("n")), 0),
        difficulty=Subquery(memories.annotate(d=Avg("difficulty")).values("d")),
        answers=Coalesce(Subquery(reviews.annotate(n=Count("id")).values("n")), 0),
        reviewed=Subquery(reviews.annotate(n=Count("id", filter=review_state)).values("n")),
        lapsed=Subquery(
            reviews.annotate(
                n=Count("id", filter=review_state & Q(rating=scheduling.AGAIN))
            ).values("n")
        ),
    ).annotate(
        lapse_rate=Case(
            When(reviewed__gt=0, then=Cast("lapsed", FloatField()) / F("reviewed")),
            default=None,
            output_field=FloatField(),
        )
    )


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
