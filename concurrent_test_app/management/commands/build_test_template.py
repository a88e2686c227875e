"""``manage.py build_test_template``: build or reuse, check, or prune the template databases.

Exit status: 0 on success (with ``--check``: every template is current); 1 with ``--check``
when a template is missing, stale, incomplete or altered; 2 on bad usage or configuration, or
when runs still hold a template to replace or drop after DJANGO_TEST_TEMPLATE_WAIT seconds.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases.schema import migration_drift_warning
from concurrent_test_app.databases.sweep import prune
from concurrent_test_app.databases.template import TemplateBuilder, template_aliases
from concurrent_test_app.exceptions import ConcurrentTestError
from concurrent_test_app.processes import INTERRUPTED, interruptible


class Command(BaseCommand):
    help = (
        "Build (or reuse) the template test database of each alias, named after a "
        "fingerprint of its migrations and settings."
    )

    # What the user is told honours --verbosity (set by handle()).
    verbosity = 1

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default=None, help="Only this alias (default: every alias)."
        )
        parser.add_argument(
            "--force", action="store_true", help="Rebuild from scratch even when current."
        )
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing; exit 0 when every template is current, 1 otherwise.",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            help="Drop this project's templates and clones of other fingerprints "
            "(CONCURRENT_TEST_TEMPLATES_TO_KEEP newest are kept).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["check"] and (options["force"] or options["prune"]):
            raise CommandError(
                "--check changes nothing, so it cannot be combined with --force or --prune; "
                "run them separately.",
                returncode=2,
            )
        self.verbosity = int(options["verbosity"])
        try:
            with interruptible():
                self._run(options)
        except KeyboardInterrupt:
            self.stderr.write(INTERRUPTED)
            sys.exit(130)
        except ConcurrentTestError as exc:
            raise CommandError(str(exc), returncode=2) from exc

    def _run(self, options: dict[str, Any]) -> None:
        verbosity = self.verbosity
        stale = False
        for alias in template_aliases(options["database"]):
            builder = TemplateBuilder(alias, log=self._say, verbosity=verbosity)
            if options["check"]:
                status = builder.status()
                stale = stale or not status.current
                schema = f" schema {status.schema[:12]}" if verbosity >= 2 and status.schema else ""
                self.stdout.write(
                    f"{alias}: {status.name} fingerprint {status.fingerprint} {status.reason}"
                    f"{schema}"
                )
                continue
            result = builder.ensure(force=options["force"])
            if not result.reused and verbosity >= 2:
                self.stdout.write(f"{alias}: the template was {result.reason}")
            action = "reused" if result.reused else result.mode
            detail = "" if result.reused else f", {result.applied} migrations applied"
            if verbosity >= 2 and result.schema:
                detail += f"; schema {result.schema[:12]}"
            self.stdout.write(
                f"{alias}: {result.name} fingerprint {result.fingerprint} "
                f"{action} in {result.seconds:.2f}s{detail}"
            )
            if options["prune"]:
                pruned = prune(builder, app_settings.templates_to_keep)
                for name in pruned.dropped:
                    self.stdout.write(f"{alias}: dropped {name}")
                for name, why in pruned.left:
                    self.stdout.write(f"{alias}: left {name}: {why}")
        # Checked once the templates are done: the fingerprint loaded the migration modules
        # with the connection pointed at a database that exists (see TemplateBuilder).
        warning = migration_drift_warning()
        if warning:
            self.stderr.write(f"Warning: {warning}")
        if stale:
            sys.exit(1)

    def _say(self, message: str) -> None:
        """Tell the user what the build did or waits for (nothing at --verbosity 0)."""
        if self.verbosity < 1:
            return
        # Flushed: a build may wait minutes for other runs, and whoever watches should know.
        self.stdout.write(message)
        self.stdout.flush()
