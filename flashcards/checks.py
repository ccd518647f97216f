"""Deployment checks: `manage.py check --deploy` fails when a configured service is out of reach."""

from django.core.cache import caches
from django.core.checks import Error
from django.db import DatabaseError, connection
from django_redis.cache import RedisCache
from redis.exceptions import RedisError


def services_reachable(app_configs=None, **kwargs):
    """The database answers a query, and Redis a PING when REDIS_URL names it."""
    errors = []
    try:
        # Opening the connection is bounded by the database's connect timeout (settings.py).
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        errors.append(
            Error(
                f"The database cannot be reached: {error}".strip(),
                hint="Check DATABASE_URL, and that the database server is running.",
                id="flashcards.E001",
            )
        )
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        try:
            cache.client.get_client().ping()
        except RedisError as error:
            errors.append(
                Error(
                    f"Redis cannot be reached: {error}",
                    hint="Check REDIS_URL, and that the Redis server is running.",
                    id="flashcards.E002",
                )
            )
    return errors
