"""The fixture app; it records every migrate run when MIGRATION_LOG names a file."""

from __future__ import annotations

import os

from django.apps import AppConfig
from django.db.models.signals import pre_migrate


def record_migrate(sender: AppConfig, using: str, plan: list, **kwargs: object) -> None:
    """Append one line per migrate run (and per migration it applies) to MIGRATION_LOG."""
    path = os.environ.get("MIGRATION_LOG")
    if not path or sender.label != "shelf":
        return
    with open(path, "a") as log:
        log.write(f"migrate {using} {len(plan)} migrations\n")


class ShelfConfig(AppConfig):
    name = "shelf"

    def ready(self) -> None:
        from django.core import checks

        from shelf.crossrun import pause_in_checks

        pre_migrate.connect(record_migrate, sender=self)
        checks.register(pause_in_checks)
