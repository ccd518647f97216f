"""Fitting FSRS to one learner: run by `manage.py fit_parameters`, never inside a request."""

from django.db import transaction

from flashcards import fitting, pooled, scheduling
from flashcards.models import Memory, MemorySnapshot, Profile, Review, StudyDayTotal
from flashcards.statements import update_each


def learner_answers(user):
    rows = (
        Review.objects.filter(user=user)
        .order_by("reviewed_at", "id")
        .values_list("card_id", "reviewed_at", "study_day", "rating")
    )
    return [
        fitting.Answer(card_id=card_id, reviewed_at=at, day=day, rating=rating)
        for card_id, at, day, rating in rows.iterator(chunk_size=5000)
    ]


def fit_learner(user, now):
    """Fit the learner's parameters and adopt them if they predict better; return the profile."""
    profile = Profile.objects.get_or_create(user=user)[0]
    # Without parameters of their own, the learner's cards of a deck with pooled parameters are
    # scheduled with those: a fit must predict better than what schedules each card.
    card_parameters = None if profile.parameters else pooled.card_parameters(user)
    try:
        evaluation = fitting.evaluate_candidate(
            learner_answers(user), profile.parameters or None, card_parameters=card_parameters
        )
    except Exception as error:  # a failed fit keeps the parameters in use, and says why
        Profile.objects.filter(pk=profile.pk).update(
            fit_status="failed", fit_message=f"The fit failed: {error}", fitted_at=now
        )
        profile.refresh_from_db()
        return profile
    figures = {
        "cross_day": evaluation.cross_day,
        "current": evaluation.current,
        "candidate": evaluation.candidate,
    }
    with transaction.atomic():
        profile = Profile.objects.select_for_update().get(pk=profile.pk)
        profile.fit_evaluation, profile.fit_message, profile.fitted_at = (
            figures,
            evaluation.reason,
            now,
        )
        if evaluation.adopt:
            profile.previous_parameters = profile.parameters
            profile.parameters = list(evaluation.parameters)
            profile.fit_status = "adopted"
        else:
            profile.fit_status = "kept"
        profile.save()
        if evaluation.adopt and profile.reschedule_on_fit:
            reschedule(user, profile)
    return profile


def reschedule(user, profile):
    """Rebuild each of the learner's cards, and the memories its history holds, by replaying its
    answers with the parameters the learner now schedules it with; return the cards rebuilt."""
    memories = {
        m.card_id: m
        for m in Memory.objects.select_for_update(of=("self",))
        .select_related("deck")
        .filter(user=user)
    }
    history = {}
    for review in Review.objects.filter(user=user).order_by("reviewed_at", "id"):
        history.setdefault(review.card_id, []).append(review)
    changed, replayed = [], []
    for card_id, memory in memories.items():
        reviews = history.get(card_id)
        if not reviews or memory.state == scheduling.NEW:
            continue
        memory.set_from(replay(reviews, **profile.scheduler_options(memory.deck)))
        changed.append(memory)
        replayed.extend(reviews)
    update_each(changed, Memory.SCHEDULING_FIELDS)
    update_each(replayed, Review.MEMORY_FIELDS)
    # Whether a card was mature when answered, which true retention counts, may have changed.
    StudyDayTotal.forget([user.pk])
    MemorySnapshot.forget([user.pk])
    return len(changed)


def replay(reviews, **scheduler_options):
    """Replay one card's history (Review rows in time order) through the scheduler, setting
    each row's memory before and after; return the memory after the last."""
    answers = [
        (review.rating, review.reviewed_at, review.study_day, review.state_before == scheduling.NEW)
        for review in reviews
    ]
    card_id = reviews[0].card_id
    after = scheduling.Memory()
    for review, (before, after) in zip(
        reviews,
        scheduling.replay(
            answers, seed_of=lambda reps: scheduling.fuzz_seed(card_id, reps), **scheduler_options
        ),
        strict=True,
    ):
        review.set_memories(before, after)
    return after
