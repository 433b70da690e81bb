"""Parley settings: one module, every value from the environment.

With no environment at all Parley runs embedded (SQLite, in-memory channel layer, eager
Celery, console e-mail, local media). Each external service switches on when its variable
is set; `.env.example` lists them all.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django_guid.integrations import CeleryIntegration

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# CORE
DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
if DEBUG:
    # A fixed development key is fine only because DEBUG never runs in production.
    SECRET_KEY = SECRET_KEY or "parley-insecure-development-key-do-not-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "[::1]", "testserver"]
else:
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG=False.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG=False.")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SITE_NAME = env.str("SITE_NAME", default="Parley")
# Absolute links in e-mail (verification, password reset) start with this.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "channels",
    "axes",
    "django_guid",
    "storages",
    "csp",
    "accounts",
    "rooms",
    "chat",
]

MIDDLEWARE = [
    "django_guid.middleware.guid_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the lock-out flag set by the authentication backend.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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
                "config.context_processors.site",
                "config.context_processors.notifications",
                "config.context_processors.sidebar",
            ],
        },
    },
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# E-mail is unique case-insensitively (a functional constraint), which this check cannot see.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# DATABASE
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # psycopg 3's pool replaces persistent connections; Django forbids combining the two.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN", default=2),
        "max_size": env.int("DATABASE_POOL_MAX", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
USES_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
# Threads per server process that run WebSocket database work in parallel (chat.db); each holds
# at most one pooled connection (the budget: HTTP_THREADS below).
DATABASE_THREADS = env.int("DATABASE_THREADS", default=8)
# A few hot, fixed statements are prepared on each pooled connection (chat.db.prepared_cursor).
# Turn off behind PgBouncer in transaction mode unless its max_prepared_statements is above 0
# (1.21 and later; the default only from 1.24): a pooler without it cannot keep them.
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if USES_POSTGRES and DATABASE_PREPARED_STATEMENTS:
    # Django turns psycopg's preparing off (None); any number turns it on. Only that cursor's
    # statements are prepared: Django's own cursors bind on the client, which never prepares.
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5
# Threads per server process that serve HTTP requests (config.asgi_http); requests beyond them wait
# their turn. A request holds its thread while it waits on PostgreSQL or Redis, so there must be
# enough to keep the CPU busy meanwhile: at 50 clients over two processes, 4 left the servers' CPU
# idle and gave a third fewer history pages per second than Django's thread per request; 8 to 16
# matched it (docs/PERFORMANCE.md). Each holds at most one pooled connection during a request, and
# so does asgiref's one thread-sensitive thread (WebSocket sign-in, chat.socket_auth's get_user):
# HTTP_THREADS + DATABASE_THREADS + 1 must stay within DATABASE_POOL_MAX, or a request waits
# DATABASE_POOL_TIMEOUT and fails. The defaults: 11 + 8 + 1 = 20. (A streamed response is read on
# a thread of its own, but Parley streams files, not rows: that thread takes no connection.)
HTTP_THREADS = env.int("HTTP_THREADS", default=11)
# How many batches of WebSocket sends a process stores at once (chat.batching); at most DATABASE_THREADS.
MESSAGE_SEND_WORKERS = env.int("MESSAGE_SEND_WORKERS", default=2)
# A socket whose client has left this many bytes of what it was sent unread (a frozen tab) is closed
# (4413) instead of being buffered without end (chat.backlog); the client reconnects and resumes.
WS_SEND_BACKLOG_BYTES = env.int("WS_SEND_BACKLOG_BYTES", default=1024 * 1024)

# REDIS: cache, channel layer and Celery broker
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="parley"),
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "chat.layers.ResilientPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="parley")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Each process reads group events on one channel (chat.fanout): room for bursts.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 10_000}}}

# CELERY
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "memory://")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# With acks_late, a task whose worker was killed stays unacknowledged in Redis and is delivered again
# once this many seconds have passed; it must exceed the longest countdown of a retry (mail: 10 min).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# EMAIL
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
elif env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Parley <noreply@parley.localhost>")

# NOTIFICATIONS (chat.notifications; the schedule of their Celery tasks is in config/celery.py)
# Mail about unread mentions and DMs: at most one per person per interval, in seconds, for people who
# chose "immediately"; people on "digest" get at most one per NOTIFICATION_DIGEST_HOURS.
NOTIFICATION_EMAIL_INTERVAL = timedelta(seconds=env.int("NOTIFICATION_EMAIL_INTERVAL", default=600))
NOTIFICATION_DIGEST_INTERVAL = timedelta(hours=env.int("NOTIFICATION_DIGEST_HOURS", default=24))
# A worker claims what it mails for this long: one killed mid-send leaves its claim, which expires
# and is mailed again (by the redelivered task or the next scan). Far above EMAIL_TIMEOUT.
NOTIFICATION_MAIL_LEASE = timedelta(seconds=env.int("NOTIFICATION_MAIL_LEASE", default=300))
# Read notifications are deleted this many days after they were read.
NOTIFICATION_RETENTION_DAYS = env.int("NOTIFICATION_RETENTION_DAYS", default=30)

# LINK PREVIEWS (chat.link_previews fetches, chat.previews stores; docs/API.md "Link previews")
LINK_PREVIEWS_ENABLED = env.bool("LINK_PREVIEWS_ENABLED", default=True)
# Per fetch, redirects included: the whole time, the most bytes read, and how many redirects are followed.
LINK_PREVIEW_TIMEOUT = env.float("LINK_PREVIEW_TIMEOUT_SECONDS", default=5.0)
LINK_PREVIEW_MAX_BYTES = env.int("LINK_PREVIEW_MAX_BYTES", default=5 * 1024 * 1024)
LINK_PREVIEW_MAX_REDIRECTS = env.int("LINK_PREVIEW_MAX_REDIRECTS", default=3)
# A fetched card is refreshed after this; a failed or refused link is tried again after the second.
LINK_PREVIEW_TTL = timedelta(hours=env.int("LINK_PREVIEW_TTL_HOURS", default=7 * 24))
LINK_PREVIEW_FAILURE_TTL = timedelta(minutes=env.int("LINK_PREVIEW_FAILURE_TTL_MINUTES", default=60))
# "host:port" pairs fetched although they resolve to private addresses (and whatever their port).
# For tests, which serve pages on 127.0.0.1: read from the environment only with DEBUG, so that no
# deployment opens its internal network to anyone who can post a link.
LINK_PREVIEW_ALLOWED_HOSTS = env.list("LINK_PREVIEW_ALLOWED_HOSTS", default=[]) if DEBUG else []

# LOBBY (rooms.lobby: talk to a stranger; the purge of its rooms is a Celery beat task, config/celery.py)
# Someone with interest tags waits this long for a person sharing one, then anyone will do.
LOBBY_TAG_WAIT_SECONDS = env.float("LOBBY_TAG_WAIT_SECONDS", default=5.0)
# Two people just paired are not paired again for this long (also after "Next").
LOBBY_RECENT_PAIR_SECONDS = env.int("LOBBY_RECENT_PAIR_SECONDS", default=300)
# Lobby rooms (and their messages) are deleted this long after they closed, or after their last
# message when nobody closed them; a room whose two people became friends is kept as their DM.
LOBBY_ROOM_TTL = timedelta(seconds=env.int("LOBBY_ROOM_TTL", default=24 * 3600))
# Joining the queue and "Next" share one token bucket per person: a burst, then a steady rate.
LOBBY_RATE_BURST = env.int("LOBBY_RATE_BURST", default=5)
LOBBY_RATE_PER_SECOND = env.float("LOBBY_RATE_PER_SECOND", default=0.5)
# Friend requests notify their recipient: a burst, then this many an hour per person.
FRIEND_REQUEST_RATE_BURST = env.int("FRIEND_REQUEST_RATE_BURST", default=20)
FRIEND_REQUEST_RATE_PER_HOUR = env.int("FRIEND_REQUEST_RATE_PER_HOUR", default=30)
# Room invitations notify the person invited too: a burst, then this many an hour per inviter.
ROOM_INVITE_RATE_BURST = env.int("ROOM_INVITE_RATE_BURST", default=20)
ROOM_INVITE_RATE_PER_HOUR = env.int("ROOM_INVITE_RATE_PER_HOUR", default=60)
# Live counts (online, waiting, public rooms' members) go to the lobby page at most this often.
LOBBY_TICK_SECONDS = env.float("LOBBY_TICK_SECONDS", default=0.5)
# A lobby chat ends when one of its two people has had no socket for this long (tab closed,
# connection lost); the grace lets the lobby page hand over to the room page without ending it.
LOBBY_DISCONNECT_GRACE_SECONDS = env.float("LOBBY_DISCONNECT_GRACE_SECONDS", default=15.0)

# RETENTION (`manage.py purge`, chat.purge): messages older than this many days are deleted.
# Unset (the default) keeps every message forever.
MESSAGE_RETENTION_DAYS = env.int("MESSAGE_RETENTION_DAYS", default=None)

# STORAGE
STATIC_URL = "/static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "default_acl": None,
            "file_overwrite": False,
            "querystring_auth": True,
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
        },
    }
else:
    DEFAULT_STORAGE = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 6 * 1024 * 1024

# ATTACHMENTS (chat.attachments): files uploaded with POST /api/uploads/, then sent with a message.
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=25 * 1024 * 1024)
ATTACHMENT_MAX_PER_MESSAGE = env.int("ATTACHMENT_MAX_PER_MESSAGE", default=10)
# Uploads a person may hold unsent at once: storage cannot be filled with files nobody ever sends.
ATTACHMENT_MAX_UNSENT = env.int("ATTACHMENT_MAX_UNSENT", default=50)
# Images get a re-encoded preview that fits in this many pixels either way.
ATTACHMENT_PREVIEW_SIZE = env.int("ATTACHMENT_PREVIEW_SIZE", default=1280)
# Uploads never sent are deleted (a beat task, config/celery.py) once older than this.
ATTACHMENT_UNSENT_LIFETIME = timedelta(hours=env.int("ATTACHMENT_UNSENT_HOURS", default=24))
# With S3, a member fetching a file is redirected to a presigned URL that expires after this many seconds.
ATTACHMENT_URL_SECONDS = env.int("ATTACHMENT_URL_SECONDS", default=300)
# Uploads per person: a burst, then this many a minute (shared by every process through Redis).
ATTACHMENT_RATE_BURST = env.int("ATTACHMENT_RATE_BURST", default=20)
ATTACHMENT_RATE_PER_MINUTE = env.int("ATTACHMENT_RATE_PER_MINUTE", default=30)

# AUTH & ACCOUNTS
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"
PASSWORD_RESET_TIMEOUT = 60 * 60
VERIFICATION_CODE_LIFETIME = timedelta(minutes=env.int("VERIFICATION_CODE_MINUTES", default=15))
VERIFICATION_MAX_ATTEMPTS = 5
# A new code may be mailed to the same address at most this often.
VERIFICATION_RESEND_INTERVAL = timedelta(seconds=env.int("VERIFICATION_RESEND_SECONDS", default=60))
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_SIZE = 512
AVATAR_THUMBNAIL_SIZE = 64

# Brute-force protection (django-axes): five failures per address and IP, then a cool-off.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.lockout.attempted_username"
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = env.list("AXES_IP_HEADERS", default=["REMOTE_ADDR"])

# API
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.DenylistJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["config.renderers.JSONRenderer", "rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "register": env.str("THROTTLE_REGISTER", default="10/hour"),
        "verify": env.str("THROTTLE_VERIFY", default="30/hour"),
        "resend": env.str("THROTTLE_RESEND", default="5/hour"),
        "report": env.str("THROTTLE_REPORT", default="30/hour"),
    },
    "EXCEPTION_HANDLER": "config.api_errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=10)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    # last_login is set by the user_logged_in signal the token serializer sends.
    "UPDATE_LAST_LOGIN": False,
    # A password change makes every token issued before it stop working.
    "CHECK_REVOKE_TOKEN": True,
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "TOKEN_OBTAIN_SERIALIZER": "accounts.api.VerifiedTokenObtainPairSerializer",
    "TOKEN_REFRESH_SERIALIZER": "accounts.api.LockingTokenRefreshSerializer",
}
# A token issued up to this many seconds after its owner's last API sign-out is still checked
# against the denylist (accounts.tokens): the sign-out's time and the token's `iat` may come from
# the clocks of different hosts.
JWT_LOGOUT_LEEWAY_SECONDS = env.int("JWT_LOGOUT_LEEWAY_SECONDS", default=5)
SPECTACULAR_SETTINGS = {
    "TITLE": "Parley API",
    "DESCRIPTION": "REST API of Parley, a self-hosted chat product. See docs/API.md.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}

# SECURITY
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# CONTENT SECURITY POLICY (django-csp): the pages load scripts and styles only from this site, and
# no template has an inline script, style attribute or on* handler (tests/test_security_headers.py).
CSP_MEDIA_ORIGINS = env.list("CSP_MEDIA_ORIGINS", default=[])
if AWS_STORAGE_BUCKET_NAME:
    # Avatars and attachments are signed URLs of the bucket, not of this site.
    _region = env.str("AWS_S3_REGION_NAME", default="")
    CSP_MEDIA_ORIGINS += [
        env.str("AWS_S3_ENDPOINT_URL", default="").rstrip("/")
        or f"https://{AWS_STORAGE_BUCKET_NAME}.s3{f'.{_region}' if _region else ''}.amazonaws.com"
    ]
# 'self' covers ws:/wss: of this host in current browsers; the hosts are named for older ones (not
# wildcards, nor IPv6 addresses, which CSP cannot name).
_socket_origins = [f"{scheme}://{host}" for host in ALLOWED_HOSTS if host[0] not in ".*[" for scheme in ("wss", "ws")]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Link previews show the page's own image, from whichever https: site published it; an image
        # cannot run code, so allowing any https: source costs only the (already public) fetch.
        "img-src": ["'self'", "data:", "https:", *CSP_MEDIA_ORIGINS],
        "media-src": ["'self'", *CSP_MEDIA_ORIGINS],
        "connect-src": ["'self'", *_socket_origins],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}

# LOGGING: every line carries the request id, which django-guid also hands to Celery tasks.
DJANGO_GUID = {
    "GUID_HEADER_NAME": "X-Request-ID",
    "VALIDATE_GUID": False,
    "RETURN_HEADER": True,
    "INTEGRATIONS": [CeleryIntegration(use_django_logging=True, log_parent=True)],
}
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "django_guid.log_filters.CorrelationId"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s [%(correlation_id)s] %(name)s: %(message)s"},
        "json": {"()": "config.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            # LOG_FORMAT=json (LOG_JSON=true, its older spelling, still works).
            "formatter": "json"
            if env.str("LOG_FORMAT", default="").lower() == "json" or env.bool("LOG_JSON", default=False)
            else "plain",
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": LOG_LEVEL},
        "django_guid": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}
