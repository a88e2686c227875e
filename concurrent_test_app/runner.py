"""ConcurrentTestRunner: Django's DiscoverRunner, with the suite run by owned worker processes.

Discovery, ``-k``, tags, ``--shuffle``, ``--reverse``, checks and the final report are Django's
and unittest's own; what changes is that the suite handed to unittest's TextTestRunner is a
:class:`ConcurrentSuite`, which runs the work units on a :class:`~.execution.pool.WorkerPool`
and replays every test onto the one result unittest prints. A project with its own
DiscoverRunner subclass keeps its hooks by subclassing this class instead (see the README).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import signal
import sys
import time
import unittest
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from django.db import connections
from django.test.runner import DiscoverRunner

from concurrent_test_app import history
from concurrent_test_app.checks import unsupported_engines
from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.exceptions import ConfigurationError, DatabaseSetupError, WorkerStartError
from concurrent_test_app.execution.limits import PoolLimits
from concurrent_test_app.execution.outcome import PoolOutcome
from concurrent_test_app.execution.pool import WorkerPool
from concurrent_test_app.execution.replay import ReplayResultMixin
from concurrent_test_app.execution.scaling import decide_workers
from concurrent_test_app.execution.scheduler import DEFAULT_SCHEDULER, SCHEDULERS, shard_units
from concurrent_test_app.protocol import WorkerSpec, WorkUnitSpec
from concurrent_test_app.reports import worker_log
from concurrent_test_app.reports.files import write_json_report
from concurrent_test_app.reports.junit import write_junit_xml
from concurrent_test_app.reports.records import Ledger, RunReport
from concurrent_test_app.reports.summary import print_summary
from concurrent_test_app.suite import describe_units, group_units, select_units, units_digest
from concurrent_test_app.timeouts import check_hierarchy, class_timeout, limit_for, timeout_for

logger = logging.getLogger(__name__)

EXIT_GLOBAL_TIMEOUT = 3
EXIT_BY_SIGNAL = {2: 130, 15: 143}


# -- argument types: each error names the flag and the fix -------------------------------------


def _checked(
    value: str, convert: Callable[[str], Any], accept: Callable[[Any], bool], fix: str
) -> Any:
    """Return ``convert(value)`` if it converts and is accepted; else raise argparse's error."""
    try:
        number = convert(value)
    except ValueError:
        number = None
    if number is None or not accept(number):
        raise argparse.ArgumentTypeError(f"{value!r} {fix}")
    return number


def workers_type(value: str) -> int | str:
    """Parse ``--workers``: a whole number of 1 or more, or "auto"."""
    if value == "auto":
        return value
    return int(
        _checked(
            value,
            int,
            lambda n: n >= 1,
            "is not a worker count; pass a whole number of 1 or more, or 'auto'.",
        )
    )


def shard_type(value: str) -> tuple[int, int]:
    """Parse ``--shard K/N`` (K counted from 1)."""

    def convert(text: str) -> tuple[int, int]:
        k_text, n_text = text.split("/")
        return int(k_text), int(n_text)

    shard: tuple[int, int] = _checked(
        value,
        convert,
        lambda kn: kn[1] >= 1 and 1 <= kn[0] <= kn[1],
        "is not a shard; pass K/N with 1 <= K <= N, such as --shard 2/4.",
    )
    return shard


def seconds_type(value: str) -> float:
    """Parse a timeout flag: seconds, 0 or more (0 turns the limit off)."""
    return float(
        _checked(
            value,
            float,
            lambda n: n >= 0,
            "is not a number of seconds; pass 0 or more, such as 30.",
        )
    )


def positive_int_type(value: str) -> int:
    """Parse a count flag: a whole number of 1 or more."""
    return int(_checked(value, int, lambda n: n >= 1, "is not a whole number of 1 or more."))


def megabytes_type(value: str) -> float:
    """Parse a memory flag: megabytes above 0."""
    return float(
        _checked(
            value,
            float,
            lambda n: n > 0,
            "is not a size in MB; pass a number above 0, such as 1024.",
        )
    )


