"""Writing an import: what it would change in a deck, and the change itself, keeping every
learner's memory and history of the cards it updates; and the two background jobs that read an
uploaded file and write it.

An import is written in short chunks, so that other learners keep answering while it runs (on
SQLite one writer holds the whole database), and stays invisible until it is complete:
  1. new cards go into a hidden deck; history replayed through our scheduler (outside any
     transaction) goes to a stand-in account, so that no learner's progress or queue sees it;
  2. the switch: updated cards, new cards moved into their deck, history handed to the learner,
     the new deck shown. These are plain updates of rows already written and checked, so a
     failure (a bad file, the scheduler, a constraint) happens before anything is visible, and
     then everything written is removed.
"""

import itertools
import time
from dataclasses import asdict, dataclass

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Sum
from django.utils import timezone

from flashcards import imports, scheduling
from flashcards.models import (
    MAX_ANSWER_MS,
    Card,
    Deck,
    Memory,
    MemorySnapshot,
    NewCardCursor,
    PendingImport,
    Review,
    StudyDayTotal,
    profile_for,
)
from flashcards.rendering import render_markdown
from flashcards.tasks import retried_task

# Rows per write transaction: about 30 ms each on SQLite (one in ten, which also checkpoints
# the write-ahead log, about 250 ms).
CHUNK_ROWS = 250
# Seconds between chunks on SQLite, whose busy handler polls with sleeps of up to 100 ms: a writer
# that took the lock again at once would starve the learners waiting for it. PostgreSQL locks rows,
# and an import's rows are its own, so there it does not pause.
CHUNK_PAUSE = 0.1
PREVIEW_ROWS = 10
# A learner's uploads waiting to be read, previewed or written.
MAX_WAITING_UPLOADS = 3
MAX_WAITING_BYTES = 30 * 1024 * 1024


@dataclass
class ImportPlan:
    created: int
    updated: int
    unchanged: int
    answers: int


def plan_import(deck, parsed, history_user=None):
    """What importing would do to the deck (None for a new deck), and how many answers of
    `history_user`'s would come with it."""
    existing = {}
    if deck is not None:
        existing = {
            front: (back, tags)
            for front, back, tags in deck.cards.values_list("front", "back", "tags")
        }
    created = updated = 0
    for card in parsed.cards:
        if card.front not in existing:
            created += 1
        elif existing[card.front] != (card.back, card.tags or existing[card.front][1]):
            updated += 1
    unchanged = len(parsed.cards) - created - updated
    answers = 0
    if history_user is not None:
        studied = set()
        if deck is not None:
            studied = set(
                Memory.objects.filter(user=history_user, deck=deck).values_list(
                    "card__front", flat=True
                )
            )
        answers = sum(len(card.history) for card in parsed.cards if card.front not in studied)
    return ImportPlan(created, updated, unchanged, answers)


class _Chunks:
    """Short write transactions with a pause between them, counting the rows written."""

    def __init__(self, total, progress):
        self.total, self.done, self.progress = total, 0, progress

    def run(self, items, write):
        """Call write(chunk) for each chunk of CHUNK_ROWS items, each in its own transaction."""
        self.run_groups(itertools.batched(items, CHUNK_ROWS), write, len)

    def run_groups(self, groups, write, rows):
        """Call write(group) for each group, each in its own transaction of rows(group) rows."""
        for group in groups:
            if self.done and connection.vendor == "sqlite":
                time.sleep(CHUNK_PAUSE)
            with transaction.atomic():
                write(group)
                self.done += rows(group)
                if self.progress is not None:
                    self.progress(self.done, self.total)


