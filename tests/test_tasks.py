"""Background work: queued in the database, run by the worker, retried with backoff."""

from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.tasks import TaskResultStatus, task
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flashcards.tasks import retried_task

runs = []


@task
def record(label):
    runs.append(label)
    return label


def give_up(label, error):
    runs.append(f"gave up on {label}: {error}")


@retried_task(attempts=3, on_give_up=give_up)
def always_fails(label):
    runs.append(label)
    raise ValueError(f"{label} cannot be done")


flaky_failures = []


@retried_task()
def fails_once(label):
    if not flaky_failures:
        flaky_failures.append(label)
        raise ValueError("not yet")
    runs.append(label)


@pytest.fixture(autouse=True)
def no_runs_yet():
    runs.clear()
    flaky_failures.clear()


def run_worker():
    """Run every task that is due, as `manage.py db_worker --batch` does, then stop."""
    call_command(
        "db_worker", batch=True, reload=False, startup_delay=False, interval=0, verbosity=0
    )


def test_an_enqueued_task_waits_in_the_database_until_the_worker_runs_it(db):
    result = record.enqueue("hello")
    assert DBTaskResult.objects.get().status == TaskResultStatus.READY
    assert runs == []

    run_worker()

    result.refresh()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == "hello"
    assert runs == ["hello"]


def test_a_failing_task_is_retried_later_and_later_then_stays_failed(db):
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        always_fails.enqueue("the job")
        run_worker()
        assert runs == ["the job"]
        retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
        assert retry.run_after == start + timedelta(minutes=1)
        assert retry.args_kwargs == {"args": ["the job"], "kwargs": {"attempt": 2}}

        clock.move_to(retry.run_after - timedelta(seconds=1))
        run_worker()
        assert runs == ["the job"]

        clock.move_to(retry.run_after)
        run_worker()
        assert runs == ["the job"] * 2
        retry = DBTaskResult.objects.get(status=TaskResultStatus.READY)
        assert retry.run_after == start + timedelta(minutes=1 + 5)
        assert retry.args_kwargs["kwargs"] == {"attempt": 3}

        clock.move_to(retry.run_after)
        run_worker()

    assert runs == ["the job"] * 3 + ["gave up on the job: the job cannot be done"]
    assert not DBTaskResult.objects.exclude(status=TaskResultStatus.FAILED).exists()
    last = DBTaskResult.objects.get(args_kwargs__kwargs__attempt=3)
    assert last.exception_class_path == "builtins.ValueError"
    assert "the job cannot be done" in last.traceback


def test_a_task_that_fails_once_succeeds_on_its_second_attempt(db):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        fails_once.enqueue("flaky")
        run_worker()
        clock.shift(timedelta(minutes=1))
        run_worker()

    assert runs == ["flaky"]
    statuses = DBTaskResult.objects.order_by("enqueued_at").values_list("status", flat=True)
    assert list(statuses) == [TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL]
