"""Background work: queued in the database, run by the worker, retried with backoff."""

import io
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.tasks import TaskResultStatus, task
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from flashcards import personal, scheduling
from flashcards.models import Profile
from flashcards.tasks import fit_parameters, queue_fit, retried_task
from tests.conftest import make_user, run_worker
from tests.test_views import logged_in, post_answer

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


def fits_waiting():
    return DBTaskResult.objects.filter(
        task_path=fit_parameters.module_path, status=TaskResultStatus.READY
    )


def test_asking_twice_for_a_fit_queues_it_once(learner, django_capture_on_commit_callbacks):
    client = logged_in(learner)
    with django_capture_on_commit_callbacks(execute=True):
        first = client.post(reverse("flashcards:request_fit"), follow=True)
    with django_capture_on_commit_callbacks(execute=True):
        second = client.post(reverse("flashcards:request_fit"), follow=True)

    assert "Queued: your parameters will be fitted" in first.text
    assert "already queued" in second.text
    assert fits_waiting().get().args_kwargs == {"args": [learner.pk], "kwargs": {}}
    assert Profile.objects.get(user=learner).fit_status == "queued"
    page = client.get(reverse("flashcards:settings")).text
    assert "Fit queued:</strong> it runs in the background" in page
    assert "Fit queued</button>" in page


def test_a_fit_asked_for_is_done_by_the_worker(learner, deck, django_capture_on_commit_callbacks):
    client = logged_in(learner)
    for card in deck.cards.all():
        post_answer(client, deck, card, scheduling.GOOD)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("flashcards:request_fit"))

    run_worker()

    assert Profile.objects.get(user=learner).fit_status == "kept"
    assert not fits_waiting().exists()
    page = client.get(reverse("flashcards:settings")).text
    assert "Kept the previous parameters" in page
    assert "Fit my parameters now" in page


def test_two_fits_asked_for_at_once_are_queued_once(learner, django_capture_on_commit_callbacks):
    # Both requests pass the first check before either has queued anything.
    with django_capture_on_commit_callbacks() as callbacks:
        assert logged_in(learner).post(reverse("flashcards:request_fit")).status_code == 302
        assert logged_in(learner).post(reverse("flashcards:request_fit")).status_code == 302
    for callback in callbacks:
        callback()

    assert fits_waiting().count() == 1


def test_a_fit_that_cannot_run_is_retried_then_the_learner_is_told(
    learner, monkeypatch, django_capture_on_commit_callbacks
):
    def broken(user, now):
        raise ConnectionError("the database went away")

    monkeypatch.setattr(personal, "fit_learner", broken)
    client = logged_in(learner)
    with time_machine.travel(timezone.now(), tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("flashcards:request_fit"))
        for minutes in (0, 1, 5, 25):
            clock.shift(timedelta(minutes=minutes))
            run_worker()
            if minutes < 25:
                assert Profile.objects.get(user=learner).fit_status == "queued"
                with django_capture_on_commit_callbacks(execute=True):
                    client.post(reverse("flashcards:request_fit"))
                assert fits_waiting().count() == 1

    profile = Profile.objects.get(user=learner)
    assert profile.fit_status == "failed"
    assert profile.fit_message == "The fit could not run; it will be tried again tonight."
    assert DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count() == 4
    assert not fits_waiting().exists()
    assert "Fit my parameters now" in client.get(reverse("flashcards:settings")).text


def test_the_nightly_fit_queues_every_learner_with_answers_once(
    deck, django_capture_on_commit_callbacks
):
    answered, waiting, silent = make_user(), make_user(), make_user()
    for learner in (answered, waiting):
        post_answer(logged_in(learner), deck, deck.cards.first(), scheduling.GOOD)
    fit_parameters.enqueue(waiting.pk)
    out = io.StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("fit_parameters", all=True, stdout=out)

    assert out.getvalue() == "Queued 1 fit for the workers (1 already waiting).\n"
    queued = sorted(task.args_kwargs["args"][0] for task in fits_waiting())
    assert queued == [answered.pk, waiting.pk]
    assert Profile.objects.get(user=answered).fit_status == "queued"
    assert not Profile.objects.filter(user=silent, fit_status="queued").exists()


def test_the_old_polling_option_does_nothing_and_says_so(learner):
    Profile.objects.create(user=learner, fit_status="queued")
    out = io.StringIO()

    call_command("fit_parameters", queued=True, stdout=out)

    assert "can be removed from cron" in out.getvalue()
    assert Profile.objects.get(user=learner).fit_status == "queued"
    assert not DBTaskResult.objects.exists()


def test_a_fit_whose_worker_was_killed_an_hour_ago_does_not_block_the_next(learner):
    lost = fit_parameters.enqueue(learner.pk).db_result
    lost.claim("a worker killed mid-task")
    with time_machine.travel(lost.started_at + timedelta(minutes=59)):
        assert not queue_fit(learner)
    with time_machine.travel(lost.started_at + timedelta(minutes=61)):
        assert queue_fit(learner)


@task
def record_run(path, label):
    # A job that takes a moment, so that the workers' turns overlap.
    time.sleep(0.02)
    with open(path, "a") as runs_file:
        runs_file.write(f"{label}\n")


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite has one writer at a time: run one worker there, so there is nothing to race",
)
def test_three_workers_on_postgresql_run_each_of_forty_jobs_exactly_once(
    transactional_db, tmp_path
):
    path = tmp_path / "runs.txt"
    for n in range(40):
        record_run.enqueue(str(path), n)
    database = connection.settings_dict
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": (
            f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}"
        ),
    }
    command = [sys.executable, "manage.py", "db_worker", "--batch", "--no-reload"]
    command += ["--no-startup-delay", "--verbosity", "0"]
    workers = [
        subprocess.Popen([*command, "--worker-id", f"worker{n}"], env=environment) for n in range(3)
    ]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0, 0]

    assert sorted(int(line) for line in path.read_text().split()) == list(range(40))
    results = DBTaskResult.objects.all()
    assert {result.status for result in results} == {TaskResultStatus.SUCCESSFUL}
    assert all(len(result.worker_ids) == 1 for result in results)
    shares = Counter(result.worker_ids[0] for result in results)
    print(f"\nJobs run per worker: {dict(sorted(shares.items()))}")


def test_staff_with_the_view_permission_read_a_failed_task_and_its_traceback_in_the_admin(db):
    with time_machine.travel(timezone.now(), tick=False) as clock:
        always_fails.enqueue("the job")
        for _ in range(3):
            run_worker()
            clock.shift(timedelta(hours=1))
    failed = DBTaskResult.objects.get(args_kwargs__kwargs__attempt=3)
    staff = make_user(is_staff=True)
    page = reverse("admin:django_tasks_database_dbtaskresult_change", args=[failed.pk])
    assert logged_in(staff).get(page).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_dbtaskresult"))
    response = logged_in(staff).get(page)

    assert response.status_code == 200
    assert "ValueError: the job cannot be done" in response.text
    assert "Failed" in response.text
