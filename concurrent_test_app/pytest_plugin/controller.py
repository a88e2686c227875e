"""The controller's side: every cloneable alias's template, ready and held before any worker.

Under xdist the controller collects no tests, so it cannot know which aliases they use: it
makes the template of every alias that owns a test database ready, exactly as the runner does
(:func:`~concurrent_test_app.databases.holds.hold_template`: the same fingerprint, lock and
hold), and holds each until the session ends. Each worker then clones what its own tests use
(:mod:`.clones`). At the end the controller drops whatever clone of this session is left (a
crashed worker's): every clone name carries the session's token.
"""

from __future__ import annotations

import logging
from contextlib import ExitStack

from concurrent_test_app.databases import holds, naming
from concurrent_test_app.databases.owners import Owner
from concurrent_test_app.databases.sweep import sweep_clones
from concurrent_test_app.databases.template import TemplateBuilder, template_aliases
from concurrent_test_app.databases.types import Say
from concurrent_test_app.reports.records import TemplateRecord

logger = logging.getLogger(__name__)

_ACTIONS = {"reused": "Reused", "built": "Built", "incremental": "Updated"}


class SessionTemplates:
    """Build or reuse, and hold, the template of every cloneable alias for one session."""

    def __init__(self, *, say: Say, verbosity: int = 0) -> None:
        self.say = say
        self.verbosity = verbosity
        self.token = naming.new_run_token()
        self.records: list[TemplateRecord] = []
        self._builders: list[TemplateBuilder] = []
        self._holds = ExitStack()

    def setup(self, *, force: bool) -> None:
        """Make every template ready (``force``: build it again) and hold it."""
        label = f"pytest session {Owner.current().describe()}"
        try:
            for alias in template_aliases():
                builder = TemplateBuilder(alias, log=self.say, verbosity=self.verbosity)
                for name, why in sweep_clones(builder, stale_kept=False).dropped:
                    self.say(f"Dropped the clone {name}: {why}.")
                result, _hold = holds.hold_template(
                    builder, force=force, label=label, holds=self._holds, say=self.say
                )
                self._builders.append(builder)
                self.records.append(
                    TemplateRecord(
                        alias, result.name, result.fingerprint, result.reused, result.seconds
                    )
                )
                applied = "" if result.reused else f", {result.applied} migrations applied"
                self.say(
                    f"{_ACTIONS[result.mode]} template for alias '{alias}' "
                    f"in {result.seconds:.2f}s{applied}."
                )
        except BaseException:
            self._holds.close()
            raise

    def teardown(self) -> None:
        """Drop the session's clones that are left (a crashed worker's), then release holds."""
        try:
            for builder in self._builders:
                for name in builder.cloner.list_names(builder.prefix):
                    parsed = naming.parse(name)
                    if parsed is not None and parsed.token == self.token:
                        builder.cloner.drop(name)
                        logger.info("Dropped the clone %s left by a worker", name)
        finally:
            self._holds.close()
