"""ConcurrentTestRunner: Django's DiscoverRunner, with the suite run by owned worker processes.

Discovery, ``-k``, tags, ``--shuffle``, ``--reverse``, checks and the final report are Django's
and unittest's own; what changes is that the suite handed to unittest's TextTestRunner is a
:class:`~.execution.replay.ConcurrentSuite`, whose work units run on a
:class:`~.execution.pool.WorkerPool` that replays every test onto the one result unittest
prints. A project with its own DiscoverRunner subclass keeps its hooks by subclassing this class
instead (see the README).

The run's phases, in :meth:`ConcurrentTestRunner.run_tests`: check the configuration, plan
(discover, cut into units, keep this shard's), choose the workers, set up their databases, run
the pool, tear the databases down, and finish (exit status, history and reports).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import sys
import time
import unittest
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.db import connections
from django.test.runner import DiscoverRunner

from concurrent_test_app import history, options, processes
from concurrent_test_app.checks import unsupported_engines
from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases.slots import WorkerDatabases
from concurrent_test_app.exceptions import ConfigurationError, DatabaseSetupError, WorkerStartError
from concurrent_test_app.execution import limits
from concurrent_test_app.execution.outcome import PoolOutcome, publish, run_report
from concurrent_test_app.execution.plan import RunPlan
from concurrent_test_app.execution.pool import WorkerPool
from concurrent_test_app.execution.replay import ConcurrentSuite, ReplayResultMixin
from concurrent_test_app.execution.scaling import decide_workers
from concurrent_test_app.execution.scheduler import DEFAULT_SCHEDULER, SCHEDULERS
from concurrent_test_app.protocol import WorkerSpec
from concurrent_test_app.reports import worker_log
from concurrent_test_app.reports.records import Ledger, RunReport
from concurrent_test_app.reports.summary import print_summary
from concurrent_test_app.timeouts import check_hierarchy

if TYPE_CHECKING:
    from concurrent_test_app.reports.progress import ProgressDisplay

logger = logging.getLogger(__name__)


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
        **kwargs: Any,  # Any: DiscoverRunner's own options, of many types
    ) -> None:
        parallel = kwargs.pop("parallel", None)
        self._init_kwargs = dict(kwargs)
        if kwargs.get("pdb") and (workers or parallel or 1) != 1:
            raise ConfigurationError(
                "You cannot use --pdb with parallel tests; pass --workers 1 to use it."
            )
        # Django's own parallel machinery is never used: the pool replaces it.
        super().__init__(parallel=0, **kwargs)
        self.durations = kwargs.get("durations")
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
        self._begin_run()

    def _begin_run(self) -> None:
        """Reset what a run builds up: its units, databases, outcome, report and clocks."""
        self.exit_status = 0
        self.report: RunReport | None = None
        self._plan = RunPlan()
        self._databases: WorkerDatabases | None = None
        self._ledger: Ledger | None = None
        self._pool_outcome: PoolOutcome | None = None
        self._started = time.time()
        # The global timeout counts from here: template builds and clones are part of the run.
        self._started_monotonic = time.monotonic()

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        options.add_arguments(parser, cls.schedulers, DEFAULT_SCHEDULER)

    # -- configuration -------------------------------------------------------------------

    def check_configuration(self) -> None:
        """Refuse bad settings and environment variables before anything starts."""
        app_settings.validate()
        if self.timings_file is not None and self.timings_file.exists():
            history.read_timings_file(self.timings_file)

    def resolve_timeouts(self) -> tuple[float | None, float | None, float | None]:
        """Return the per-test, per-worker and global limits (flags beat environment)."""
        timeouts = limits.resolve_timeouts(
            self.timeout_main, self.timeout_per_test, self.timeout_per_worker, self.timeout_global
        )
        for warning in check_hierarchy(*timeouts):
            logger.warning(warning)
            self.log(warning, level=logging.WARNING)
        return timeouts

    def get_resultclass(self) -> type[unittest.TextTestResult]:
        base = super().get_resultclass() or unittest.TextTestResult
        attributes = {"durations": self.durations}
        mixed = type(f"Replay{base.__name__}", (ReplayResultMixin, base), attributes)
        # Built at run time on the project's result class, so mypy sees only ``type``.
        return cast("type[unittest.TextTestResult]", mixed)

    # -- the run ---------------------------------------------------------------------------

    def run_tests(self, test_labels: list[str], **kwargs: Any) -> int:  # Any: Django's signature
        if self.pdb:
            # --pdb needs the terminal: run serially in this process, as Django does.
            return super().run_tests(test_labels, **kwargs)
        self._begin_run()
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

    def setup_log(self, message: str) -> None:
        """Tell the user about database set-up, on standard error as Django's own set-up does."""
        if self.verbosity >= 1:
            sys.stderr.write(message + "\n")

    def _run(self, test_labels: list[str]) -> int:
        suite = self.plan(test_labels)
        # Django's get_databases() returns {alias: serialized}, not the set its stubs say.
        databases: dict[str, bool] = self.get_databases(suite)  # type: ignore[assignment]
        self.choose_workers()
        if app_settings.split_classes:
            costs = partial(
                history.load_split_costs,
                timings_file=self.timings_file,
                from_database=not self.no_history,
            )
            self._plan.split(self.workers, costs)
        self._databases = self.databases_class(
            databases,
            log=self.setup_log,
            verbosity=self.verbosity,
            interactive=self.interactive,
            keepdb=self.keepdb,
            debug_sql=self.debug_sql,
            time_keeper=self.time_keeper,
            rebuild_template=self.rebuild_template,
        )
        # Ctrl-C here must stop the set-up (a template build can take minutes), not only ask
        # tests to stop as the unittest handler Django installed does.
        with self.time_keeper.timed("Total database setup"), processes.interruptible():
            self.setup_worker_databases()
        failed = True
        try:
            result = self._run_then_tear_down(suite, databases)
            # History and reports are written while the server makes the next run's clones.
            self.finish(result)
            failed = False
        finally:
            with self.time_keeper.timed("Total database teardown"):
                self._databases.end_teardown(quiet=failed)
        self.time_keeper.print_results()
        return self.suite_result(suite, result)

    def plan(self, test_labels: list[str]) -> ConcurrentSuite:
        """Discover the suite, cut it into units and keep this shard's; return what runs."""
        suite = self.build_suite(test_labels)
        problems = unsupported_engines(self.get_databases(suite))
        if problems:  # an engine the suite needs that the app cannot clone
            raise ConfigurationError(problems[0])
        self._plan = RunPlan.cut(
            suite,
            test_labels=test_labels,
            phases=self.unit_phases(),
            load_expected=self.load_expected,
            shard=self.shard,
        )
        if self.shard is not None:
            k, n = self.shard
            units, tests = len(self._plan.units), self._plan.test_count()
            self.log(f"Shard {k}/{n}: {units} unit(s), {tests} test(s).")
        return ConcurrentSuite(self._plan.tests(), run=self.run_pool)

    def choose_workers(self) -> None:
        """Choose how many workers the planned units get (--workers, CPUs and memory)."""
        decision = decide_workers(
            self.requested_workers,
            len(self._plan.units),
            history_p90_mb=None if self.no_history else history.worker_memory_p90(),
        )
        self.workers = decision.count
        self.log(f"Using {self.workers} worker(s): {decision.reason}", level=logging.DEBUG)

    def _run_then_tear_down(
        self, suite: ConcurrentSuite, databases: dict[str, bool]
    ) -> unittest.TextTestResult:
        """Run the checks and the suite, then start dropping the workers' databases whatever
        happened (``end_teardown()`` in :meth:`_run` waits for it)."""
        assert self._databases is not None
        run_failed = completed = False
        try:
            self.run_checks(databases)  # type: ignore[arg-type]  # a dict of aliases, see _run
            result = self.run_suite(suite)
            # Only a run that ended by itself leaves ready clones (see databases/ready.py).
            outcome = self._pool_outcome
            completed = outcome is not None and not (outcome.interrupted or outcome.global_timeout)
            return result
        except Exception:
            run_failed = True
            raise
        finally:
            try:
                # The clones are dropped or made ready in the background (see _run).
                self._databases.begin_teardown(completed=completed)
                # Names now point at the real databases again; drop any connection still open
                # on a test database (SQLite ignores close() while its name is in-memory).
                connections.close_all()
            except Exception:
                # A teardown error never hides the run's own.
                if not run_failed:
                    raise

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
        return history.load_expected(
            unit_keys, timings_file=self.timings_file, from_database=not self.no_history
        )

    def worker_spec(self) -> WorkerSpec:
        """Return the plain data every worker starts from (slot and databases filled in later)."""
        path = self.runner_path or f"{type(self).__module__}.{type(self).__qualname__}"
        return self._plan.worker_spec(self, runner_path=path, runner_kwargs=self._init_kwargs)

    def pool_limits(self) -> limits.PoolLimits:
        """Return the limits the pool enforces, from the flags, the environment and history."""
        adaptive = self.adaptive_timeouts and not self.no_history
        return limits.for_run(
            self._plan,
            self.resolve_timeouts(),
            started=self._started_monotonic,
            workers=self.workers,
            p95=history.test_duration_p95(self._plan.test_ids()) if adaptive else {},
            adaptive=self.adaptive_timeouts,
            max_restarts=self.max_restarts,
            max_worker_memory=self.max_worker_memory,
            max_units_per_worker=self.max_units_per_worker,
        )

    def run_pool(self, result: unittest.TestResult) -> None:
        """Run every unit on the worker pool, replaying onto ``result`` (called by the suite)."""
        assert self._databases is not None
        scheduler = self.schedulers[self.scheduler_name](
            self._plan.units, self._plan.expected, workers=self.workers
        )
        self._ledger = Ledger(self._plan.units)
        progress = self.make_progress(result)
        pool_limits = self.pool_limits()
        log = progress.log if progress is not None else self.log
        # A clone that waits for another run waits within the run's own limit, saying so.
        self._databases.bind_run(deadline=pool_limits.global_deadline, say=log)
        pool = self.worker_pool_class(
            units=self._plan.units,
            groups=self._plan.groups,
            scheduler=scheduler,
            databases=self._databases,
            workers=self.workers,
            spec_template=self.worker_spec(),
            limits=pool_limits,
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
        for notice in self._pool_outcome.notices():
            self.log(notice)
        for worker in self._pool_outcome.workers:
            worker_log.worker_completed(worker, worker.life_seconds)

    def make_progress(self, result: unittest.TestResult) -> ProgressDisplay | None:
        """Return the progress display for this run, or None under --no-progress."""
        if not self.show_progress:
            return None
        from concurrent_test_app.reports.progress import make_progress

        # TextTestRunner, which run_suite uses, makes a TextTestResult: it has the stream.
        stream = result.stream  # type: ignore[attr-defined]
        expected = self._plan.expected_wall_seconds(self.workers)
        return make_progress(stream, self._plan.test_count(), expected, self.verbosity)

    def finish(self, result: unittest.TestResult | None) -> None:
        """Build the run's report; write history, the timings file and the reports."""
        self.report = run_report(
            result,
            self._pool_outcome or PoolOutcome(),
            self._ledger or Ledger(self._plan.units),
            workers=self.workers,
            databases=self._databases,
            started_at=self._started,
            shard=self.shard,
        )
        self.exit_status = self.report.exit_status
        publish(
            self.report,
            to_history=not self.no_history,
            timings_file=self.timings_file,
            json_report=self.json_report,
            junit_xml=self.junit_xml,
            metrics_file=self.metrics_file,
        )
        print_summary(self.report, self.log, self.verbosity)