def concurrent_runner_class(path: str | None = None) -> type[ConcurrentTestRunner]:
    """Return the runner class for ``path`` (default: settings.TEST_RUNNER).

    A subclass of ConcurrentTestRunner is used as it is. Another DiscoverRunner subclass is
    mixed in below ConcurrentTestRunner, so the project's own hooks (set-up of the test
    environment, suite building, result class, checks) still run while the pool replaces
    Django's database set-up and parallel suite. Anything else gets ConcurrentTestRunner.
    """
    from django.conf import settings
    from django.test.utils import get_runner

    base = get_runner(settings, path)
    if isinstance(base, type) and issubclass(base, ConcurrentTestRunner):
        return base
    if not isinstance(base, type) or not issubclass(base, DiscoverRunner) or base is DiscoverRunner:
        return ConcurrentTestRunner
    return type(
        f"Concurrent{base.__name__}",
        (ConcurrentTestRunner, base),
        {"__module__": __name__, "runner_path": f"{base.__module__}.{base.__qualname__}"},
    )


class ConcurrentSuite(unittest.TestSuite):
    """The suite unittest's TextTestRunner runs: it hands the work to the runner's pool."""

    def __init__(self, runner: ConcurrentTestRunner, tests: list[unittest.TestCase]) -> None:
        super().__init__(tests)
        self.runner = runner

    def run(self, result: Any, debug: bool = False) -> Any:  # type: ignore[override]
        self.runner.run_pool(result)
        return result