def apply_import(parsed, *, deck=None, owner=None, title=None, history_user=None, progress=None):
    """Write the parsed cards into `deck`, or a new deck (curated unless it has an `owner`);
    return (deck, plan).

    Cards are matched by their front: a match is updated in place, keeping every learner's
    memory and history; the others are added. The file's order becomes the deck's order.
    `progress(done, total)`, if given, is called inside each chunk's transaction.
    """
    plan = plan_import(deck, parsed, history_user)
    staging = Deck.objects.create(
        title=(title or parsed.title or "Imported deck")[:200] if deck is None else deck.title,
        owner=owner if deck is None else deck.owner,
        published=False,
        hidden=True,
    )
    target = deck or staging
    stand_in = None
    try:
        new_cards, changed, imported = _match_cards(parsed, deck, staging)
        studied = set()
        if history_user is not None and deck is not None:
            studied = set(
                Memory.objects.filter(user=history_user, deck=deck).values_list(
                    "card_id", flat=True
                )
            )
        with_history = [
            (card, item) for card, item in imported if item.history and card.pk not in studied
        ]
        if history_user is None:
            with_history = []
        answers = sum(len(item.history) for _, item in with_history)
        moved = len(new_cards) if deck is not None else 0
        chunks = _Chunks(
            len(new_cards) + 2 * (answers + len(with_history)) + len(changed) + moved, progress
        )

        chunks.run(new_cards, lambda chunk: Card.objects.bulk_create(chunk))
        if with_history:
            stand_in = get_user_model().objects.create_user(
                _stand_in_name(staging), password=None, is_active=False
            )
            reviews, memories = _replay_history(history_user, stand_in, with_history, target)
            chunks.run(reviews, lambda chunk: Review.objects.bulk_create(chunk))
            chunks.run(memories, lambda chunk: Memory.objects.bulk_create(chunk))
        plan.answers = answers

        # The switch: from here on, only updates of rows already written.
        fields = ["back", "tags", "position", "back_html", "updated_at"]
        chunks.run(changed, lambda chunk: Card.objects.bulk_update(chunk, fields))
        if deck is not None:
            chunks.run(
                [card.pk for card in new_cards],
                lambda chunk: Card.objects.filter(pk__in=chunk).update(deck=deck),
            )
        if stand_in is not None:
            chunks.run_groups(
                _by_rows([(card.pk, len(item.history) + 1) for card, item in with_history]),
                lambda group: _hand_over_history(stand_in, history_user, [pk for pk, _ in group]),
                lambda group: sum(rows for _, rows in group),
            )
            stand_in.delete()
            # Once, after every group: it reads each card of the deck the learner has seen.
            NewCardCursor.catch_up(history_user.pk, target.pk)
        if deck is None:
            Deck.objects.filter(pk=staging.pk).update(hidden=False)
            staging.hidden = False
        else:
            staging.delete()
            # Cards were added and put in the file's order.
            NewCardCursor.rewind_deck(deck)
    except BaseException:
        discard_staged(staging)
        raise
    return target, plan


def _match_cards(parsed, deck, staging):
    """(new cards for the staging deck, existing cards that change, [(card, parsed card)])."""
    existing = {}
    if deck is not None:
        for card in deck.cards.order_by("position", "id"):
            existing.setdefault(card.front, card)
    now = timezone.now()
    new_cards, changed, imported = [], [], []
    for position, item in enumerate(parsed.cards, start=1):
        card = existing.pop(item.front, None)
        if card is None:
            card = Card(deck=staging, front=item.front, back=item.back, tags=item.tags)
            card.position = position
            card.front_html = render_markdown(item.front)
            card.back_html = render_markdown(item.back)
            new_cards.append(card)
        elif (card.back, card.tags, card.position) != (item.back, item.tags or card.tags, position):
            if card.back != item.back:
                card.back, card.back_html = item.back, render_markdown(item.back)
            card.tags, card.position, card.updated_at = item.tags or card.tags, position, now
            changed.append(card)
        imported.append((card, item))
    for position, card in enumerate(existing.values(), start=len(parsed.cards) + 1):
        if card.position != position:
            card.position, card.updated_at = position, now
            changed.append(card)
    return new_cards, changed, imported


def _by_rows(weighted):
    """Group (id, rows) pairs into groups of about CHUNK_ROWS rows."""
    groups, group, total = [], [], 0
    for pk, rows in weighted:
        if group and total + rows > CHUNK_ROWS:
            groups.append(group)
            group, total = [], 0
        group.append((pk, rows))
        total += rows
    if group:
        groups.append(group)
    return groups


def _stand_in_name(staging):
    # Spaces and brackets are refused in usernames, so no learner can ever be named this.
    return f"(import {staging.pk})"


def _hand_over_history(stand_in, learner, card_ids):
    """Give the learner the history staged for these cards, unless they answered one of them
    here while the import ran: that card keeps their own history."""
    answered = Memory.objects.filter(user=learner, card_id__in=card_ids).values("card_id")
    Review.objects.filter(user=stand_in, card_id__in=answered).delete()
    Memory.objects.filter(user=stand_in, card_id__in=answered).delete()
    Review.objects.filter(user=stand_in, card_id__in=card_ids).update(user=learner)
    Memory.objects.filter(user=stand_in, card_id__in=card_ids).update(user=learner)
    StudyDayTotal.forget([learner.pk])
    MemorySnapshot.forget([learner.pk])


def _replay_history(learner, stand_in, with_history, deck):
    """Replay Anki's answers through our scheduler, so memory and history are ours from then on;
    the rows belong to `stand_in` until the switch. (reviews, memories), unsaved."""
    profile = profile_for(learner)
    options = profile.scheduler_options(deck)
    reviews, memories = [], []
    for card, item in with_history:
        answers = [
            (rating, reviewed_at, profile.study_date(reviewed_at), n == 0)
            for n, (reviewed_at, rating, _) in enumerate(item.history)
        ]
        memory = scheduling.Memory()
        replayed = scheduling.replay(
            answers, seed_of=lambda reps, card=card: scheduling.fuzz_seed(card.pk, reps), **options
        )
        for (reviewed_at, rating, duration_ms), (before, memory) in zip(
            item.history, replayed, strict=True
        ):
            review = Review.from_answer(
                stand_in,
                card,
                rating=rating,
                at=reviewed_at,
                profile=profile,
                duration_ms=min(duration_ms, MAX_ANSWER_MS),
                before=before,
                after=memory,
            )
            review.deck_id = deck.pk
            reviews.append(review)
        row = Memory(user=stand_in, card=card, deck_id=deck.pk)
        row.set_from(memory)
        memories.append(row)
    return reviews, memories


