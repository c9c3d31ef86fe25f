"""Settings, read from the environment (see the table in README.md).

Every setting has a safe local default so `make run` works on a bare machine:
SQLite and inline jobs. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY and
friends; a malformed value stops start-up with a message naming the variable.
"""

from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_DEV_SECRET = "dev-only-insecure-secret-key-change-me"


def _setting(name: str, parse, default):
    """Read one variable through `parse`; a bad value fails here, naming the variable."""
    try:
        return parse(name, default=default)
    except (ValueError, ImproperlyConfigured, KeyError) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {exc}") from exc


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _strict_bool(name: str, default: bool) -> bool:
    """Unlike env.bool, which reads any unknown word as False, refuse it."""
    value = env.str(name, default=str(default)).strip().lower()
    if value not in _TRUE | _FALSE:
        raise ValueError(f"{value!r} is not one of true/false, 1/0, yes/no, on/off")
    return value in _TRUE


DEBUG = _setting("DEBUG", _strict_bool, True)
SECRET_KEY = _setting("SECRET_KEY", env.str, _DEV_SECRET)
ALLOWED_HOSTS = _setting(
    "ALLOWED_HOSTS", env.list, ["127.0.0.1", "localhost", "testserver"] if DEBUG else []
)
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (host names, commas).")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "django_rq",
    "django_htmx",
    "rest_framework",
    "helpdesk",
    "clients",
    "tickets",
    "telephony",
    "psasync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"

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

WSGI_APPLICATION = "helpdesk.wsgi.application"


def _database():
    url = _setting("DATABASE_URL", env.str, f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    scheme = url.split(":", 1)[0]
    if scheme not in environ.Env.DB_SCHEMES:
        raise ImproperlyConfigured(
            f"DATABASE_URL has an unknown scheme {scheme!r}; use postgres:// or sqlite:///"
        )
    try:
        db = environ.Env.db_url_config(url)
    except Exception as exc:  # django-environ raises several kinds for a bad URL
        raise ImproperlyConfigured(f"DATABASE_URL is invalid: {exc}") from exc
    if db["ENGINE"].endswith("sqlite3"):
        # Wait for a writer instead of failing at once when a worker holds the lock.
        db.setdefault("OPTIONS", {})["timeout"] = 20
    else:
        db.setdefault("CONN_MAX_AGE", 60)
        db["CONN_HEALTH_CHECKS"] = True
    return db


DATABASES = {"default": _database()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = _setting("MEDIA_ROOT", env.str, str(BASE_DIR / "media"))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "desk:my-tickets"
LOGOUT_REDIRECT_URL = "login"

# Mail we send (SLA alerts to the SDMs). Without EMAIL_URL it goes to the console.
DEFAULT_FROM_EMAIL = _setting("DEFAULT_FROM_EMAIL", env.str, "service-desk@localhost")
_email = _setting("EMAIL_URL", env.email_url, "consolemail://")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = _email.get("EMAIL_PORT") or 25
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or ""
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or ""
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS"))
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL"))

# --- Intake -----------------------------------------------------------------
# A mail of up to INTAKE_MAX_MESSAGE_BYTES must get through. Providers wrap it:
# base64 in JSON (SES, Postmark) adds a third, so the request limit is larger.
INTAKE_MAX_MESSAGE_BYTES = 30 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = INTAKE_MAX_MESSAGE_BYTES * 4 // 3 + 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE
DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000

ANYMAIL = {
    # Basic-auth "user:password" the provider puts in the webhook URL.
    "WEBHOOK_SECRET": _setting("ANYMAIL_WEBHOOK_SECRET", env.str, "dev:dev-webhook-secret"),
}
_mailgun_key = _setting("MAILGUN_WEBHOOK_SIGNING_KEY", env.str, "")
if _mailgun_key:
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = _mailgun_key
if not DEBUG and ANYMAIL["WEBHOOK_SECRET"] == "dev:dev-webhook-secret":
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET must be set when DEBUG is off.")
if ":" not in ANYMAIL["WEBHOOK_SECRET"]:
    raise ImproperlyConfigured("ANYMAIL_WEBHOOK_SECRET must look like 'user:password'.")

# --- Background jobs -----------------------------------------------------------
# Without REDIS_URL, jobs run inline in the caller (desklib.jobs.enqueue).
REDIS_URL = _setting("REDIS_URL", env.str, "")
if REDIS_URL:
    if not REDIS_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured("REDIS_URL must start with redis://, rediss:// or unix://")
    try:
        urlsplit(REDIS_URL).port  # noqa: B018 (raises on a port that is not a number)
    except ValueError as exc:
        raise ImproperlyConfigured(f"REDIS_URL is invalid: {exc}") from exc
RQ_QUEUE_NAMES = ("intake", "psa", "telephony", "default")
# A PSA send is stopped after 120 s (psasync.sending.JOB_TIMEOUT): its sweeper takes
# back rows "sending" longer than that, which must never be a send still running.
RQ_QUEUES = {
    name: {
        "URL": REDIS_URL or "redis://127.0.0.1:6379/0",
        "DEFAULT_TIMEOUT": 120 if name == "psa" else 600,
    }
    for name in RQ_QUEUE_NAMES
}

# One cache for what outlives a job (PSA tokens, Autotask zone URLs): Redis when
# there is one, so every worker shares it; memory otherwise.
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- PSA write-back -------------------------------------------------------------
# Fernet keys (urlsafe base64, 32 bytes) for credentials at rest. The first
# encrypts; every key decrypts, so a new key goes first and the old one stays
# until `manage.py rotate_psa_keys` has re-encrypted everything.
_DEV_FIELD_KEY = "ZGV2LW9ubHktZmllbGQta2V5LWNoYW5nZS1tZS0wMDA="
FIELD_ENCRYPTION_KEYS = _setting("FIELD_ENCRYPTION_KEYS", env.list, [_DEV_FIELD_KEY])
if not FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must name at least one key.")
if not DEBUG and _DEV_FIELD_KEY in FIELD_ENCRYPTION_KEYS:
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")
try:
    from cryptography.fernet import Fernet

    for _key in FIELD_ENCRYPTION_KEYS:
        Fernet(_key)
except ValueError as exc:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEYS must be Fernet keys (python -c 'from cryptography.fernet "
        f"import Fernet; print(Fernet.generate_key().decode())'): {exc}"
    ) from exc

LOG_LEVEL = _setting("LOG_LEVEL", env.str, "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    raise ImproperlyConfigured("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tickets": {"level": LOG_LEVEL},
        "desklib": {"level": LOG_LEVEL},
        "psasync": {"level": LOG_LEVEL},
        "django.request": {"level": "ERROR"},
    },
}
