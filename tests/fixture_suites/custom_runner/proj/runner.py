"""The project's own runner: a hook that changes settings and an option of its own."""

from __future__ import annotations

from django.conf import settings
from django.test.runner import DiscoverRunner


class ProjectRunner(DiscoverRunner):
    def __init__(self, flavour: str = "plain", **kwargs):
        super().__init__(**kwargs)
        self.flavour = flavour

    @classmethod
    def add_arguments(cls, parser):
        super().add_arguments(parser)
        parser.add_argument("--flavour", default="plain")

    def setup_test_environment(self, **kwargs):
        super().setup_test_environment(**kwargs)
        settings.FLAVOUR = f"hooked-{self.flavour}"
