"""Eventide settings: safe local defaults, production values from the environment (CONTRACT §7)."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
from csp.constants import NONE, SELF
from kombu import Exchange, Queue

BASE_DIR = Path(__file__).resolve().parents[2]

env = environ.Env()
# `make dev` writes .env with development values; DJANGO_ENV_FILE names another file, or none
# when empty (`make test` runs without the developer's .env, as CI does).
ENV_FILE = env.str("DJANGO_ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)


def redis_db_url(base_url: str, db: int) -> str:
    """The same Redis server as `base_url`, database `db` (DB 0 Channels, DB 1 Celery)."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def verified_tls(url: str) -> str:
    """A `rediss://` URL checks the server certificate unless it says otherwise (kombu's default
    for a bare `rediss://` is CERT_NONE); `ssl_cert_reqs=none|optional` in the URL opts out."""
    parts = urlsplit(url)
    if parts.scheme != "rediss" or "ssl_cert_reqs=" in parts.query:
        return url
    query = "&".join(q for q in (parts.query, "ssl_cert_reqs=required") if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me-in-production")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "knox",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "django_celery_beat",
    "django_celery_results",
    "apps.accounts",
    "apps.events",
    "apps.webhooks",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the query string, headers or cookies (sessions, CSRF, auth).
    "core.errors.RefuseNulBytes",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last: turns a lockout found during authenticate() into the 429 (apps/accounts/lockout.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"
ASGI_APPLICATION = "core.asgi.application"

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

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # A database that does not answer fails a request (and /healthz) in seconds, not minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # A bounded pool per process (Django's psycopg pool), on when DATABASE_POOL_MAX is set: under
    # ASGI every request in flight has a thread and, without it, a connection of its own. A request
    # that waits DATABASE_POOL_TIMEOUT seconds for one gets a 503 with Retry-After (core.errors).
    if DATABASE_POOL_MAX := env.int("DATABASE_POOL_MAX", default=0):
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections, not Django
        DATABASES["default"]["OPTIONS"]["pool"] = {
            "min_size": env.int("DATABASE_POOL_MIN", default=2),
            "max_size": DATABASE_POOL_MAX,
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=1.0),
        }
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # `make dev` runs web, worker and beat on one SQLite file. Without these a wake-up that met
    # the web's write failed at once with "database is locked" (and was retried 5 s later):
    # WAL lets readers work beside the one writer, IMMEDIATE takes the write lock when a
    # transaction begins rather than upgrading to it midway (which fails without waiting), and
    # `timeout` is how long a writer waits for the lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "apps.accounts.validators.NotOnlyWhitespaceValidator"},
]

# The lockout backend comes first so that a locked-out client is refused before any password is
# hashed (each PBKDF2 hash costs about 0.3 s of CPU).
AUTHENTICATION_BACKENDS = [
    "apps.accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# In development (DEBUG) WhiteNoise serves straight from the apps' static folders, so runserver
# and daphne show styles without a collectstatic; production serves the collected STATIC_ROOT.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

# --- Redis: one server, DB 0 for Channels, DB 1 for the Celery broker (the seed's allocation) ---
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379")
CHANNEL_LAYER_URL = verified_tls(env.str("CHANNEL_LAYER_URL", default=redis_db_url(REDIS_URL, 0)))

CHANNEL_LAYERS = {
    "default": {
        # channels_redis's, with one reader per process fanning messages out (core.channel_layer).
        "BACKEND": "core.channel_layer.RedisChannelLayer",
        # Messages waiting for one process (channels_redis drops what is over it, silently to
        # the client): a sweep of 100,000 is 200 batches for the public stream, and each watched
        # event one more; the default of 100 lost a quarter of such a sweep. They expire in 60 s.
        "CONFIG": {"hosts": [CHANNEL_LAYER_URL], "capacity": 10_000},
    }
}

# Inbound WebSocket frames per socket (CONTRACT §5): a client over either limit is closed (4008).
# Clients need not send anything; the bucket allows a burst of one second's worth.
WS_MAX_FRAMES_PER_SECOND = env.float("WS_MAX_FRAMES_PER_SECOND", default=10)
WS_MAX_FRAME_BYTES = env.int("WS_MAX_FRAME_BYTES", default=4096)
# --- Cache: rate limits and lockouts, shared by every web process (a Redis DB of its own) ---
CACHE_URL = verified_tls(env.str("CACHE_URL", default=redis_db_url(REDIS_URL, 3)))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "eventide",
    }
}

# The client address comes from X-Forwarded-For only behind this many proxies (each appends the
# address it saw); 0 means REMOTE_ADDR, so a client cannot pick its own address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- Lockout on every password entry point: API token, /accounts/login/, /admin/login/ ---
# django-axes rather than DRF throttles: it watches django.contrib.auth's authenticate(), so it
# covers the admin and the web login as well as the API, by username and by address alike.
AXES_HANDLER = "axes.handlers.cache.AxesCacheHandler"
AXES_CACHE = "default"
# Not its "AXES: BEGIN version ..." line on every manage.py command, nor user agents in its logs.
AXES_VERBOSE = False
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
# Either one locks: a username being guessed from many addresses, an address trying many names.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The same address the DRF throttles use (NUM_PROXIES = TRUSTED_PROXY_COUNT).
AXES_CLIENT_IP_CALLABLE = "apps.accounts.lockout.client_address"
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
# The cache handler writes no AccessAttempt rows, so the admin pages for them would stay empty.
AXES_ENABLE_ADMIN = False

