"""Background work, run by `manage.py db_worker` from the queue kept in the database.

Every task here is made with `retried_task`, the project's one way to retry: a task that
raises is queued again later, and after its last attempt it stays FAILED, its traceback in
the admin (Task Results).
"""

import functools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flashcards import personal, pooled
from flashcards.models import Deck, Profile, profile_for

ATTEMPTS = 4
FIRST_DELAY = timedelta(minutes=1)
BACKOFF = 5
FIT_LOST_AFTER = timedelta(hours=1)


def retried_task(*, attempts=ATTEMPTS, first_delay=FIRST_DELAY, backoff=BACKOFF, on_give_up=None):
    """Make a function a task that, when it raises, runs again after 1, 5, 25… minutes.

    Usage::

        def mark_failed(job_id, error):
            ImportJob.objects.filter(pk=job_id).update(status="failed", message=str(error))

        @retried_task(on_give_up=mark_failed)
        def run_import(job_id):
            ...

        transaction.on_commit(lambda: run_import.enqueue(job.pk))

    Attempt n (from 1) that raises queues attempt n + 1 to run `first_delay × backoff^(n-1)`
    later, its number passed along as the `attempt` keyword (visible in the admin), then
    re-raises, so every failed attempt is a FAILED result with its traceback. After attempt
    `attempts` nothing is queued and `on_give_up(*args, error, **kwargs)` is called, e.g. to
    tell the learner. Arguments must be JSON (ids, strings), and the work should be safe to
    run again: an attempt that fails half-way is retried from the start.
    """

    def decorate(func):
        @functools.wraps(func)
        def run(*args, attempt=1, **kwargs):
            try:
                return func(*args, **kwargs)
            except Exception as error:
                if attempt < attempts:
                    later = timezone.now() + first_delay * backoff ** (attempt - 1)
                    retry = made_task.using(run_after=later)
                    retry.enqueue(*args, attempt=attempt + 1, **kwargs)
                elif on_give_up is not None:
                    on_give_up(*args, error, **kwargs)
                raise

        made_task = task(run)
        return made_task

    return decorate


def fit_given_up(user_id, error):
    """Tell the learner their fit could not run; the nightly fit will try again."""
    Profile.objects.filter(user_id=user_id, fit_status="queued").update(
        fit_status="failed",
        fit_message="The fit could not run; it will be tried again tonight.",
        fitted_at=timezone.now(),
    )


@retried_task(on_give_up=fit_given_up)
def fit_parameters(user_id):
    """Fit the learner's parameters to their history, adopting them if they predict better."""
    learner = get_user_model().objects.filter(pk=user_id).first()
    if learner is None:  # the account was deleted since: nothing to fit
        return None
    return personal.fit_learner(learner, timezone.now()).fit_status


def fit_waiting(user_id):
    """Whether a fit of the learner's parameters is queued (a retry too) or running."""
    # A fit "running" for longer lost its worker (killed mid-task): it must not block the next.
    running = Q(status=TaskResultStatus.RUNNING, started_at__gte=timezone.now() - FIT_LOST_AFTER)
    return DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.READY) | running,
        task_path=fit_parameters.module_path,
        args_kwargs__args=[user_id],
    ).exists()


def queue_fit(user):
    """Queue a fit of the learner's parameters unless one is waiting; say whether it was queued."""
    if fit_waiting(user.pk):
        return False
    profile = profile_for(user)
    profile.fit_status, profile.fit_requested_at = "queued", timezone.now()
    profile.save(update_fields=["fit_status", "fit_requested_at"])
    transaction.on_commit(functools.partial(_enqueue_fit, user.pk))
    return True


def _enqueue_fit(user_id):
    # Requests racing past the check above meet here, one at a time behind the profile's lock.
    with transaction.atomic():
        Profile.objects.select_for_update().filter(user_id=user_id).first()
        if not fit_waiting(user_id):
            fit_parameters.enqueue(user_id)


@retried_task()
def fit_pooled_parameters(deck_id):
    """Fit a curated deck's pooled parameters to its learners' answers, adopting them if they
    predict better than FSRS's defaults."""
    deck = Deck.objects.filter(pk=deck_id, owner=None).first()
    if deck is None:  # deleted, or no longer curated, since it was queued
        return None
    return pooled.fit_deck(deck, timezone.now()).pooled_evaluation["status"]


def queue_pooled_fit(deck):
    """Queue a fit of the deck's pooled parameters unless one is waiting; say whether it was."""
    running = Q(status=TaskResultStatus.RUNNING, started_at__gte=timezone.now() - FIT_LOST_AFTER)
    waiting = DBTaskResult.objects.filter(
        Q(status=TaskResultStatus.READY) | running,
        task_path=fit_pooled_parameters.module_path,
        args_kwargs__args=[deck.pk],
    )
    if waiting.exists():
        return False
    fit_pooled_parameters.enqueue(deck.pk)
    return True
