"""Settings for the flashcards project, read from the environment; safe when nothing is set."""

import os
import secrets
import sys
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


BOOLEAN_SPELLINGS = {
    **dict.fromkeys(("1", "true", "yes", "on"), True),
    **dict.fromkeys(("0", "false", "no", "off"), False),
}


def env_bool(name, default=False):
    """The variable as a boolean; a value it cannot read is refused, not taken for off."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return BOOLEAN_SPELLINGS[value.lower()]
    except KeyError:
        raise ImproperlyConfigured(
            f"{name}={value!r} is neither on (1, true, yes, on) nor off (0, false, no, off)."
        ) from None


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def local_secret_key():
    """A random key kept in var/ for a single machine; deployments set SECRET_KEY instead."""
    path = VAR_DIR / "secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY")
if not SECRET_KEY:
    # The key `make run` kept serves this machine's other commands too; a deployment that has
    # neither that file nor SECRET_KEY is refused rather than given a key nobody chose.
    if not (DEBUG or env_bool("LOCAL_SECRET_KEY") or (VAR_DIR / "secret-key").exists()):
        raise ImproperlyConfigured(
            "Set SECRET_KEY (or DEBUG=1 for development, or LOCAL_SECRET_KEY=1 to keep a key in "
            "var/secret-key on a single machine)."
        )
    SECRET_KEY = local_secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "flashcards",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages and fragments are compressed; CSRF tokens are masked per response (BREACH).
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "flashcards.middleware.HtmxLoginRedirectMiddleware",
    # A database out of reach is a 503, a full disk a 507, each a page that says so.
    "flashcards.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "flashcards.urls"
WSGI_APPLICATION = "flashcards.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Connections are kept between requests (SQLite too): opening one costs more than an answer.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}", conn_max_age=600
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at BEGIN, so two
    # answers queue on the busy timeout instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A stopped or unreachable server is an error page within seconds (503, see
    # flashcards.middleware), not a worker hung until its timeout.
    # Parameters stay bound by the client: with server-side binding, prepared statements fell
    # back to generic plans and the answer step took 127 ms instead of 15 (bench/loop.py).
    DATABASES["default"]["OPTIONS"] = {"connect_timeout": 5}
    # A web request gives up on a statement after 30 s; management commands (migrations,
    # backups, fitting) may rightly run longer, and keep no limit.
    if not (Path(sys.argv[0]).name == "manage.py" and sys.argv[1:2] != ["runserver"]):
        statement_timeout = int(os.environ.get("DATABASE_STATEMENT_TIMEOUT", 30))
        DATABASES["default"]["OPTIONS"]["options"] = f"-c statement_timeout={statement_timeout}s"

# Background work (imports, fitting) is queued in the database and run by `manage.py db_worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = ["flashcards.auth.ProfileBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "flashcards:deck_list"
LOGOUT_REDIRECT_URL = "flashcards:deck_list"

LANGUAGE_CODE = "en"
# The server's zone: the default for a learner who has not chosen their own.
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Served over TLS (behind a proxy that terminates it), cookies are secure and browsers keep to
# HTTPS. HTTPS=1 turns it on; it is off for the local http:// server.
HTTPS = env_bool("HTTPS")
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_SSL_REDIRECT = HTTPS and env_bool("SECURE_SSL_REDIRECT", True)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0))
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
# Asking browsers to preload HTTPS for the whole domain is hard to undo (leaving their lists
# takes months), so it is its own choice: HSTS_PRELOAD=1. Without it, `check --deploy` keeps
# quiet about preload, as the choice not to is deliberate.
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD")
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_HTTPONLY = True
# Sessions are read from the shared cache, and from the database only when the cache lost them.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# No inline script or style anywhere: every script is a file of ours.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "https:", "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

# Shared by every app server: Redis where REDIS_URL is set, else files on this machine.
if os.environ.get("REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
            "OPTIONS": {
                # Redis down or hung is a cache miss within a fraction of a second, logged:
                # sessions are then read from the database (login throttling counts nothing).
                "CLIENT_CLASS": "flashcards.cache.OutageTolerantClient",
                "IGNORE_EXCEPTIONS": True,
                "SOCKET_CONNECT_TIMEOUT": 0.1,
                "SOCKET_TIMEOUT": 0.1,
            },
        }
    }
    DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": VAR_DIR / "cache",
        }
    }

# Failures allowed within each window before attempts are refused unread (flashcards.throttle):
# per account and address, per address, per account from unknown devices, per known device.
LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS = int(
    os.environ.get("LOGIN_FAILURES_PER_ACCOUNT_AND_ADDRESS", 5)
)
LOGIN_FAILURES_PER_ADDRESS = int(os.environ.get("LOGIN_FAILURES_PER_ADDRESS", 20))
LOGIN_FAILURES_PER_ACCOUNT = int(os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", 10))
LOGIN_FAILURES_PER_KNOWN_DEVICE = int(os.environ.get("LOGIN_FAILURES_PER_KNOWN_DEVICE", 5))
SIGNUP_FAILURES_PER_ADDRESS = int(os.environ.get("SIGNUP_FAILURES_PER_ADDRESS", 10))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", 15 * 60))
# How many proxies stand in front of the app servers: the client's address is the one the
# outermost of them saw, read from X-Forwarded-For. With none, that header is never trusted.
TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", 0))

# The largest file a learner may import; an upload up to it is read in memory, not spooled
# to a temporary file, since the import reads it whole anyway.
MAX_IMPORT_BYTES = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_IMPORT_BYTES
# A form's text, files aside: a card's two sides at their limit are under 100 KB, and parsing a
# body costs memory many times its size, so anything larger is refused (400) before it is read.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
# Password-reset mail: printed to the console in development, sent by SMTP otherwise.
if DEBUG:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": os.environ.get("EMAIL_HOST", "localhost"),
                "port": int(os.environ.get("EMAIL_PORT", 25)),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS"),
            },
        }
    }
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "flashcards@localhost")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
