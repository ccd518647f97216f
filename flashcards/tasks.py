"""Background work, run by `manage.py db_worker` from the queue kept in the database.

Every task here is made with `retried_task`, the project's one way to retry: a task that
raises is queued again later, and after its last attempt it stays FAILED, its traceback in
the admin (Task Results).
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flashcards import fitting, personal, pooled, stats, workload
from flashcards.models import Card, Deck, Memory, Profile, profile_for

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


# The settings page's workload table, from FSRS's simulator.

# A workload depends only on its inputs: it is kept until they change (or for a month).
WORKLOAD_KEPT_FOR = timedelta(days=30)
# Long enough for a busy worker and the task's retries; a lost task is queued again after it.
WORKLOAD_QUEUED_FOR = timedelta(hours=1)


def workload_table(user, profile):
    """The table of FSRS's simulator for this learner, from the cache; on a miss a worker is
    asked for it (a CPU second at 1,000 cards, up to 20 at the cap: too slow for a request)."""
    inputs = _workload_inputs(user, profile)
    if inputs["cards"] == 0 or inputs["new_cards_per_day"] == 0:
        return {"status": "nothing", **inputs}
    computed = cache.get(_workload_key(inputs))
    if computed is None:
        # One simulation queued per learner: saving settings again and again queues no more,
        # and the page's poll queues the latest once that one is done.
        if cache.add(_workload_queued_key(user.pk), True, WORKLOAD_QUEUED_FOR.total_seconds()):
            transaction.on_commit(functools.partial(compute_workload.enqueue, user.pk, inputs))
        return {"status": "computing", **inputs}
    # Both the learner's retention and the optimum have rows of their own.
    rows = [
        {
            "row": row,
            "chosen": row.retention == round(profile.desired_retention, 2),
            "optimal": row.retention == computed.optimal,
        }
        for row in computed.rows
    ]
    return {"status": "ready", "rows": rows, "optimal": computed.optimal, **inputs}


def _workload_inputs(user, profile):
    """What the simulation is made from, as JSON for the task: the learner's parameters, the
    cards of the decks they study, their new cards a day and their pace in whole seconds."""
    decks = Deck.objects.listed_for(user)
    # Before a first answer, the decks they study are those they can start.
    if Memory.objects.filter(user=user).exists():
        decks = decks.filter(pk__in=Memory.objects.filter(user=user).values("deck"))
    # Counting stops at the cap: a learner may own decks far larger than is ever simulated.
    cards = Card.objects.filter(deck__in=decks).order_by()[: workload.MAX_CARDS].count()
    today_date = profile.study_date(timezone.now())
    pace = stats.seconds_per_answer(stats.answers_by_day(user, today_date))
    return {
        "parameters": profile.parameters or fitting.default_parameters(),
        "cards": cards,
        "new_cards_per_day": profile.new_cards_per_day,
        # Whole seconds, so that a few more answers do not start the simulation again.
        "seconds_per_answer": max(1, round(pace)),
        # To a hundredth, as the table shows it and the form's step asks.
        "also": [round(profile.desired_retention, 2)],
    }


def _workload_key(inputs):
    """The table's key: learners with the same inputs share it."""
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    return f"workload:2:{digest}"


def _workload_queued_key(user_id):
    return f"workload:2:queued:{user_id}"


def _workload_given_up(user_id, inputs, error):
    """Let the next visit to the settings page queue the computation again."""
    cache.delete(_workload_queued_key(user_id))


@retried_task(on_give_up=_workload_given_up)
def compute_workload(user_id, inputs):
    """Simulate a year at each desired retention and keep the table in the cache."""
    computed = workload.workload(**inputs)
    cache.set(_workload_key(inputs), computed, WORKLOAD_KEPT_FOR.total_seconds())
    cache.delete(_workload_queued_key(user_id))
