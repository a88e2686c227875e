from __future__ import annotations

from django.apps import AppConfig


class ConcurrentTestConfig(AppConfig):
    name = "concurrent_test_app"
    verbose_name = "Concurrent test history"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Registers the system checks (ids concurrent_test_app.E001 and on).
        from concurrent_test_app import checks  # noqa: F401