class ConcurrentTestRunner(DiscoverRunner):
    """Run the suite in parallel worker processes, with exactly the serial runner's verdict."""

    # The dotted path a spawned worker rebuilds this runner from (see concurrent_runner_class).
    runner_path: str | None = None
    databases_class = WorkerDatabases
    worker_pool_class = WorkerPool
    schedulers = SCHEDULERS

    def __init__(
        self,
        workers: int | str | None = None,
        shard: tuple[int, int] | None = None,
        scheduler: str = DEFAULT_SCHEDULER,
        timeout: float | None = None,
        timeout_per_test: float | None = None,
        timeout_per_worker: float | None = None,
        timeout_global: float | None = None,
        json_report: str | None = None,
        junit_xml: str | None = None,
        metrics_file: str | None = None,
        timings_file: str | None = None,
        no_history: bool = False,
        rebuild_template: bool = False,
        max_worker_memory: float | None = None,
        max_units_per_worker: int | None = None,
        max_restarts: int | None = None,
        adaptive_timeouts: bool = False,
        start_method: str | None = None,
        progress: bool = True,
        **kwargs: Any,
    ) -> None:
        parallel = kwargs.pop("parallel", None)
        durations = kwargs.get("durations")
        self._init_kwargs = dict(kwargs)
        if kwargs.get("pdb") and (workers or parallel or 1) != 1:
            raise ConfigurationError(
                "You cannot use --pdb with parallel tests; pass --workers 1 to use it."
            )
        # Django's own parallel machinery is never used: the pool replaces it.
        super().__init__(parallel=0, **kwargs)
        self.durations = durations
        if workers is None:
            # Programmatic callers may still pass Django's parallel=0 for "not parallel".
            workers = parallel if parallel not in (None, 0) else "auto"
        self.requested_workers = workers
        self.workers = 0
        self.shard = shard
        if scheduler not in self.schedulers:
            raise ConfigurationError(
                f"--scheduler {scheduler!r} is unknown; use one of {', '.join(self.schedulers)}."
            )
        self.scheduler_name = scheduler
        self.timeout_main = timeout
        self.timeout_per_test = timeout_per_test
        self.timeout_per_worker = timeout_per_worker
        self.timeout_global = timeout_global
        self.json_report = Path(json_report) if json_report else None
        self.junit_xml = Path(junit_xml) if junit_xml else None
        self.metrics_file = Path(metrics_file) if metrics_file else None
        self.timings_file = Path(timings_file) if timings_file else app_settings.timings_file
        self.no_history = no_history
        self.rebuild_template = rebuild_template
        self.max_worker_memory = max_worker_memory
        self.max_units_per_worker = max_units_per_worker
        self.max_restarts = max_restarts
        self.adaptive_timeouts = adaptive_timeouts
        self.start_method = start_method
        self.show_progress = progress
        self.exit_status = 0
        self.report: RunReport | None = None
        self._groups: list[list[unittest.TestCase]] = []
        self._units: list[WorkUnitSpec] = []
        self._selection: tuple[int, ...] | None = None  # this shard's units, by whole-suite index
        self._expected: dict[str, float] = {}
        self._databases: WorkerDatabases | None = None
        self._ledger: Ledger | None = None
        self._pool_outcome: PoolOutcome | None = None
        self._started = time.time()
        self._started_monotonic = time.monotonic()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        for action in parser._actions:
            if "--parallel" in action.option_strings:
                # Django's --parallel takes 0 for "serial"; here it is --workers by another name.
                action.type = workers_type
                action.default = None
                action.help = "Synonym of --workers."
        group = parser.add_argument_group("concurrent_test")
        group.add_argument(
            "--workers",
            type=workers_type,
            default=None,
            metavar="N|auto",
            help="Number of worker processes, or 'auto' (CPUs, memory and units). "
            "--parallel N is a synonym.",
        )
        group.add_argument(
            "--shard",
            type=shard_type,
            default=None,
            metavar="K/N",
            help="Run only shard K of N (K from 1), balanced by timing history.",
        )
        group.add_argument(
            "--scheduler",
            default=DEFAULT_SCHEDULER,
            choices=sorted(cls.schedulers),
            help="Which unit goes next: longest expected first (default) or discovery order.",
        )
        for flag, help_text in (
            ("--timeout", "Main timeout (default DJANGO_TEST_TIMEOUT or 3600 s)."),
            ("--timeout-per-test", "Longest a test may take (default 30 s; 0 = no limit)."),
            ("--timeout-per-worker", "Longest a worker may spend on one unit (0 = no limit)."),
            ("--timeout-global", "Longest the whole run may take; exit status 3 past it."),
        ):
            group.add_argument(
                flag, type=seconds_type, default=None, metavar="SECONDS", help=help_text
            )
        group.add_argument("--json-report", metavar="PATH", help="Write the JSON report here.")
        group.add_argument("--junit-xml", metavar="PATH", help="Write JUnit XML here.")
        group.add_argument("--metrics-file", metavar="PATH", help="Write Prometheus metrics here.")
        group.add_argument(
            "--timings-file",
            metavar="PATH",
            help="Timings file to read before and write after the run (TEST_TIMINGS_FILE).",
        )
        group.add_argument(
            "--no-history", action="store_true", help="Neither read nor write timing history."
        )
        group.add_argument(
            "--rebuild-template",
            action="store_true",
            help="Build the template databases again even when they are current.",
        )
        group.add_argument(
            "--max-worker-memory",
            type=megabytes_type,
            default=None,
            metavar="MB",
            help="Replace a worker between units once its memory passes MB "
            "(DJANGO_TEST_WORKER_MAX_MEMORY_MB).",
        )
        group.add_argument(
            "--max-units-per-worker",
            type=positive_int_type,
            default=None,
            metavar="N",
            help="Replace a worker after it ran N units.",
        )
        group.add_argument(
            "--max-restarts",
            type=positive_int_type,
            default=None,
            metavar="N",
            help="How many crashed or timed-out workers may be replaced in one run.",
        )
        group.add_argument(
            "--adaptive-timeouts",
            action="store_true",
            help="Limit each test to a multiple of its 95th-percentile duration in history.",
        )
        group.add_argument(
            "--start-method",
            choices=("fork", "spawn", "forkserver"),
            default=None,
            help="How worker processes start (default: the platform's).",
        )
        group.add_argument(
            "--no-progress",
            action="store_false",
            dest="progress",
            help="Do not draw the progress bar on a terminal.",
        )
        if sys.version_info < (3, 12):
            # Django offers --durations only on Python 3.12+; offer it everywhere.
            parser.add_argument(
                "--durations",
                dest="durations",
                type=int,
                default=None,
                metavar="N",
                help="Show the N slowest test cases (N=0 for all).",
            )

    # -- configuration -------------------------------------------------------------------

    def check_configuration(self) -> None:
        """Refuse bad settings and environment variables before anything starts."""
        app_settings.validate()
        if self.timings_file is not None and self.timings_file.exists():
            history.read_timings_file(self.timings_file)

    def check_engines(self, aliases: Iterable[str]) -> None:
        """Refuse a database engine the suite needs but the app cannot clone."""
        problems = unsupported_engines(aliases)
        if problems:
            raise ConfigurationError(problems[0])

    def resolve_timeouts(self) -> tuple[float | None, float | None, float | None]:
        """Return the per-test, per-worker and global limits (flags beat environment)."""
        main = self.timeout_main if self.timeout_main is not None else app_settings.main_timeout
        per_test = _pick(self.timeout_per_test, app_settings.timeout_per_test)
        per_worker = _pick(
            self.timeout_per_worker,
            app_settings.timeout_per_worker if self.timeout_main is None else main,
        )
        global_ = _pick(
            self.timeout_global,
            app_settings.timeout_global if self.timeout_main is None else 2 * main,
        )
        for warning in check_hierarchy(per_test, per_worker, global_):
            logger.warning(warning)
            self.log(warning, level=logging.WARNING)
        return per_test, per_worker, global_

    def get_resultclass(self) -> Any:
        base = super().get_resultclass() or unittest.TextTestResult
        return type(
            f"Replay{base.__name__}",
            (ReplayResultMixin, base),
            {"durations": self.durations},
        )

    # -- the run ---------------------------------------------------------------------------

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:  # type: ignore[override]
        if self.pdb:
            # --pdb needs the terminal: run serially in this process, as Django does.
            return super().run_tests(test_labels, **kwargs)
        self._started = time.time()
        # The global timeout counts from here: template builds and clones are part of the run.
        self._started_monotonic = time.monotonic()
        self.check_configuration()
        if self.start_method:
            multiprocessing.set_start_method(self.start_method, force=True)
        self.setup_test_environment()
        worker_log.configure(self.verbosity)
        try:
            return self._run(test_labels)
        finally:
            worker_log.close()
            self.teardown_test_environment()

    def _run(self, test_labels: list[str]) -> int:
        suite = self.build_suite(test_labels)
        self._test_labels = tuple(test_labels)
        self.check_engines(self.get_databases(suite))  # type: ignore[arg-type]
        groups = group_units(suite)
        # Keys come from the whole suite, before any shard is cut out of it.
        units = describe_units(groups, self.unit_phases())
        self._expected = self.load_expected([unit.key for unit in units])
        if self.shard is not None:
            k, n = self.shard
            chosen = tuple(unit.index for unit in shard_units(units, self._expected, k, n))
            groups, units = select_units(groups, units, chosen)
            self._selection = tuple(sorted(chosen))
            self.log(
                f"Shard {k}/{n}: {len(units)} unit(s), {sum(len(u.tests) for u in units)} test(s)."
            )
        self._groups, self._units = groups, units
        tests = [test for group in groups for test in group]
        suite = ConcurrentSuite(self, tests)
        databases: dict[str, bool] = self.get_databases(suite)  # type: ignore[assignment]
        decision = decide_workers(
            self.requested_workers,
            len(units),
            history_p90_mb=None if self.no_history else history.worker_memory_p90(),
        )
        self.workers = decision.count
        self.log(f"Using {self.workers} worker(s): {decision.reason}", level=logging.DEBUG)
        self._databases = self.databases_class(
            databases,
            verbosity=self.verbosity,
            interactive=self.interactive,
            keepdb=self.keepdb,
            debug_sql=self.debug_sql,
            time_keeper=self.time_keeper,
            rebuild_template=self.rebuild_template,
        )
        with self.time_keeper.timed("Total database setup"):
            self.setup_worker_databases()
        result = None
        run_failed = False
        try:
            self.run_checks(databases)  # type: ignore[arg-type]
            result = self.run_suite(suite)
        except Exception:
            run_failed = True
            raise
        finally:
            try:
                with self.time_keeper.timed("Total database teardown"):
                    self._databases.teardown()
                # Names now point at the real databases again; drop any connection still open
                # on a test database (SQLite ignores close() while its name is in-memory).
                connections.close_all()
            except Exception:
                if not run_failed:
                    raise
        self.time_keeper.print_results()
        self.finish(result)
        return self.suite_result(suite, result)

    def setup_worker_databases(self) -> None:
        assert self._databases is not None
        try:
            self._databases.setup()
        except ConfigurationError:
            raise
        except Exception as exc:
            raise DatabaseSetupError(
                f"The test databases could not be set up ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}); "
                "check DATABASES and that the server is running."
            ) from exc

    def unit_phases(self) -> tuple[type, ...]:
        """Return Django's test type order, which every worker keeps between units."""
        return (unittest.loader._FailedTest, *self.reorder_by)  # type: ignore[attr-defined]

    def load_expected(self, unit_keys: list[str]) -> dict[str, float]:
        """Return the expected seconds of each unit from history or the timings file."""
        if self.no_history:
            if self.timings_file is None:
                return {}
            return history.expected_from_timings_file(unit_keys, self.timings_file)
        return history.load_expected(unit_keys, timings_file=self.timings_file)

    def worker_spec(self) -> WorkerSpec:
        """Return the plain data every worker starts from (slot and databases filled in later)."""
        rebuild = multiprocessing.get_start_method() != "fork"
        runner_kwargs = {**self._init_kwargs, "shuffle": self.shuffle_seed}
        if self.shuffle is False:
            runner_kwargs["shuffle"] = False
        return WorkerSpec(
            slot=0,
            rebuild=rebuild,
            database_settings={},
            database_name="",
            failfast=self.failfast,
            buffer=self.buffer,
            debug_sql=self.debug_sql,
            debug_mode=self.debug_mode,
            runner_path=self.runner_path or f"{type(self).__module__}.{type(self).__qualname__}",
            runner_kwargs=_picklable(runner_kwargs),
            test_labels=self._test_labels,
            units_digest=units_digest(self._units),
            selection=self._selection,
        )

    def pool_limits(self) -> PoolLimits:
        per_test, per_worker, global_ = self.resolve_timeouts()
        p95: dict[str, float] = {}
        if self.adaptive_timeouts and not self.no_history:
            p95 = history.test_duration_p95([t.id for u in self._units for t in u.tests])
        groups = self._groups
        units = self._units
        floor = app_settings.adaptive_timeout_floor
        multiple = app_settings.adaptive_timeout_multiple

        def test_limit(unit: int, test: int) -> float | None:
            case = groups[unit][test]
            if per_test is None:
                return timeout_for(case)
            return limit_for(
                case,
                default=per_test,
                p95=p95.get(units[unit].tests[test].id),
                adaptive=self.adaptive_timeouts,
                floor=floor,
                multiple=multiple,
            )

        def fixture_limit(unit: int, test: int | None) -> float | None:
            # A class or module fixture is timed as one test; a class's @timeout covers its
            # fixtures too, a method's does not.
            decorated = class_timeout(type(groups[unit][test])) if test is not None else None
            return decorated if decorated is not None else per_test

        return PoolLimits(
            timeout_per_test=per_test,
            timeout_per_worker=per_worker,
            global_deadline=None if global_ is None else self._started_monotonic + global_,
            max_restarts=(
                self.max_restarts
                if self.max_restarts is not None
                else app_settings.restart_cap(self.workers)
            ),
            max_worker_memory_mb=self.max_worker_memory or app_settings.worker_max_memory_mb,
            max_units_per_worker=self.max_units_per_worker,
            test_limit=test_limit,
            fixture_limit=fixture_limit,
        )

    def run_pool(self, result: Any) -> None:
        """Run every unit on the worker pool, replaying onto ``result`` (called by the suite)."""
        assert self._databases is not None
        scheduler = self.schedulers[self.scheduler_name](self._units, self._expected)
        self._ledger = Ledger(self._units)
        progress = self.make_progress(result)
        limits = self.pool_limits()
        log = progress.log if progress is not None else self.log
        # A clone that waits for another run waits within the run's own limit, saying so.
        self._databases.bind_run(deadline=limits.global_deadline, say=log)
        pool = self.worker_pool_class(
            units=self._units,
            groups=self._groups,
            scheduler=scheduler,
            databases=self._databases,
            workers=self.workers,
            spec_template=self.worker_spec(),
            limits=limits,
            result=result,
            ledger=self._ledger,
            on_case=progress.advance if progress is not None else None,
            log=log,
        )
        try:
            self._pool_outcome = pool.run()
        except WorkerStartError as exc:
            raise DatabaseSetupError(f"{exc}.") from exc
        finally:
            if progress is not None:
                progress.close()
        outcome = self._pool_outcome
        if outcome.interrupted is not None:
            name = signal.Signals(outcome.interrupted).name
            self.log(
                f"The run was interrupted by {name}: workers stopped, their databases dropped; "
                "tests that did not finish are reported as not run."
            )
        if outcome.global_timeout:
            self.log(
                "The global timeout cut the run short; tests that did not run are reported "
                "as not run (--timeout-global / DJANGO_TEST_TIMEOUT_GLOBAL)."
            )
        for worker in outcome.workers:
            worker_log.worker_completed(worker, worker.life_seconds)

    def make_progress(self, result: Any) -> Any:
        if not self.show_progress:
            return None
        from concurrent_test_app.reports.progress import make_progress

        total = sum(len(unit.tests) for unit in self._units)
        expected = sum(self._expected.values()) / max(self.workers, 1) if self._expected else None
        return make_progress(result.stream, total, expected, self.verbosity)

    def finish(self, result: Any) -> None:
        """Build the run's report; write history, the timings file and the reports."""
        outcome = self._pool_outcome or PoolOutcome()
        ledger = self._ledger or Ledger(self._units)
        if outcome.interrupted is not None:
            self.exit_status = EXIT_BY_SIGNAL.get(outcome.interrupted, 128 + outcome.interrupted)
        elif outcome.global_timeout:
            self.exit_status = EXIT_GLOBAL_TIMEOUT
        elif result is not None and not result.wasSuccessful():
            self.exit_status = 1
        records = ledger.records()
        summary = _summary(result, records, outcome, self.workers)
        self.report = RunReport(
            summary=summary,
            tests=records,
            workers=outcome.workers,
            templates=self._databases.templates if self._databases else [],
            units=ledger.unit_records,
            started_at=self._started,
            finished_at=time.time(),
            shard=f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
            vendor=connections["default"].vendor if "default" in connections else "",
            exit_status=self.exit_status,
            clone_seconds=list(self._databases.clone_seconds) if self._databases else [],
        )
        if not self.no_history:
            history.record_run(self.report)
        if self.timings_file is not None:
            history.write_timings_file(self.report, self.timings_file)
        if self.json_report is not None:
            write_json_report(self.report, self.json_report)
        if self.junit_xml is not None:
            write_junit_xml(self.report, self.junit_xml)
        if self.metrics_file is not None:
            from concurrent_test_app.reports.metrics import write_metrics_file

            write_metrics_file(self.report, self.metrics_file, self.report.clone_seconds)
        print_summary(self.report, self.log, self.verbosity)


