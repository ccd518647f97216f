"""Throttled logins and sign-ups: an attacker is slowed, the owner's own browser is not."""

import re
import time
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import get_hasher
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from flashcards.throttle import DEVICE_COOKIE, DEVICE_SALT, THROTTLED
from tests.conftest import make_user

PASSWORD = "correct horse 42"  # make_user's
LOGIN_PAGES = ["login", "admin:login"]


@pytest.fixture
def clock(settings):
    """Time stands still at the beginning of a window until the test moves it."""
    window = settings.LOGIN_FAILURE_WINDOW
    with time_machine.travel((time.time() // window + 1) * window, tick=False) as traveller:
        yield traveller


@pytest.fixture
def owner(db):
    return make_user("owner", is_staff=True)


@pytest.fixture
def hashings(monkeypatch):
    """Every password hashed from now on: checked against an account, or made for a missing one."""
    hasher, calls = type(get_hasher()), []
    encode = hasher.encode

    def counting_encode(self, password, *args, **kwargs):
        calls.append(password)
        return encode(self, password, *args, **kwargs)

    monkeypatch.setattr(hasher, "encode", counting_encode)
    return calls


def log_in(client, username, password, page="login"):
    return client.post(reverse(page), {"username": username, "password": password})


def throttled(response):
    return response.status_code == 200 and THROTTLED in response.text


def logged_in(response):
    return response.status_code == 302 and "_auth_user_id" in response.client.session


def browser_of(username, address="198.51.100.7"):
    """A browser that has logged in to the account before: a known device of it, logged out."""
    client = Client(REMOTE_ADDR=address)
    assert logged_in(log_in(client, username, PASSWORD))
    client.post(reverse("logout"))
    return client


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_sixth_wrong_password_from_one_address_is_refused_unread_even_when_right(
    owner, clock, settings, hashings, page
):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        response = log_in(attacker, "owner", "wrong password", page)
        assert response.status_code == 200 and not throttled(response)
    assert len(hashings) == settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS
    assert throttled(log_in(attacker, "owner", PASSWORD, page))
    assert throttled(log_in(attacker, "owner", "wrong again", page))
    assert len(hashings) == settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS
    assert "_auth_user_id" not in attacker.session


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_owner_logs_in_from_a_known_device_while_the_attacker_is_refused(
    owner, clock, settings, page
):
    browser = browser_of("owner")
    attacker = Client(REMOTE_ADDR="198.51.100.7")  # even from the owner's own address
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        log_in(attacker, "owner", "wrong password", page)
    assert throttled(log_in(attacker, "owner", PASSWORD, page))
    assert logged_in(log_in(browser, "owner", PASSWORD, page))


def test_failures_from_many_addresses_refuse_unknown_devices_but_not_the_owners_browser(
    owner, clock, settings
):
    browser = browser_of("owner")
    for n in range(3 * settings.LOGIN_FAILURES_PER_ACCOUNT):
        response = log_in(Client(REMOTE_ADDR=f"203.0.113.{n}"), "owner", "wrong password")
        assert throttled(response) == (n >= settings.LOGIN_FAILURES_PER_ACCOUNT)
    assert throttled(log_in(Client(REMOTE_ADDR="192.0.2.1"), "owner", PASSWORD))
    assert logged_in(log_in(browser, "owner", PASSWORD))
    # The owner's browser keeps its own budget, the attacker's many addresses notwithstanding.
    browser.post(reverse("logout"))
    assert logged_in(log_in(browser, "owner", PASSWORD, "admin:login"))


def test_a_known_device_has_a_budget_of_its_own(owner, clock, settings):
    browser = browser_of("owner")
    for _ in range(settings.LOGIN_FAILURES_PER_KNOWN_DEVICE):
        assert not throttled(log_in(browser, "owner", "mistyped"))
    assert throttled(log_in(browser, "owner", PASSWORD))
    assert logged_in(log_in(Client(REMOTE_ADDR="192.0.2.1"), "owner", PASSWORD))


def test_a_known_device_cookie_forged_or_of_another_account_gives_no_budget(owner, clock, settings):
    make_user("mallory")
    forged = signing.dumps(["device", "owner"], salt=DEVICE_SALT, key="not the site's key")
    for cookie in [browser_of("mallory").cookies[DEVICE_COOKIE].value, forged]:
        cache.clear()
        attacker = Client(REMOTE_ADDR="203.0.113.9")
        attacker.cookies[DEVICE_COOKIE] = cookie
        for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
            log_in(attacker, "owner", "wrong password")
        assert throttled(log_in(attacker, "owner", PASSWORD))


def test_the_known_device_cookie_is_signed_http_only_and_long_lived(owner, clock):
    client = Client()
    log_in(client, "owner", PASSWORD)
    cookie = client.cookies[DEVICE_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) >= 365 * 24 * 60 * 60
    assert signing.loads(cookie.value, salt=DEVICE_SALT)[1] == "owner"


def test_one_address_cannot_spray_many_accounts(owner, clock, settings):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.LOGIN_FAILURES_PER_ADDRESS):
        assert not throttled(log_in(attacker, f"guess{n}", "wrong password"))
    assert throttled(log_in(attacker, "owner", PASSWORD))
    assert logged_in(log_in(Client(REMOTE_ADDR="192.0.2.1"), "owner", PASSWORD))


def test_an_ipv6_client_is_one_address_across_its_block(owner, clock, settings):
    for n in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        log_in(Client(REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}"), "owner", "wrong password")
    assert throttled(log_in(Client(REMOTE_ADDR="2001:db8:1:2:ffff::1"), "owner", PASSWORD))
    assert logged_in(log_in(Client(REMOTE_ADDR="2001:db8:1:3::1"), "owner", PASSWORD))


@pytest.mark.parametrize("page", LOGIN_PAGES)
def test_the_refusal_reads_the_same_whether_or_not_the_account_exists(owner, clock, settings, page):
    def refusal(username):
        client = Client(REMOTE_ADDR="203.0.113.9")
        for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
            log_in(client, username, "wrong password", page)
        response = log_in(client, username, "wrong password", page)
        text = re.sub(r'value="[^"]*"|"X-CSRFToken": "[^"]*"', "", response.text)
        return response.status_code, text

    assert refusal("owner") == refusal("nobody-by-this-name")
    assert THROTTLED in refusal("owner")[1]


def test_a_refused_attempt_does_not_extend_the_window(owner, clock, settings):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS):
        log_in(attacker, "owner", "wrong password")
    for _ in range(3):
        clock.shift(timedelta(minutes=4))
        assert throttled(log_in(attacker, "owner", PASSWORD))
    clock.shift(timedelta(seconds=settings.LOGIN_FAILURE_WINDOW) - timedelta(minutes=12))
    assert logged_in(log_in(attacker, "owner", PASSWORD))


def sign_up(client, username, password="a long enough passphrase"):
    data = {"username": username, "password1": password, "password2": password}
    return client.post(reverse("flashcards:signup"), data)


TAKEN = "A user with that username already exists."


def test_sign_up_refuses_an_address_after_ten_failures_without_saying_what_is_taken(
    owner, clock, settings
):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for _ in range(settings.SIGNUP_FAILURES_PER_ADDRESS):
        assert TAKEN in sign_up(attacker, "owner").text
    for username in ["owner", "free-name"]:
        response = sign_up(attacker, username)
        assert response.status_code == 200
        assert THROTTLED in response.text and TAKEN not in response.text
    assert not get_user_model().objects.filter(username="free-name").exists()
    assert sign_up(Client(REMOTE_ADDR="192.0.2.1"), "free-name").status_code == 302


def test_sign_up_counts_any_refusal_and_the_window_ends(owner, clock, settings):
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(settings.SIGNUP_FAILURES_PER_ADDRESS):
        sign_up(attacker, f"name{n}", password="short")
    assert THROTTLED in sign_up(attacker, "newcomer").text
    clock.shift(timedelta(seconds=settings.LOGIN_FAILURE_WINDOW))
    assert sign_up(attacker, "newcomer").status_code == 302


def test_signing_up_makes_the_browser_a_known_device(db, clock, settings):
    browser = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_up(browser, "newcomer").status_code == 302
    browser.post(reverse("logout"))
    for n in range(settings.LOGIN_FAILURES_PER_ACCOUNT):
        log_in(Client(REMOTE_ADDR=f"203.0.113.{n}"), "newcomer", "wrong password")
    assert throttled(log_in(Client(), "newcomer", "a long enough passphrase"))
    assert logged_in(log_in(browser, "newcomer", "a long enough passphrase"))
