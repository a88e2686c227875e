"""``manage.py merge_test_timings``: merge the timings files that several CI shards wrote."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from concurrent_test_app.conf import app_settings
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.history import merge_timings_files

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Merge the timings files that the shards of a CI run wrote (--timings-file) into one, "
        "for the next run to balance its shards with."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="Timings files to merge.")
        parser.add_argument(
            "-o",
            "--output",
            metavar="PATH",
            help="Where to write the merged file (default: settings.TEST_TIMINGS_FILE).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            output = Path(options["output"]) if options["output"] else app_settings.timings_file
            if output is None:
                raise ConfigurationError(
                    "merge_test_timings needs somewhere to write; pass --output PATH "
                    "or set settings.TEST_TIMINGS_FILE."
                )
            merged = merge_timings_files([Path(name) for name in options["files"]], output)
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["verbosity"] >= 1:
            self.stdout.write(
                f"Merged {len(options['files'])} timings files ({len(merged['units'])} units) "
                f"into {output}."
            )
