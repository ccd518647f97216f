"""The Redis cache client, for a cache that Redis being down turns into misses."""

from django_redis.client import DefaultClient
from django_redis.exceptions import ConnectionInterrupted
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


class OutageTolerantClient(DefaultClient):
    """django-redis's client, whose touch() also reports a lost Redis as ConnectionInterrupted,
    the error IGNORE_EXCEPTIONS ignores (django-redis 7 lets touch() raise it as is)."""

    def touch(self, *args, **kwargs):
        try:
            return super().touch(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as error:
            raise ConnectionInterrupted(connection=None) from error