# --- Celery (the seed's Configuration Reference, plus what makes acks_late safe) ---
CELERY_BROKER_URL = verified_tls(env.str("CELERY_BROKER_URL", default=redis_db_url(REDIS_URL, 1)))
CELERY_RESULT_BACKEND = verified_tls(env.str("CELERY_RESULT_BACKEND", default="django-db"))
CELERY_RESULT_EXTENDED = True
# Writing a task state while the database is down waits and retries (core/results.py).
# Backoff from 0.5 s up to 5 s (jittered), 40 times: about two minutes of database outage.
CELERY_RESULT_BACKEND_ALWAYS_RETRY = True
CELERY_RESULT_BACKEND_MAX_RETRIES = 40
CELERY_RESULT_BACKEND_BASE_SLEEP_BETWEEN_RETRIES_MS = 500
CELERY_RESULT_BACKEND_MAX_SLEEP_BETWEEN_RETRIES_MS = 5000
CELERY_TIMEZONE = "Europe/London"
CELERY_ENABLE_UTC = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_TIME_LIMIT = 30 * 60
CELERY_TASK_SOFT_TIME_LIMIT = 29 * 60
CELERY_TASK_ACKS_LATE = True
# acks_late alone acks a task whose pool child was SIGKILLed; this requeues it instead.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, Any] = {
    # Longer than any countdown we use (wake-ups are capped far below it) and than the time limit.
    "visibility_timeout": 2 * 60 * 60,
}
# Redis Sentinel: CELERY_BROKER_URL="sentinel://:PASSWORD@h1:26379/1;sentinel://:PASSWORD@h2:26379/1"
# names the sentinels; the master's name comes from here (the password in the URL is the master's).
if CELERY_BROKER_URL.startswith("sentinel://"):
    CELERY_BROKER_TRANSPORT_OPTIONS["master_name"] = env.str("CELERY_BROKER_SENTINEL_MASTER")
    if sentinel_password := env.str("CELERY_BROKER_SENTINEL_PASSWORD", default=""):
        CELERY_BROKER_TRANSPORT_OPTIONS["sentinel_kwargs"] = {"password": sentinel_password}
# Three queues: "celery" for the sweeps and wake-ups, "deliveries" for sending emails (reminders
# and lifecycle messages), "webhooks" for the webhook relay, so neither a big batch nor a slow
# receiver holds up a transition. A worker started without -Q (the seed's command) consumes all
# three; the Procfile and the deployed ones split them (docs/DEPLOYMENT.md).
CELERY_TASK_DEFAULT_QUEUE = "celery"
DELIVERIES_QUEUE = "deliveries"
WEBHOOKS_QUEUE = "webhooks"
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name), routing_key=name)
    for name in ("celery", DELIVERIES_QUEUE, WEBHOOKS_QUEUE)
)
CELERY_TASK_ROUTES = {
    "events.send_event_reminder_emails": {"queue": DELIVERIES_QUEUE},
    "webhooks.*": {"queue": WEBHOOKS_QUEUE},
}
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 7 * 24 * 60 * 60
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_WORKER_SEND_TASK_EVENTS = True
CELERY_TASK_SEND_SENT_EVENT = True
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- Lifecycle ---
ARCHIVE_AFTER_DAYS = env.int("ARCHIVE_AFTER_DAYS", default=90)
REMINDER_LEAD_HOURS = env.int("REMINDER_LEAD_HOURS", default=24)
# Threads sending reminders side by side; a crash can resend at most this many emails.
REMINDER_SENDERS = max(1, env.int("REMINDER_SENDERS", default=2))
# The reminder claim is a prepared statement (PostgreSQL protocol level). Behind PgBouncer in
# transaction mode that needs PgBouncer >= 1.21 with max_prepared_statements set; or turn it off.
REMINDER_PREPARED_CLAIM = env.bool("REMINDER_PREPARED_CLAIM", default=True)
# A follow-up (or notice) this late is recorded as missed, not sent (reminders: once started).
MESSAGE_MISSED_AFTER_HOURS = env.int("MESSAGE_MISSED_AFTER_HOURS", default=24)
# Where emails' links (the one-click unsubscribe) point: the site as its users reach it.
SITE_URL = env.str("SITE_URL", default="http://localhost:8000").rstrip("/")

