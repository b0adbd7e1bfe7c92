"""All settings, read from the environment in one place.

Four strict helpers read variables; a malformed value raises ImproperlyConfigured at
start-up instead of misbehaving later. Defaults give a working local site (SQLite, a local
Redis started by `make run`); production sets SECRET_KEY, DEBUG=0, ALLOWED_HOSTS,
DATABASE_URL and REDIS_URL.

Names: a setting of our own is CXR_*, named as the variable it is read from. Django's and the
libraries' settings keep their own names (SESSION_COOKIE_AGE, AXES_*, CELERY_*, EMAIL_*), and so do
the variables every deployment knows (DEBUG, SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, REDIS_URL,
HTTPS, TIME_ZONE); the variables users set keep working under the names the README gives.
"""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    # Empty means unset, as in the helpers below: CXR_DATA_DIR="" must not mean the current folder.
    return os.environ.get(name) or default


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_int(name: str, default: int) -> int:
    return _env_number(name, default, int, "an integer")


def env_float(name: str, default: float) -> float:
    return _env_number(name, default, float, "a number")


def _env_number(name: str, default, parse, kind: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be {kind}, not {value!r}") from None


def _owner_only(path: Path, mode: int) -> None:
    # Also tightens an install made before this rule (folder 0755, database 0644); a correct one is untouched.
    if path.stat().st_mode & 0o077:
        path.chmod(mode)


def _private_dir(path: Path) -> Path:
    """The folder of the database, the secret key and the images: the service's own user only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(path, 0o700)
    return path


def _private_sqlite_file(name: str) -> None:
    """SQLite would create the file readable by all (umask 022); created here 0600, it keeps that
    mode, and SQLite gives its journal the same one."""
    if name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    path.touch(mode=0o600, exist_ok=True)  # an empty file is a valid empty database
    _owner_only(path, 0o600)


DEBUG = env_bool("DEBUG", False)
CXR_DATA_DIR = _private_dir(Path(env_str("CXR_DATA_DIR", str(BASE_DIR / "var"))))


def _secret_key() -> str:
    """SECRET_KEY from the environment; a local install keeps a generated one in CXR_DATA_DIR."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = CXR_DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in env_str("ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in env_str("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "csp",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served from our own static files
    "classifier",
    "cases",
]

MIDDLEWARE = [
    "cxrsite.middleware.address_from_local_proxy",
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files carry the policy too.
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The cookie or the browser's language; the signed-in user's own choice replaces it below.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "cxrsite.language.users_own_language",
    "cxrsite.middleware.no_store_for_signed_in_users",
    "cxrsite.middleware.refresh_idle_session",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "cases.audit.actors.RequestActorMiddleware",  # the actor audit receivers record
    # Axes must come last: it turns a locked-out login into a lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cxrsite.urls"
WSGI_APPLICATION = "cxrsite.wsgi.application"

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
                "cases.context_processors.roles",
                "cxrsite.idle.session_idle_seconds",
                "django.template.context_processors.i18n",
                "cxrsite.language.switcher",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{CXR_DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        # A reused connection the server has dropped (restart, failover) is replaced before the
        # request uses it, instead of failing that request.
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    _private_sqlite_file(str(DATABASES["default"]["NAME"]))
    # The worker and the web server write at once; wait for the lock instead of failing.
    # IMMEDIATE: a transaction takes the write lock when it begins, so it waits for it; a deferred
    # one that reads and then writes fails at once with "database is locked" under concurrent writers.
    # WAL: readers never wait for the writer (a page view during an upload's commit), and a commit
    # costs one fsync of the log. synchronous=FULL keeps a committed case on power loss, which
    # WAL's usual NORMAL would not: a clinical store must not lose one.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        timeout=20, transaction_mode="IMMEDIATE", init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")
    # Tests use a file, not memory, so that a worker subprocess sees the rows they commit; one per run.
    DATABASES["default"]["TEST"] = {
        "NAME": env_str("CXR_TEST_DATABASE", str(Path(tempfile.gettempdir()) / f"cxr-test-{os.getpid()}.sqlite3"))
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Accounts and sessions
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
PASSWORD_HASHERS = [
    "cxrsite.hashers.OWASPArgon2PasswordHasher",  # why: cxrsite/hashers.py
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = env_int("SESSION_IDLE_SECONDS", 30 * 60)
# The idle timeout counts from the last request: cxrsite.middleware.refresh_idle_session saves
# the session for that at most once a minute, and never on a POST, so a session write can
# never turn a case that was saved into an error page.
CXR_SESSION_REFRESH_SECONDS = 60
# Open pages (the staff case page and case list, the worklist) look for new results this often. Their
# polls send X-CXR-Poll and do not count as activity: an unattended page still reaches the idle logout.
CXR_LIVE_REFRESH_SECONDS = env_int("CXR_LIVE_REFRESH_SECONDS", 15)
# Messages in a cookie: showing "Case submitted." writes nothing to the database after the commit.
MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# Password spraying (one password, many usernames) is counted per address, with a higher limit:
# a clinic's staff share one address. Axes has one limit only; cxrsite/lockout.py adds this one.
AXES_HANDLER = "cxrsite.lockout.UserAndAddressHandler"
CXR_ADDRESS_FAILURE_LIMIT = env_int("CXR_ADDRESS_FAILURE_LIMIT", 30)
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"

# Security headers; HTTPS can be switched off only for a local demo behind no proxy.
HTTPS = env_bool("HTTPS", not DEBUG)
SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (django-csp; Django has its own only from 6.0): this site's own files only,
# no inline script or style, no plugins, no framing. Bootstrap's CSS draws its check marks, arrows
# and close buttons as data: SVG images, hence data: for images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# The admin needs no exception: its one inline code, a <style> in admin/change_list.html, appears
# only when a ModelAdmin turns off both action bars, which none here does (tests/test_browser_csp.py).

# Internationalisation. English is the source language; the catalogues live in locale/ (LOCALE_PATHS)
# and locale/GLOSSARY.md fixes the clinical terms. A user's language is their profile's (Profile.language),
# else the language cookie set by the switcher, else the browser's Accept-Language (cxrsite/language.py).
LANGUAGE_CODE = "en-gb"
# Every language the product ships, in its own name (the switcher shows these). Arabic is the one
# right-to-left catalogue, a preview (locale/ar/README.md), so it is off unless CXR_LANGUAGES names it.
ALL_LANGUAGES = {
    "en-gb": "English",
    "fr": "Français",
    "pt": "Português",
    "es": "Español",
    "sw": "Kiswahili",
    "ar": "العربية",
}
CXR_LANGUAGES = [code.strip() for code in env_str("CXR_LANGUAGES", "en-gb,fr,pt,es,sw").split(",") if code.strip()]
_unknown_languages = set(CXR_LANGUAGES) - set(ALL_LANGUAGES)
if _unknown_languages:
    raise ImproperlyConfigured(f"CXR_LANGUAGES names languages we have no catalogue for: {sorted(_unknown_languages)}")
if LANGUAGE_CODE not in CXR_LANGUAGES:
    raise ImproperlyConfigured(f"CXR_LANGUAGES must keep {LANGUAGE_CODE}, the language of the code's own strings")
LANGUAGES = [(code, ALL_LANGUAGES[code]) for code in CXR_LANGUAGES]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600  # the choice made on the login page outlives the browser session
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Static files: Bootstrap comes from the xstatic-bootstrap wheel, never a CDN.
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"


def _xstatic_bootstrap_dir() -> str:
    import xstatic.pkg.bootstrap as xb

    return xb.BASE_DIR


STATICFILES_DIRS = [BASE_DIR / "static", ("bootstrap", _xstatic_bootstrap_dir())]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

# Widgets render through TEMPLATES, so templates/ can override one: the admin's split date/time
# widget gets real <label>s (templates/admin/widgets/split_datetime.html).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Patient images live outside every public path and are served only by access-checked views.
CXR_STORAGE_DIR = Path(env_str("CXR_STORAGE_DIR", str(CXR_DATA_DIR / "private")))
CXR_UPLOAD_MAX_BYTES = env_int("CXR_UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
CXR_UPLOAD_MAX_PIXELS = env_int("CXR_UPLOAD_MAX_PIXELS", 50_000_000)
CXR_UPLOAD_MIN_SIDE = env_int("CXR_UPLOAD_MIN_SIDE", 128)
# The same image for the same patient within this many minutes is filed again only when the person confirms.
CXR_DUPLICATE_IMAGE_MINUTES = env_int("CXR_DUPLICATE_IMAGE_MINUTES", 30)
# A resumable upload (tus) left unfinished this long after its last chunk is removed by the orphan sweep:
# long enough for a clinic's link to be down over a weekend.
CXR_UPLOAD_EXPIRY_SECONDS = env_int("CXR_UPLOAD_EXPIRY_SECONDS", 4 * 24 * 3600)
# While one request sends a film (the clients send it in one PATCH), the bytes so far are synced and the
# offset recorded once at least this many bytes and this many seconds have passed since the last time:
# a server killed mid-film loses at most that much of it, and a fast link (the whole film within the
# seconds) costs no extra commit at all.
CXR_UPLOAD_CHECKPOINT_BYTES = env_int("CXR_UPLOAD_CHECKPOINT_BYTES", 1024 * 1024)
CXR_UPLOAD_CHECKPOINT_SECONDS = env_int("CXR_UPLOAD_CHECKPOINT_SECONDS", 5)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Redis and Celery. `make run` starts a local Redis on this port when REDIS_URL is unset.
REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6390/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CXR_TASK_SOFT_TIME_LIMIT", 60)
CELERY_TASK_TIME_LIMIT = env_int("CXR_TASK_TIME_LIMIT", 90)
# Longer than any task, so Redis never hands a running task to a second worker.
# Socket timeouts: a Redis that accepts connections but never answers (frozen, overloaded)
# fails a publish in seconds, so a submission is saved as "classification delayed", not a 500.
CXR_BROKER_TIMEOUT_SECONDS = env_int("CXR_BROKER_TIMEOUT_SECONDS", 3)
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CXR_VISIBILITY_TIMEOUT", 600),
                                   "socket_timeout": CXR_BROKER_TIMEOUT_SECONDS,
                                   "socket_connect_timeout": CXR_BROKER_TIMEOUT_SECONDS,
                                   # Publishing does not retry the connection (kombu's default sleeps ~6 s
                                   # before giving up on a refused one): the reaper retries instead.
                                   # The worker's consumer reconnects by its own retry settings.
                                   "max_retries": 0}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = CXR_BROKER_TIMEOUT_SECONDS
# Classification and upkeep on separate queues, each with its own worker (bin/run), so the
# reaper runs while cases queue up behind a slow or absent classification worker.
CELERY_TASK_DEFAULT_QUEUE = "classification"
CELERY_TASK_ROUTES = {name: {"queue": "upkeep"} for name in (
    "cases.tasks.requeue_stuck_cases", "cases.tasks.refresh_planner_statistics", "cases.tasks.sweep_orphan_files",
    "cases.tasks.requeue_unsent_results", "cases.tasks.check_clinic_drift",
    "cases.tasks.refresh_oversight", "cases.tasks.requeue_due_deliveries", "cases.tasks.make_display")}
# Webhooks and notifications leave the site: their own queue and worker (bin/run), so a slow receiver or mail
# server never holds up classification or the reaper.
CELERY_TASK_ROUTES |= {name: {"queue": "integrations"} for name in (
    "cases.tasks.deliver_webhook", "cases.tasks.send_notification")}
# A database or storage outage is ridden out by the task: retries after 5, 10, 20, 40, 80 s.
CXR_TASK_MAX_RETRIES = env_int("CXR_TASK_MAX_RETRIES", 5)
CXR_TASK_RETRY_BACKOFF_SECONDS = env_int("CXR_TASK_RETRY_BACKOFF_SECONDS", 5)
# A submission must not hang on a dead broker: a few quick tries, then the case waits for the reaper.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Celery's Django fixup closes every database connection before and after each task unless this is set: a new
# connection per case (about 1 ms of the worker's CPU on SQLite, a new server process on PostgreSQL). With it,
# the fixup closes them only every this many tasks, and cxrsite/celery.py treats a task as Django treats a
# request: a connection older than CONN_MAX_AGE, or that saw an error, is closed; CONN_HEALTH_CHECKS replaces
# one the server dropped before the task uses it.
CELERY_DB_REUSE_MAX = 1000

# The reaper hands cases stuck before "predicted" back to the queue; a case that has started
# CXR_MAX_ATTEMPTS classifications without finishing one, or that has been queued again
# CXR_MAX_ATTEMPTS times after environmental faults (2, 4, 8... periods apart), is marked failed.
CXR_REQUEUE_AFTER_SECONDS = env_int("CXR_REQUEUE_AFTER_SECONDS", 120)
CXR_MAX_ATTEMPTS = env_int("CXR_MAX_ATTEMPTS", 3)
CXR_REAPER_INTERVAL_SECONDS = env_int("CXR_REAPER_INTERVAL_SECONDS", 60)
CXR_WORKER_PING_TIMEOUT = env_float("CXR_WORKER_PING_TIMEOUT", 1.0)
# Storage files no row refers to are removed once this old (a write whose row never committed).
CXR_ORPHAN_GRACE_SECONDS = env_int("CXR_ORPHAN_GRACE_SECONDS", 24 * 3600)
if CXR_REQUEUE_AFTER_SECONDS <= CELERY_TASK_TIME_LIMIT:
    # Otherwise the reaper would hand a case that is still being classified to a second worker.
    raise ImproperlyConfigured("CXR_REQUEUE_AFTER_SECONDS must be longer than CXR_TASK_TIME_LIMIT")
CELERY_BEAT_SCHEDULE = {
    # Expiring: while no worker runs, the reaper runs do not pile up in the queue.
    "requeue-stuck-cases": {"task": "cases.tasks.requeue_stuck_cases", "schedule": CXR_REAPER_INTERVAL_SECONDS,
                            "options": {"expires": CXR_REAPER_INTERVAL_SECONDS}},
    # Files of writes that never committed (cases/storage/sweep.py); hourly.
    "sweep-orphan-files": {"task": "cases.tasks.sweep_orphan_files", "schedule": 3600, "options": {"expires": 3600}},
    # DICOM results whose task could not be queued when their review was signed (cases/dicom/outbox.py).
    "requeue-unsent-results": {"task": "cases.tasks.requeue_unsent_results", "schedule": CXR_REAPER_INTERVAL_SECONDS,
                               "options": {"expires": CXR_REAPER_INTERVAL_SECONDS}},
    # SQLite only (classification/upkeep.py): hourly planner statistics, which PostgreSQL keeps by itself.
    "refresh-planner-statistics": {"task": "cases.tasks.refresh_planner_statistics", "schedule": 3600,
                                   "options": {"expires": 3600}},
}

# DICOM networking (cases/dicom/): the Storage SCP that modalities send to, and the results sent back.
CXR_DICOM_HOST = env_str("CXR_DICOM_HOST", "127.0.0.1")
CXR_DICOM_PORT = env_int("CXR_DICOM_PORT", 11112)
CXR_DICOM_AE_TITLE = env_str("CXR_DICOM_AE_TITLE", "CXRTRIAGE")
CXR_DICOM_TIMEOUT = env_int("CXR_DICOM_TIMEOUT", 30)  # seconds a silent peer is waited for
# Results to a PACS that does not answer are retried with backoff from this many seconds, doubling
# up to 10 minutes, this many times; then the result is marked failed on the case page.
CXR_DICOM_RETRY_SECONDS = env_int("CXR_DICOM_RETRY_SECONDS", 15)
CXR_DICOM_SEND_ATTEMPTS = env_int("CXR_DICOM_SEND_ATTEMPTS", 12)
if len(CXR_DICOM_AE_TITLE) > 16 or not CXR_DICOM_AE_TITLE.strip():
    raise ImproperlyConfigured("CXR_DICOM_AE_TITLE must be 1 to 16 characters")

# The integration API (cases/integrations/): tokens, idempotency, webhooks, FHIR.
# The address people and systems reach the site at: the links in webhooks, notifications and FHIR.
CXR_SITE_URL = env_str("CXR_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
CXR_API_RATE_LIMIT = env_int("CXR_API_RATE_LIMIT", 120)  # requests per token per minute
CXR_API_PAGE_SIZE = env_int("CXR_API_PAGE_SIZE", 50)  # cases per page of "changed since"
# Changes younger than this are left for the next page of "changed since": a transaction that began
# before a later one committed is never skipped by a cursor already past it.
CXR_API_CURSOR_SETTLE_SECONDS = env_int("CXR_API_CURSOR_SETTLE_SECONDS", 5)
CXR_WEBHOOK_TIMEOUT_SECONDS = env_int("CXR_WEBHOOK_TIMEOUT_SECONDS", 10)
# Retries: CXR_WEBHOOK_RETRY_SECONDS doubling up to CXR_WEBHOOK_RETRY_MAX_SECONDS, CXR_WEBHOOK_ATTEMPTS tries
# in all (the defaults keep trying for about a day), then the event is marked failed in the admin.
CXR_WEBHOOK_RETRY_SECONDS = env_int("CXR_WEBHOOK_RETRY_SECONDS", 30)
CXR_WEBHOOK_RETRY_MAX_SECONDS = env_int("CXR_WEBHOOK_RETRY_MAX_SECONDS", 3600)
CXR_WEBHOOK_ATTEMPTS = env_int("CXR_WEBHOOK_ATTEMPTS", 30)
CXR_NOTIFICATION_ATTEMPTS = env_int("CXR_NOTIFICATION_ATTEMPTS", 5)
# Text messages to people: the console backend logs them, the file backend writes one file each into
# CXR_SMS_FILE_PATH; a provider's adapter is a class with the same `send_messages` (cases/notifications/sms.py).
CXR_SMS_BACKEND = env_str("CXR_SMS_BACKEND", "cases.notifications.sms.ConsoleBackend")
CXR_SMS_FILE_PATH = Path(env_str("CXR_SMS_FILE_PATH", str(CXR_DATA_DIR / "sms")))
for _name in ("CXR_API_RATE_LIMIT", "CXR_WEBHOOK_TIMEOUT_SECONDS", "CXR_WEBHOOK_RETRY_SECONDS", "CXR_WEBHOOK_ATTEMPTS",
              "CXR_NOTIFICATION_ATTEMPTS", "CXR_API_PAGE_SIZE"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "cases.integrations.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",  # the browser's session, with its CSRF check
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["cases.integrations.authentication.TokenRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "CXR Triage integration API",
    "DESCRIPTION": ("Submit chest X-ray cases and read their status, AI suggestion and signed review, as FHIR R4B "
                    "too. Research software, not a diagnostic device: every AI suggestion must be confirmed by a "
                    "qualified radiologist."),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# Silent trials (cases/classification/trials.py): off, no version on trial classifies anything.
CXR_TRIALS_ENABLED = env_bool("CXR_TRIALS_ENABLED", True)
# A version whose trial failed on more than this share of the cases it tried (cases/oversight/activation.py)
# cannot be activated: a version that does not load or run on the workers would fail every case.
CXR_TRIAL_MAX_FAILURE_PERCENT = env_float("CXR_TRIAL_MAX_FAILURE_PERCENT", 2.0)
if not 0 <= CXR_TRIAL_MAX_FAILURE_PERCENT <= 100:
    raise ImproperlyConfigured("CXR_TRIAL_MAX_FAILURE_PERCENT must be between 0 and 100")

# Per-clinic oversight (cases/oversight/clinics.py, cases/oversight/drift.py): weeks shown, and the drift
# check that beat runs, which flags a clinic whose weekly rates leave their usual range.
CXR_OVERSIGHT_WEEKS = env_int("CXR_OVERSIGHT_WEEKS", 12)
CXR_DRIFT_BASELINE_WEEKS = env_int("CXR_DRIFT_BASELINE_WEEKS", 8)
CXR_DRIFT_MIN_CASES = env_int("CXR_DRIFT_MIN_CASES", 10)
CXR_DRIFT_CHECK_INTERVAL_SECONDS = env_int("CXR_DRIFT_CHECK_INTERVAL_SECONDS", 3600)
# The oversight pages aggregate every case: beat computes their figures every
# CXR_OVERSIGHT_REFRESH_SECONDS (cases/oversight/snapshots.py) and a page shows figures at most
# CXR_OVERSIGHT_MAX_AGE_SECONDS old, saying how old; older or missing ones are computed on the request.
# CXR_OVERSIGHT_REFRESH_SECONDS=0 turns the background figures off (every page computes its own).
CXR_OVERSIGHT_REFRESH_SECONDS = env_int("CXR_OVERSIGHT_REFRESH_SECONDS", 300)
CXR_OVERSIGHT_MAX_AGE_SECONDS = env_int("CXR_OVERSIGHT_MAX_AGE_SECONDS", 900)
if CXR_OVERSIGHT_REFRESH_SECONDS:
    if CXR_OVERSIGHT_MAX_AGE_SECONDS <= CXR_OVERSIGHT_REFRESH_SECONDS:
        # Otherwise the figures would expire before beat replaces them, and pages compute their own.
        raise ImproperlyConfigured("CXR_OVERSIGHT_MAX_AGE_SECONDS must be longer than CXR_OVERSIGHT_REFRESH_SECONDS")
    CELERY_BEAT_SCHEDULE["refresh-oversight"] = {
        "task": "cases.tasks.refresh_oversight", "schedule": CXR_OVERSIGHT_REFRESH_SECONDS,
        "options": {"expires": CXR_OVERSIGHT_REFRESH_SECONDS}}
# Webhook events and notifications whose next try is due but whose message is not in the queue (lost, or
# the broker was down): cases/integrations/webhooks.py, cases/notifications/services.py.
CELERY_BEAT_SCHEDULE["requeue-due-deliveries"] = {
    "task": "cases.tasks.requeue_due_deliveries", "schedule": CXR_REAPER_INTERVAL_SECONDS,
    "options": {"expires": CXR_REAPER_INTERVAL_SECONDS}}
CELERY_BEAT_SCHEDULE["check-clinic-drift"] = {
    "task": "cases.tasks.check_clinic_drift", "schedule": CXR_DRIFT_CHECK_INTERVAL_SECONDS,
    "options": {"expires": CXR_DRIFT_CHECK_INTERVAL_SECONDS}}

# Per-clinic COVID-19 thresholds (cases/oversight/operating_points.py): proposed on the oversight page, never applied.
CXR_OPERATING_POINT_MIN_CASES = env_int("CXR_OPERATING_POINT_MIN_CASES", 50)
CXR_OPERATING_POINT_SENSITIVITY = env_float("CXR_OPERATING_POINT_SENSITIVITY", 0.95)
if not 0 < CXR_OPERATING_POINT_SENSITIVITY <= 1:
    raise ImproperlyConfigured("CXR_OPERATING_POINT_SENSITIVITY must be above 0 and at most 1")

# Local validation (cases/validation): a clinic goes live for a model version only when its blind reads show at
# least this many COVID-19 and other findings, and the lower 95% bounds of sensitivity and specificity at the chosen
# threshold lie above these floors (set by the administrators, here).
CXR_LOCAL_MIN_POSITIVES = env_int("CXR_LOCAL_MIN_POSITIVES", 15)
CXR_LOCAL_MIN_NEGATIVES = env_int("CXR_LOCAL_MIN_NEGATIVES", 50)
CXR_LOCAL_MIN_SENSITIVITY = env_float("CXR_LOCAL_MIN_SENSITIVITY", 0.80)
CXR_LOCAL_MIN_SPECIFICITY = env_float("CXR_LOCAL_MIN_SPECIFICITY", 0.70)
# A live clinic pauses by itself when, over its latest this many reads, even the upper bound of sensitivity or
# specificity is below its floor (cases/validation/drift.py, with the drift check).
CXR_LOCAL_ROLLING_CASES = env_int("CXR_LOCAL_ROLLING_CASES", 100)
for _floor in ("CXR_LOCAL_MIN_SENSITIVITY", "CXR_LOCAL_MIN_SPECIFICITY"):
    if not 0 <= globals()[_floor] < 1:
        raise ImproperlyConfigured(f"{_floor} must be at least 0 and below 1")

# Mail to the administrators (drift flags). The console backend prints mail; production sets SMTP.
EMAIL_BACKEND = env_str("CXR_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "cxr-triage@localhost")

# The classifier model served by the worker; the committed one by default.
CXR_MODEL_PATH = env_str("CXR_MODEL_PATH", "")
# The input gate the worker runs before any suggestion (classifier/gate.py); the committed one by default.
CXR_GATE_PATH = env_str("CXR_GATE_PATH", "")
CXR_COVID_PRIORITY_THRESHOLD = env_float("CXR_COVID_PRIORITY_THRESHOLD", 0.5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"refusals_without_traceback": {"()": "cxrsite.log_filters.RefusalsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["refusals_without_traceback"]}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
