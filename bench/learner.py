"""One learner's HTTP client: the requests the study page sends, over kept-alive connections.

An answer is what htmx sends when a rating button is pressed (templates/flashcards/study.html,
static/study.js): a POST of the card's form with the button's rating, the CSRF token of the
page's `hx-headers` and htmx's own headers; its response is the next card's fragment, which
already holds the next answer's form.
"""

import http.client
import re
import threading
import time
import urllib.parse
from collections import Counter

PASSWORD = "bench-learner-password"
REQUEST_TIMEOUT = 30
HIDDEN_FIELD = re.compile(
    r'<input type="hidden" name="(card|reps|shown_at|csrfmiddlewaretoken)" value="([^"]*)"'
)
# The page's CSRF token travels in a header (hx-headers); a form may carry it too.
ANSWER_FIELDS = {"card", "reps", "shown_at"}


class Learner:
    """A learner with their cookies, the decks they study and the card on their screen."""

    def __init__(self, base_url, username, decks, password=PASSWORD):
        self.base_url = base_url.rstrip("/")
        self.host = urllib.parse.urlsplit(self.base_url).netloc
        self.username, self.decks, self.password = username, decks, password
        self.cookies = {}
        self.statuses = Counter()
        self.lock = threading.Lock()
        # One kept-alive connection per thread: a second copy of an answer is sent from another.
        self.local = threading.local()
        self.deck, self.fragment = 0, None
        self.logged_in = False

    @property
    def requests(self):
        return sum(self.statuses.values())

    def request(self, path, data=None, *, htmx=False, timeout=REQUEST_TIMEOUT):
        """Return (status, body); status is None when no response came (error or timeout)."""
        headers = {}
        if htmx:
            headers |= {"HX-Request": "true", "HX-Target": "study"}
            headers["HX-Current-URL"] = f"{self.base_url}/decks/{self.slug}/study/"
        with self.lock:
            if self.cookies:
                headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
            token = self.cookies.get("csrftoken", "")
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["X-CSRFToken"] = token
        # A request with a timeout of its own goes on a connection of its own.
        own = timeout != REQUEST_TIMEOUT
        connection = self._connection(timeout) if own else self._kept_alive()
        try:
            connection.request("POST" if data is not None else "GET", path, body, headers)
            response = connection.getresponse()
            status, text = response.status, response.read().decode(errors="replace")
        except TimeoutError:
            status, text = "timeout", ""
        except (OSError, http.client.HTTPException):
            status, text = "error", ""
        if own or not isinstance(status, int):
            connection.close()
        with self.lock:
            self.statuses[status] += 1
            if isinstance(status, int):
                for cookie in response.headers.get_all("Set-Cookie") or []:
                    name, _, rest = cookie.partition("=")
                    self.cookies[name.strip()] = rest.split(";", 1)[0]
        return (status, text) if isinstance(status, int) else (None, text)

    def _connection(self, timeout):
        return http.client.HTTPConnection(self.host, timeout=timeout)

    def _kept_alive(self):
        # http.client opens it again after a response that closed it (gunicorn's sync workers).
        if getattr(self.local, "connection", None) is None:
            self.local.connection = self._connection(REQUEST_TIMEOUT)
        return self.local.connection

    def log_in(self, deadline=None):
        """Log in through the login form, trying up to three times before the deadline."""
        for _ in range(3):
            if deadline is not None and time.monotonic() > deadline:
                break
            status, page = self.request("/accounts/login/")
            token = dict(HIDDEN_FIELD.findall(page)).get("csrfmiddlewaretoken")
            if status != 200 or not token:
                continue
            form = {"username": self.username, "password": self.password}
            status, _ = self.request("/accounts/login/", form | {"csrfmiddlewaretoken": token})
            if status == 302 and "sessionid" in self.cookies:
                self.logged_in = True
                break
        return self.logged_in

    @property
    def slug(self):
        return self.decks[self.deck % len(self.decks)]

    def card_on_screen(self):
        """The answer form of the card shown, fetching the study fragment when none is at hand
        and moving to the next deck when one is finished for now; None if every deck is."""
        for _ in range(len(self.decks)):
            if self.fragment is None:
                status, text = self.request(f"/decks/{self.slug}/study/", htmx=True)
                self.fragment = text if status == 200 else ""
            fields = dict(HIDDEN_FIELD.findall(self.fragment))
            if fields.keys() >= ANSWER_FIELDS:
                return fields
            self.deck, self.fragment = self.deck + 1, None
        return None

    def post_answer(self, fields, rating, *, timeout=REQUEST_TIMEOUT):
        """Send the answer form of `fields` with `rating`, as the rating button does."""
        path = f"/decks/{self.slug}/study/answer/"
        return self.request(path, {**fields, "rating": rating}, htmx=True, timeout=timeout)

    def answer(self, rating):
        """Answer the card on screen; its response becomes the card on screen."""
        fields = self.card_on_screen()
        if fields is None:
            return None, ""
        status, text = self.post_answer(fields, rating)
        # A 409 names the refusal and shows the next card, as a 200 does.
        self.fragment = text if status in (200, 409) else None
        return status, text