# --- Webhooks (CONTRACT §9) ---
# Loopback, private and link-local receivers are refused unless this is on (local testing only).
WEBHOOK_ALLOW_PRIVATE = env.bool("WEBHOOK_ALLOW_PRIVATE", default=False)
# Retries wait 1×, 2×, 4×, … this (capped at 12 h), for at least 3 days after the transition.
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=30)
# Sends in flight at once per relay: one slow receiver holds one of them, not the batch.
WEBHOOK_SENDERS = max(1, env.int("WEBHOOK_SENDERS", default=8))
# A claimed delivery is the claimer's this long; then, if the relay died mid-send, another sends
# it (same webhook-id). Above the 10 s send timeout, so a live relay's rows are never re-sent.
WEBHOOK_LEASE_SECONDS = max(11, env.int("WEBHOOK_LEASE_SECONDS", default=60))

# --- Live stream (CONTRACT §5): a reconnecting socket is replayed at most this many changes ---
WS_RESUME_LIMIT = env.int("WS_RESUME_LIMIT", default=1000)

# --- Operations (CONTRACT §8) ---
# /metrics wants `Authorization: Bearer METRICS_TOKEN`; unset, it answers the loopback only.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# Days after ARCHIVED when participants' personal data is deleted (apps/events/retention.py);
# unset, retention is off.
RETENTION_DAYS: int | None = env.int("RETENTION_DAYS", default=None)

# --- Email (console in development) ---
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Eventide <noreply@eventide.local>")
# A dotted backend path overrides EMAIL_URL's backend (the reminder crash tests use a slow one).
if env.str("EMAIL_BACKEND", default=""):
    EMAIL_BACKEND = env.str("EMAIL_BACKEND")

# Database sessions whose keys are checked before they reach a query (a NUL byte was a 500).
SESSION_ENGINE = "core.sessions"

# --- REST framework ---
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apps.accounts.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": ["apps.events.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "apps.events.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "apps.events.api.throttling.AnonThrottle",
        "apps.events.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env.str("API_THROTTLE_ANON", default="100000/hour"),
        "user": env.str("API_THROTTLE_USER", default="100000/hour"),
    },
    # DRF's default (None) takes the whole X-Forwarded-For a client sends: a fresh value per
    # request was never throttled.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Tokens (django-rest-knox): stored hashed, one per login, each with an expiry, revocable.
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Eventide API",
    "DESCRIPTION": "Events that move through their lifecycle on their own, on time, never twice.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components, so read-only fields never look writable.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "EventStatusEnum": "apps.events.models.Event.EventStatus",
        "ChangeSourceEnum": "apps.events.models.EventStatusChange.Source",
    },
    "SCHEMA_PATH_PREFIX": "/api/",
    # Swagger UI and ReDoc from the drf-spectacular-sidecar package, not a CDN: docs work offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "apps.events.api.schema.strict_request_bodies",
        "apps.events.api.schema.nullable_references",
    ],
}

# --- Security: HTTPS-only behind a TLS-terminating proxy unless DJANGO_SECURE=false ---
# On by default whenever DEBUG is off (production-safe); `make dev` (DEBUG on) and the test suite
# (conftest sets DJANGO_SECURE=false) speak plain http.
DJANGO_SECURE = env.bool("DJANGO_SECURE", default=not DEBUG)
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=DJANGO_SECURE):
    # Only safe behind a proxy that sets (and strips client-sent) X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=DJANGO_SECURE)
# Probes (compose, load balancers, `healthcheck --url`) and Prometheus use plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=DJANGO_SECURE)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=DJANGO_SECURE)
SECURE_HSTS_SECONDS = env.int(
    "DJANGO_SECURE_HSTS_SECONDS", default=365 * 24 * 60 * 60 if DJANGO_SECURE else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool(
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=DJANGO_SECURE
)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=DJANGO_SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True

# --- Content-Security-Policy (django-csp 4): our own files only, no inline script anywhere ---
# The live badge is a static file (events/live.js); 'self' also covers this host's ws:/wss:.
# Only /api/redoc/ loosens it (inline styles, a blob: worker): apps/events/api/urls.py.
# The one inline script we allow, by its hash: django-celery-beat 2.9's periodic-task form
# (crontab help). A new version changes it; test_browser.py then reports the new hash.
CELERY_BEAT_FORM_SCRIPT = "'sha256-QE3U2xYF7B4J2ro1/9oxiKhaWCGW39gB7ocQ/xlD0bE='"
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, CELERY_BEAT_FORM_SCRIPT],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- Error tracking: Sentry when SENTRY_DSN is set (web, worker and beat all load settings) ---
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        environment=env.str("SENTRY_ENVIRONMENT", default="production"),
        release=env.str("SENTRY_RELEASE", default="") or None,
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
        send_default_pii=False,
        # Only the integrations named here: auto-enabling imports whatever is installed (and
        # crashed on starlette without jinja2 in the dev environment).
        auto_enabling_integrations=False,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
    )

# --- Logging: one line per task run; JSON when LOG_FORMAT=json; URL passwords masked ---
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_credentials": {"()": "core.redact.RedactCredentials"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["redact_credentials"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per webhook request would drown the relay's own summary (and slow it).
        "httpx": {"level": "WARNING"},
    },
}
