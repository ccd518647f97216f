"""When a service fails (Redis, the database, the disk) learners get a page that says so, never a
server error; `check --deploy` names a configured service it cannot reach."""

import errno
import os
import runpy
import socket
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import InterfaceError, OperationalError, connection
from django.urls import path, reverse

from tests.conftest import make_deck, make_user

PASSWORD = "correct horse 42"  # make_user's
SETTINGS_FILE = django_settings.BASE_DIR / "flashcards" / "settings.py"


def dead_port():
    """A local port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_settings(monkeypatch, **environ):
    """The settings module's names as a deployment with this environment would read them."""
    for name in ("DEBUG", "LOCAL_SECRET_KEY", "REDIS_URL", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    return runpy.run_path(str(SETTINGS_FILE))


def redis_reachable():
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


# Redis: an outage is a cache miss; sessions are also kept in the database.


def use_redis(settings, monkeypatch, url):
    production = production_settings(monkeypatch, REDIS_URL=url)
    settings.DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = production["DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS"]
    settings.CACHES = production["CACHES"]
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"


def logs_in_and_studies(client):
    learner = make_user()
    deck = make_deck(cards=2)
    login = client.post(reverse("login"), {"username": learner.username, "password": PASSWORD})
    assert login.status_code == 302 and login["Location"] == reverse("flashcards:deck_list")
    assert client.get(reverse("flashcards:deck_list")).status_code == 200
    assert client.get(reverse("flashcards:study", args=[deck.slug])).status_code == 200
    assert client.get(reverse("flashcards:progress")).status_code == 200


def test_with_redis_down_learners_log_in_and_study(client, settings, monkeypatch, db, caplog):
    use_redis(settings, monkeypatch, f"redis://127.0.0.1:{dead_port()}/0")
    logs_in_and_studies(client)
    assert "Exception ignored" in caplog.text


def test_a_failed_login_with_redis_down_is_still_a_login_page(client, settings, monkeypatch, db):
    use_redis(settings, monkeypatch, f"redis://127.0.0.1:{dead_port()}/0")
    learner = make_user()
    response = client.post(reverse("login"), {"username": learner.username, "password": "wrong"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.text


@pytest.mark.skipif(not redis_reachable(), reason="no Redis on 127.0.0.1:6379")
def test_with_redis_up_learners_log_in_and_study(client, settings, monkeypatch, db):
    use_redis(settings, monkeypatch, "redis://127.0.0.1:6379/15")
    cache.clear()
    logs_in_and_studies(client)
    assert any(key.startswith("django.contrib.sessions") for key in cache.keys("*"))
    cache.clear()


# The database out of reach, and the disk full: a page that says so, not a server error.


def failing_view(error):
    def view(request):
        raise error

    return view


def postgresql_error(sqlstate, message):
    """An OperationalError as Django raises it from psycopg's error of this SQLSTATE."""
    cause = type("PsycopgError", (Exception,), {"sqlstate": sqlstate})(message)
    error = OperationalError(message)
    error.__cause__ = cause
    return error


FAILURES = {
    "sqlite-full": (OperationalError("database or disk is full"), 507),
    "postgresql-full": (postgresql_error("53100", 'could not extend file "base/1/2"'), 507),
    "file-full": (OSError(errno.ENOSPC, "No space left on device"), 507),
    "refused": (OperationalError("connection refused"), 503),
    "closed": (InterfaceError("connection already closed"), 503),
    "statement-timeout": (postgresql_error("57014", "canceling statement"), 503),
}
urlpatterns = [
    *(path(f"fail/{name}/", failing_view(error)) for name, (error, _) in FAILURES.items()),
    path("fail/bug/", failing_view(ValueError("a bug"))),
]
PAGES = {503: "The service is briefly unavailable", 507: "The server is out of space"}


@pytest.mark.urls("tests.test_outages")
@pytest.mark.parametrize("name", FAILURES)
def test_a_database_or_disk_failure_is_a_page_that_says_so(
    client, db, name, django_assert_num_queries
):
    status = FAILURES[name][1]
    with django_assert_num_queries(0):
        response = client.get(f"/fail/{name}/")
    assert response.status_code == status
    assert PAGES[status] in response.text
    assert response["Retry-After"] == "60"


@pytest.mark.urls("tests.test_outages")
def test_an_htmx_request_that_meets_a_failure_reloads_the_page_to_show_it(client, db):
    response = client.get("/fail/refused/", HTTP_HX_REQUEST="true")
    assert response.status_code == 503
    assert response["HX-Refresh"] == "true"


@pytest.mark.urls("tests.test_outages")
def test_any_other_error_stays_a_server_error(client, db):
    client.raise_request_exception = False
    assert client.get("/fail/bug/").status_code == 500


def test_a_logged_in_learner_gets_503_when_the_database_stops(client, db, monkeypatch):
    learner = make_user()
    client.force_login(learner)
    assert client.get(reverse("flashcards:deck_list")).status_code == 200

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("server closed the connection unexpectedly")

    # The session in the cache is gone too, so the database is needed to know the learner.
    cache.clear()
    with monkeypatch.context() as stopped:
        stopped.setattr(connection, "create_cursor", refuse)
        response = client.get(reverse("flashcards:progress"))
    assert response.status_code == 503
    assert PAGES[503] in response.text


def test_postgresql_connections_give_up_within_seconds(monkeypatch):
    database = production_settings(
        monkeypatch, SECRET_KEY="x" * 50, DATABASE_URL="postgres://u@db-host/flashcards"
    )["DATABASES"]["default"]
    assert database["OPTIONS"]["connect_timeout"] == 5
    assert database["OPTIONS"]["options"] == "-c statement_timeout=30s"


# The deploy check.


def test_check_deploy_names_the_database_and_redis_it_cannot_reach(tmp_path):
    environ = {
        **os.environ,
        "SECRET_KEY": "x" * 50,
        "VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{dead_port()}/flashcards",
        "REDIS_URL": f"redis://127.0.0.1:{dead_port()}/0",
    }
    environ.pop("DJANGO_SETTINGS_MODULE", None)
    check = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=django_settings.BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode != 0
    assert "(flashcards.E001) The database cannot be reached" in check.stderr
    assert "HINT: Check DATABASE_URL" in check.stderr
    assert "(flashcards.E002) Redis cannot be reached" in check.stderr
    assert "HINT: Check REDIS_URL" in check.stderr


# The key kept by `make run` serves the README's commands on that machine.


def test_the_key_make_run_kept_serves_every_command_on_that_machine(monkeypatch, tmp_path):
    (tmp_path / "secret-key").write_text("kept-by-make-run-" + "k" * 40)
    names = production_settings(monkeypatch, SECRET_KEY=None, VAR_DIR=str(tmp_path))
    assert names["SECRET_KEY"] == "kept-by-make-run-" + "k" * 40
    assert names["DEBUG"] is False


def test_a_deployment_without_a_key_nor_a_kept_one_refuses_to_start(monkeypatch, tmp_path):
    with pytest.raises(ImproperlyConfigured, match="Set SECRET_KEY"):
        production_settings(monkeypatch, SECRET_KEY=None, VAR_DIR=str(tmp_path))
    assert not (tmp_path / "secret-key").exists()
