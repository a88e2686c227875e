from __future__ import annotations

import environ

env = environ.Env()
SECRET_KEY = "custom-runner-fixture"
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "concurrent_test_app",
    "proj",
]
DATABASES = {"default": env.db_url("DATABASE_URL", default="sqlite:///custom_runner.sqlite3")}
TEST_RUNNER = "proj.runner.ProjectRunner"
FLAVOUR = "unset"
