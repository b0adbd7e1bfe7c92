"""All settings, read from the environment in one place.

Three strict helpers read variables; a malformed value raises ImproperlyConfigured at
start-up instead of misbehaving later. Defaults give a working local site (SQLite, a local
Redis started by `make run`); production sets SECRET_KEY, DEBUG=0, ALLOWED_HOSTS,
DATABASE_URL and REDIS_URL.
"""

import os
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


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
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


DEBUG = env_bool("DEBUG", False)
DATA_DIR = Path(env_str("CXR_DATA_DIR", str(BASE_DIR / "var")))
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment; a local install keeps a generated one in DATA_DIR."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    key_file = DATA_DIR / "secret_key"
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
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "classifier",
    "cases",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
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
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The worker and the web server write at once; wait for the lock instead of failing.
    # IMMEDIATE: a transaction takes the write lock when it begins, so it waits for it; a deferred
    # one that reads and then writes fails at once with "database is locked" under concurrent writers.
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, transaction_mode="IMMEDIATE")
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
SESSION_SAVE_EVERY_REQUEST = True  # the 30 minutes count from the last request: idle time
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
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

# Internationalisation
LANGUAGE_CODE = "en-gb"
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

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Patient images live outside every public path and are served only by access-checked views.
PRIVATE_STORAGE_ROOT = Path(env_str("CXR_STORAGE_DIR", str(DATA_DIR / "private")))
UPLOAD_MAX_BYTES = env_int("CXR_UPLOAD_MAX_BYTES", 25 * 1024 * 1024)
UPLOAD_MAX_PIXELS = env_int("CXR_UPLOAD_MAX_PIXELS", 50_000_000)
UPLOAD_MIN_SIDE = env_int("CXR_UPLOAD_MIN_SIDE", 128)
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
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CXR_VISIBILITY_TIMEOUT", 600)}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_TIMEOUT = 2
# A submission must not hang on a dead broker: a few quick tries, then the case waits for the reaper.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# The reaper hands cases stuck before "predicted" back to the queue; a case that has started
# CXR_MAX_ATTEMPTS classifications without finishing one is marked failed.
CXR_REQUEUE_AFTER_SECONDS = env_int("CXR_REQUEUE_AFTER_SECONDS", 120)
CXR_MAX_ATTEMPTS = env_int("CXR_MAX_ATTEMPTS", 3)
CXR_REAPER_INTERVAL_SECONDS = env_int("CXR_REAPER_INTERVAL_SECONDS", 60)
CXR_WORKER_PING_TIMEOUT = float(env_str("CXR_WORKER_PING_TIMEOUT", "1.0"))
if CXR_REQUEUE_AFTER_SECONDS <= CELERY_TASK_TIME_LIMIT:
    # Otherwise the reaper would hand a case that is still being classified to a second worker.
    raise ImproperlyConfigured("CXR_REQUEUE_AFTER_SECONDS must be longer than CXR_TASK_TIME_LIMIT")
CELERY_BEAT_SCHEDULE = {
    # Expiring: while no worker runs, the reaper runs do not pile up in the queue.
    "requeue-stuck-cases": {"task": "cases.tasks.requeue_stuck_cases", "schedule": CXR_REAPER_INTERVAL_SECONDS,
                            "options": {"expires": CXR_REAPER_INTERVAL_SECONDS}},
    # SQLite only (cases/upkeep.py): hourly planner statistics, which PostgreSQL keeps by itself.
    "refresh-planner-statistics": {"task": "cases.tasks.refresh_planner_statistics", "schedule": 3600,
                                   "options": {"expires": 3600}},
}

# Silent trials (cases/classification/trials.py): off, no version on trial classifies anything.
CXR_TRIALS_ENABLED = env_bool("CXR_TRIALS_ENABLED", True)

# Per-clinic oversight (cases/audit/clinics.py, cases/audit/drift.py): weeks shown, and the drift
# check that beat runs, which flags a clinic whose weekly rates leave their usual range.
CXR_OVERSIGHT_WEEKS = env_int("CXR_OVERSIGHT_WEEKS", 12)
CXR_DRIFT_BASELINE_WEEKS = env_int("CXR_DRIFT_BASELINE_WEEKS", 8)
CXR_DRIFT_MIN_CASES = env_int("CXR_DRIFT_MIN_CASES", 10)
CXR_DRIFT_CHECK_INTERVAL_SECONDS = env_int("CXR_DRIFT_CHECK_INTERVAL_SECONDS", 3600)
CELERY_BEAT_SCHEDULE["check-clinic-drift"] = {
    "task": "cases.tasks.check_clinic_drift", "schedule": CXR_DRIFT_CHECK_INTERVAL_SECONDS,
    "options": {"expires": CXR_DRIFT_CHECK_INTERVAL_SECONDS}}

# Per-clinic COVID-19 thresholds (cases/audit/operating_points.py): proposed on the oversight page, never applied.
CXR_OPERATING_POINT_MIN_CASES = env_int("CXR_OPERATING_POINT_MIN_CASES", 50)
CXR_OPERATING_POINT_SENSITIVITY = float(env_str("CXR_OPERATING_POINT_SENSITIVITY", "0.95"))
if not 0 < CXR_OPERATING_POINT_SENSITIVITY <= 1:
    raise ImproperlyConfigured("CXR_OPERATING_POINT_SENSITIVITY must be above 0 and at most 1")

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
COVID_PRIORITY_THRESHOLD = float(env_str("CXR_COVID_PRIORITY_THRESHOLD", "0.5"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
