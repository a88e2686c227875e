"""``manage.py concurrent_test``: Django's ``test`` command, run by the concurrent runner.

It takes every option of ``manage.py test`` plus the runner's own (see
:meth:`ConcurrentTestRunner.add_arguments`) and exits 0 when all passed, 1 when a test failed
or errored, 2 on bad usage or configuration, 3 when the global timeout cut the run short, and
130 / 143 when interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.commands import test
from django.test.utils import NullTimeKeeper, TimeKeeper  # type: ignore[attr-defined]

from concurrent_test_app.processes import INTERRUPTED, interruptible
from concurrent_test_app.runner import concurrent_runner_class


class Command(test.Command):
    help = (
        "Run the test suite in parallel worker processes, each on its own test database, "
        "with the verdict of Django's serial runner."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "args",
            metavar="test_label",
            nargs="*",
            help="Module paths to test; can be modulename, modulename.TestCase or "
            "modulename.TestCase.test_method",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Tells Django to NOT prompt the user for input of any kind.",
        )
        parser.add_argument(
            "--testrunner",
            help="Use this runner class instead of TEST_RUNNER; a DiscoverRunner subclass keeps "
            "its hooks.",
        )
        concurrent_runner_class(self.test_runner).add_arguments(parser)

    def handle(self, *test_labels: str, **options: Any) -> None:
        runner_class = concurrent_runner_class(options["testrunner"])
        time_keeper = TimeKeeper() if options.get("timing") else NullTimeKeeper()
        runner = runner_class(**options)
        try:
            # SIGTERM raises from here on; the runner lets SIGINT raise during set-up too.
            with time_keeper.timed("Total run"), interruptible(sigint=False):
                runner.run_tests(list(test_labels))
        except KeyboardInterrupt:
            self.stderr.write(INTERRUPTED)
            sys.exit(130)
        time_keeper.print_results()
        if runner.exit_status:
            sys.exit(runner.exit_status)
