import errno
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import resolve_url
from django.template.loader import render_to_string
from django_htmx.http import HttpResponseClientRedirect

logger = logging.getLogger(__name__)

# SQLite's message, and PostgreSQL's SQLSTATE disk_full ("could not extend file").
SQLITE_FULL = "database or disk is full"
POSTGRESQL_DISK_FULL = "53100"
OUT_OF_SPACE_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
# How long a browser or a client library should wait before trying again.
RETRY_AFTER_SECONDS = 60


class HtmxLoginRedirectMiddleware:
    """An htmx request sent to the login page (its session expired) loads that page whole,
    instead of swapping a login form into the middle of the page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            getattr(request, "htmx", False)
            and response.status_code == 302
            and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
        ):
            return HttpResponseClientRedirect(response["Location"])
        return response


def is_out_of_space(exception):
    """Whether the error says the disk (or the database's volume) is full."""
    if isinstance(exception, OSError) and exception.errno in OUT_OF_SPACE_ERRNOS:
        return True
    if isinstance(exception, OperationalError):
        cause = exception.__cause__
        return SQLITE_FULL in str(exception) or (
            getattr(cause, "sqlstate", None) == POSTGRESQL_DISK_FULL
        )
    return False


def unavailable_page(request, template, status):
    """A page that needs neither the database nor the session, which may be what failed."""
    response = HttpResponse(render_to_string(template), status=status)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    if getattr(request, "htmx", False):
        # htmx swaps no 5xx reply: the whole page is loaded again, and shows this one.
        response["HX-Refresh"] = "true"
    return response


class ServiceUnavailableMiddleware:
    """A database that cannot be reached answers 503 and a full disk 507, each with a page
    saying so, instead of a server error."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_out_of_space(exception):
            logger.error("Out of space: %s", exception, exc_info=exception)
            return unavailable_page(request, "507.html", 507)
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.error("Database unavailable: %s", exception, exc_info=exception)
            return unavailable_page(request, "503.html", 503)
        return None
