"""An app whose rows come from code outside its migration files, as default groups or sites do."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class DefaultsConfig(AppConfig):
    name = "defaults"

    def ready(self) -> None:
        from defaults.receivers import create_default_colour

        post_migrate.connect(create_default_colour, sender=self)