def discard_staged(staging):
    """Remove a hidden deck an import was writing, with everything staged for it."""
    stand_in = get_user_model().objects.filter(username=_stand_in_name(staging)).first()
    if stand_in is not None:
        Review.objects.filter(user=stand_in).delete()
        stand_in.delete()
    # History already handed over to the learner, in a new deck that never became visible.
    Review.objects.filter(deck=staging).delete()
    Deck.objects.filter(pk=staging.pk, hidden=True).delete()


# The uploads' lifecycle: quota, expiry, and the two jobs.


def upload_refusal(user, size):
    """Why this learner may not upload a file of `size` bytes now, or None."""
    waiting = PendingImport.objects.holding_files().filter(user=user)
    figures = waiting.aggregate(count=Count("id"), size=Sum("size"))
    if figures["count"] >= MAX_WAITING_UPLOADS:
        return (
            f"You already have {figures['count']} imports waiting. Import or cancel one of them "
            "(listed below) before uploading another file."
        )
    total = (figures["size"] or 0) + size
    if total > MAX_WAITING_BYTES:
        return (
            f"Your waiting imports and this file come to {total / 1048576:.1f} MB, over the "
            f"{MAX_WAITING_BYTES // 1048576} MB that may wait at once. Import or cancel one of "
            "them (listed below) first."
        )
    return None


def expire_uploads(now):
    """Delete the imports untouched for a day, and any deck an interrupted import left hidden."""
    expired, _ = PendingImport.objects.expired(now).delete()
    for staging in Deck.objects.filter(hidden=True, updated_at__lt=now - PendingImport.LIFETIME):
        discard_staged(staging)
    return expired


def _mark(pending_id, **fields):
    return PendingImport.objects.filter(pk=pending_id).update(updated_at=timezone.now(), **fields)


def reading_given_up(pending_id, error):
    _mark(pending_id, status="refused", data=b"", message="The file could not be read; try again.")


@retried_task(on_give_up=reading_given_up)
def read_upload(pending_id):
    """Read an uploaded file once and keep what the preview shows; refuse a bad file."""
    expire_uploads(timezone.now())
    pending = PendingImport.objects.filter(pk=pending_id, status="reading").first()
    if pending is None:  # cancelled or expired meanwhile
        return None
    try:
        parsed = imports.parse_file(pending.filename, bytes(pending.data))
    except imports.ImportRefused as refusal:
        _mark(pending.pk, status="refused", data=b"", message=str(refusal))
        return "refused"
    history_user = pending.user if pending.include_history else None
    plan = plan_import(pending.deck, parsed, history_user)
    summary = {
        "format": parsed.format,
        "title": parsed.title or "",
        "cards": len(parsed.cards),
        "rows": [[card.front, card.back, card.tags] for card in parsed.cards[:PREVIEW_ROWS]],
        "plan": asdict(plan),
    }
    PendingImport.objects.filter(pk=pending.pk, status="reading").update(
        status="ready", summary=summary, updated_at=timezone.now()
    )
    return "ready"


def writing_given_up(pending_id, error):
    _mark(
        pending_id,
        status="failed",
        data=b"",
        written=0,
        message="The import failed and nothing was changed. Try again later.",
    )


@retried_task(on_give_up=writing_given_up)
def write_upload(pending_id):
    """Write a confirmed import into its deck, in chunks, all or nothing."""
    pending = (
        PendingImport.objects.select_related("user", "deck")
        .filter(pk=pending_id, status="writing")
        .first()
    )
    if pending is None:
        return None
    learner, deck = pending.user, pending.deck
    if deck is not None and not deck.editable_by(learner):
        _mark(pending.pk, status="failed", data=b"", message="You may no longer edit that deck.")
        return "failed"
    try:
        parsed = imports.parse_file(pending.filename, bytes(pending.data))
    except imports.ImportRefused as refusal:
        _mark(pending.pk, status="failed", data=b"", message=str(refusal))
        return "failed"

    def progress(done, total):
        _mark(pending.pk, written=done, to_write=total)

    result, plan = apply_import(
        parsed,
        deck=deck,
        # Staff import into curated decks; a learner's new deck is their own.
        owner=None if learner.is_staff else learner,
        title=pending.title,
        history_user=learner if pending.include_history else None,
        progress=progress,
    )
    cards = plan.created + plan.updated
    message = (
        f"Imported {plan.created} new and {plan.updated} updated card{'s' if cards != 1 else ''}"
        f"{f', and {plan.answers} answers of your history' if plan.answers else ''}."
    )
    _mark(pending.pk, status="done", data=b"", result=result, message=message)
    return "done"
