"""The project's settings for the test suite: a throwaway key and a cache of its own."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-not-a-secret-" + "x" * 40)

from flashcards.settings import *  # noqa: E402, F403

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks go to the database queue, as in production; a test runs them with the worker's own
# loop (tests.conftest.run_worker), so no worker process is needed.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
