"""Django settings for jiayi.

Everything that differs between a laptop demo and a district deployment comes from the environment;
the defaults are safe for development and for the test suite.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BASE_DIR.parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


DATA_DIR = Path(env("JIAYI_DATA_DIR", str(PROJECT_ROOT / "var"))).resolve()

DEBUG = env_bool("JIAYI_DEBUG", default=False)
# A fixed development key would be a production foot-gun; outside DEBUG the key must be given.
SECRET_KEY = env("JIAYI_SECRET_KEY") or "dev-only-insecure-key-change-me-0123456789abcdefghijklmnop"
ALLOWED_HOSTS = [h for h in env("JIAYI_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("JIAYI_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "ninja",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "django_tasks_rq",
    "jiayi.audit",
    "jiayi.crypto",
    "jiayi.registry",
    "jiayi.records",
    "jiayi.signing",
    "jiayi.surveillance",
    "jiayi.care",
    "jiayi.points",
    "jiayi.education",
    "jiayi.feedback",
    "jiayi.planning",
    "jiayi.referrals",
    "jiayi.indicators",
    "jiayi.reports",
    "jiayi.accounts",
    "jiayi.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "jiayi.web.language.ChineseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "jiayi.accounts.middleware.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "jiayi.web.middleware.NoStoreForPersonalDataMiddleware",
]

ROOT_URLCONF = "jiayi.urls"
WSGI_APPLICATION = "jiayi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jiayi.web.context.navigation",
            ],
        },
    },
]


def _database_config() -> dict[str, Any]:
    url = env("DATABASE_URL")
    if url:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=60))
        if config["ENGINE"].endswith("postgresql"):
            config.setdefault("OPTIONS", {})
            # A per-run name for the scratch database the test runner creates and drops, so that
            # two runs against one server (or a run killed half-way) never collide.
            config["TEST"] = {"NAME": env("JIAYI_PG_TEST_DB") or None}
        return config
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": env("JIAYI_SQLITE_PATH", str(DATA_DIR / "jiayi.sqlite3")),
        "OPTIONS": {
            # WAL lets the web server read while an import or the task worker writes.
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                "PRAGMA busy_timeout=10000;"
            ),
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "TEST": {"NAME": env("JIAYI_SQLITE_TEST_PATH") or None},
    }


DATABASES = {"default": _database_config()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Idle timeout: every request renews the session, so it ends this long after the last one.
SESSION_COOKIE_AGE = env_int("JIAYI_SESSION_SECONDS", 30 * 60)
SESSION_SAVE_EVERY_REQUEST = True
SESSION_ENGINE = "jiayi.web.security_sessions"
SESSION_COOKIE_SECURE = env_bool("JIAYI_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Only behind TLS: HSTS, the HTTPS redirect and the proxy header are deployment decisions.
SECURE_HSTS_SECONDS = env_int("JIAYI_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("JIAYI_HSTS_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env_bool("JIAYI_HSTS_PRELOAD", default=False)
SECURE_SSL_REDIRECT = env_bool("JIAYI_SSL_REDIRECT", default=False)
if env_bool("JIAYI_BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Django's model backend plus login throttling (jiayi/web/auth.py).
AUTHENTICATION_BACKENDS = ["jiayi.web.auth.LockoutBackend"]
# Audit log: kept at least 185 days (a lower value fails the system check); anchors are signed with
# a key that never enters the database.
JIAYI_AUDIT_RETENTION_DAYS = env_int("JIAYI_AUDIT_RETENTION_DAYS", 185)
JIAYI_AUDIT_ANCHOR_KEY = env("JIAYI_AUDIT_ANCHOR_KEY")
# Field-level encryption of ID numbers, phones and diagnosis text (jiayi/crypto): base64 of 64 random
# bytes, optionally "version:" first; held apart from SECRET_KEY and from the database. Old keys decrypt
# while `jiayi crypto rotate` runs. Without JIAYI_FIELD_KEY the key file is read (`jiayi demo` creates one
# for a laptop district); with neither, reading or writing those fields fails with ImproperlyConfigured.
JIAYI_FIELD_KEY = env("JIAYI_FIELD_KEY")
JIAYI_FIELD_OLD_KEYS = env("JIAYI_FIELD_OLD_KEYS")
JIAYI_FIELD_KEY_FILE = env("JIAYI_FIELD_KEY_FILE", str(DATA_DIR / "field.key"))

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Background tasks: the database-backed worker (`jiayi db_worker`) is the embedded default; production
# runs them on Redis through RQ (`JIAYI_TASKS_BACKEND=redis`, workers: `jiayi rqworker default`).
TASK_BACKENDS = {
    "db": "django_tasks_db.backend.DatabaseBackend",
    "redis": "django_tasks_rq.RQBackend",
    "immediate": "django_tasks.backends.immediate.ImmediateBackend",
}
REDIS_URL = env("JIAYI_REDIS_URL", "redis://127.0.0.1:6379/0")
RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 3600}}
_tasks_backend = env("JIAYI_TASKS_BACKEND", "db")
TASKS = {
    "default": {
        "BACKEND": TASK_BACKENDS.get(_tasks_backend, _tasks_backend),
        "QUEUES": ["default"],
    }
}

LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("JIAYI_LOG_LEVEL", "WARNING")},
}

# How many residents a generated demo district has when nobody says otherwise.
JIAYI_DEMO_RESIDENTS = env_int("JIAYI_DEMO_RESIDENTS", 20_000)
# Personal-data pages are never cached by browsers or proxies.
JIAYI_NO_STORE_PREFIXES = ("/residents", "/households", "/api/", "/me")

# Service rules a district configures (the seeds' figures are the defaults).
# Share of a regional centre's expert slots reserved for family doctors: 10% in Putuo, 20% in Changning.
JIAYI_RESERVED_SLOT_SHARE = env("JIAYI_RESERVED_SLOT_SHARE", "0.10")
# Reserved slots still free this many hours before they start go back to the public pool.
JIAYI_RESERVED_RELEASE_HOURS = env_int("JIAYI_RESERVED_RELEASE_HOURS", 48)
JIAYI_SLOT_HOLD_MINUTES = env_int("JIAYI_SLOT_HOLD_MINUTES", 10)
# Files sent with referrals (PDF, JPEG, PNG): at most this many MB each, kept in a private storage
# that no URL serves (read only through the audited download views).
JIAYI_ATTACHMENT_MAX_MB = env_int("JIAYI_ATTACHMENT_MAX_MB", 10)
JIAYI_ATTACHMENT_DIR = Path(env("JIAYI_ATTACHMENT_DIR", str(DATA_DIR / "attachments"))).resolve()
# Residents 65+ count as controlled below 150/90 instead of 140/90 (an operational choice of the spec).
JIAYI_ELDERLY_BP_TARGET_150 = env_bool("JIAYI_ELDERLY_BP_TARGET_150", default=True)
# Walking speed for the 15-minute access analysis (comfortable speed of people aged 60–79).
PLANNING_WALKING_SPEED_KMH = float(env("JIAYI_WALKING_SPEED_KMH", "4.5"))
# Roles that must sign in with a second factor (TOTP), comma-separated, e.g. "administrator,centre_manager".
JIAYI_2FA_REQUIRED_ROLES = tuple(r.strip() for r in env("JIAYI_2FA_REQUIRED_ROLES").split(",") if r.strip())
# How long a break-glass access to a record outside one's scope lasts.
JIAYI_BREAK_GLASS_HOURS = env_int("JIAYI_BREAK_GLASS_HOURS", 4)
