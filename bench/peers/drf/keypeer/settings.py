"""Minimal Django settings for the djangorestframework-api-key benchmark peer.

Runtime state (SQLite database) lives in $DRF_RUN_DIR, default <this peer>/run/.
"""
import os
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("DRF_RUN_DIR", PEER_DIR / "run")).resolve()

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "rest_framework",
    "rest_framework_api_key",
    "keypeer",
]

# No middleware at all: nothing but URL routing + DRF + the permission check.
MIDDLEWARE = []

ROOT_URLCONF = "keypeer.urls"
WSGI_APPLICATION = "keypeer.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(RUN_DIR / "db.sqlite3"),
        # Persistent connection per worker (Django's default 0 would open and
        # close the SQLite connection on every request).  Override with
        # DRF_CONN_MAX_AGE=0 to measure the Django default.
        "CONN_MAX_AGE": None
        if os.environ.get("DRF_CONN_MAX_AGE", "") == ""
        else int(os.environ["DRF_CONN_MAX_AGE"]),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

REST_FRAMEWORK = {
    # API key is checked by the HasAPIKey *permission*; no user authentication
    # (no Session/Basic authenticators, no django.contrib.auth needed).
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
}

# Read the key from "X-Api-Key: <key>" instead of "Authorization: Api-Key <key>".
# Set DRF_AUTH_HEADER=authorization to use the library default header instead.
if os.environ.get("DRF_AUTH_HEADER", "x-api-key").lower() == "x-api-key":
    API_KEY_CUSTOM_HEADER = "HTTP_X_API_KEY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # 4xx responses are logged as WARNING by django.request; keep them quiet
    # under load, errors still show.
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