def _pick(flag: float | None, default: float | None) -> float | None:
    value = default if flag is None else flag
    return None if value is None or value == 0 else value


def _picklable(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Drop what cannot cross to a spawned worker (streams, loggers)."""
    plain = (str, int, float, bool, type(None), list, tuple, set, frozenset)
    return {key: value for key, value in kwargs.items() if isinstance(value, plain)}


def _summary(result: Any, records: list[Any], outcome: PoolOutcome, workers: int) -> dict[str, Any]:
    def count(name: str) -> int:
        return len(getattr(result, name, ()) or ()) if result is not None else 0

    passed = sum(1 for r in records if r.outcome == "passed")
    not_run = sum(1 for r in records if r.outcome == "not_run")
    failures, errors = count("failures"), count("errors")
    unexpected = count("unexpectedSuccesses")
    return {
        "tests_run": result.testsRun if result is not None else 0,
        "passed": passed,
        "failures": failures,
        "errors": errors,
        "skipped": count("skipped"),
        "expected_failures": count("expectedFailures"),
        "unexpected_successes": unexpected,
        "not_run": not_run,
        "wall_seconds": round(outcome.wall_seconds, 3),
        "workers": workers,
        "successful": not (failures or errors or unexpected)
        and not outcome.global_timeout
        and outcome.interrupted is None,
    }
