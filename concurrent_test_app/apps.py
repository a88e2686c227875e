from __future__ import annotations

from django.apps import AppConfig


class ConcurrentTestConfig(AppConfig):
    name = "concurrent_test_app"
    verbose_name = "Concurrent test history"
    default_auto_field = "django.db.models.BigAutoField"
