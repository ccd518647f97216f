"""Throttling of every login form and of sign-up: slow an attacker, never lock the owner out.

Failed logins are counted in the cache, per window of LOGIN_FAILURE_WINDOW seconds:

- per account and address (LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS, 5): one address guessing
  one account is slowed to that many guesses a window;
- per address (LOGIN_FAILURES_PER_ADDRESS, 20): one address cannot spray many accounts;
- per account from unknown devices (LOGIN_FAILURES_PER_ACCOUNT, 10), across all addresses:
  a distributed attack on one account is slowed too;
- a known device, a browser that has logged in to the account before, is counted apart
  (LOGIN_FAILURES_PER_KNOWN_DEVICE, 5) and is subject to none of the counters above, so an
  attack on an account from anywhere else cannot lock its owner out of their own browser. The
  device is named by a long-lived HttpOnly cookie, signed and bound to the account: a forged one
  is unknown, and one taken from another account's browser is unknown to this account.

An attempt over any of its limits is refused before its password is evaluated (no time spent
hashing, nothing learned), with the same message whether or not the account exists. Sign-up
refusals say whether a username is taken, so an address gets SIGNUP_FAILURES_PER_ADDRESS (10)
of them a window, fewer than the login failures an address may make.

Windows are fixed and named in the cache key (the window's number since the epoch), so no
attempt, counted or refused, ever extends one; at most twice a limit can straddle a window's
end. Counters are created with cache.add() and counted with cache.incr(), atomic on Redis.
IPv6 clients are counted per /64, the block one client is usually given.
"""

import functools
import hashlib
import ipaddress
import json
import secrets
import time

from django import forms
from django.conf import settings
from django.core import signing
from django.core.cache import cache

THROTTLED = "Too many failed attempts. Wait a few minutes and try again."
DEVICE_COOKIE = "known_device"
DEVICE_SALT = "flashcards.throttle.known_device"
DEVICE_MAX_AGE = 365 * 24 * 60 * 60

Counters = list[tuple[tuple[str, ...], int]]


def client_address(request) -> str:
    """The client's address, through as many proxies as the deployment says it has."""
    if settings.TRUSTED_PROXIES:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        if len(forwarded) >= settings.TRUSTED_PROXIES and forwarded[-settings.TRUSTED_PROXIES]:
            return forwarded[-settings.TRUSTED_PROXIES]
    return request.META.get("REMOTE_ADDR", "")


def login_counters(request, username: str) -> Counters:
    """The counters a login attempt for this username, from this request, is held to."""
    account = username.strip().lower()
    device = known_device(request, account) if request else None
    if device:
        return [(("device", account, device), settings.LOGIN_FAILURES_PER_KNOWN_DEVICE)]
    address = _client_network(request) if request else ""
    return [
        (("account-address", account, address), settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS),
        (("address", address), settings.LOGIN_FAILURES_PER_ADDRESS),
        (("account", account), settings.LOGIN_FAILURES_PER_ACCOUNT),
    ]


def signup_counters(request) -> Counters:
    """The counter a sign-up from this request is held to."""
    return [(("signup", _client_network(request)), settings.SIGNUP_FAILURES_PER_ADDRESS)]


def refused(counters: Counters) -> bool:
    """Whether any of these counters has reached its limit in the current window."""
    window, _ = _current_window()
    limits = {_cache_key(name, window): limit for name, limit in counters}
    counts = cache.get_many(limits)
    return any(counts.get(key, 0) >= limit for key, limit in limits.items())


def count_failure(counters: Counters) -> None:
    """Count one failure against each of these counters, in the current window."""
    window, remaining = _current_window()
    for name, _ in counters:
        key = _cache_key(name, window)
        cache.add(key, 0, remaining)
        try:
            cache.incr(key)
        except ValueError:  # the window ended between add() and incr()
            continue
        # The file cache's incr() rewrites the entry with the default lifetime; the key names
        # its window, so giving its lifetime back can never extend the window.
        cache.touch(key, remaining)


class ThrottledLoginMixin:
    """For an AuthenticationForm: an attempt over its limits is refused unevaluated."""

    def clean(self):
        counters = login_counters(self.request, self.cleaned_data.get("username") or "")
        if refused(counters):
            raise forms.ValidationError(THROTTLED, code="throttled")
        try:
            return super().clean()
        except forms.ValidationError:
            count_failure(counters)
            raise


def known_device(request, account: str) -> str | None:
    """The device this browser is for the account, if it has logged in to it before."""
    try:
        device, owner = signing.loads(
            request.COOKIES.get(DEVICE_COOKIE, ""), salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return device if owner == account else None


def remember_device(request, response, user) -> None:
    """Mark this browser as a known device of the user's account, for another year."""
    account = user.get_username().lower()
    device = known_device(request, account) or secrets.token_urlsafe(16)
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps([device, account], salt=DEVICE_SALT),
        max_age=DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def remembering_device(login_view):
    """Wrap a login view so that a successful login remembers the browser as a known device."""

    @functools.wraps(login_view)
    def view(request, *args, **kwargs):
        response = login_view(request, *args, **kwargs)
        # A login view redirects a POST only once the form is valid and the user logged in.
        logged_in = request.method == "POST" and response.status_code == 302
        if logged_in and request.user.is_authenticated:
            remember_device(request, response, request.user)
        return response

    return view


def _client_network(request) -> str:
    address = client_address(request)
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _current_window() -> tuple[int, int]:
    """The current window's number and the seconds left in it."""
    now, length = time.time(), settings.LOGIN_FAILURE_WINDOW
    window = int(now // length)
    return window, max(1, round((window + 1) * length - now))


def _cache_key(name: tuple[str, ...], window: int) -> str:
    # Usernames may hold characters a cache key may not; JSON keeps the parts apart.
    return "throttle:" + hashlib.sha256(json.dumps([*name, window]).encode()).hexdigest()
