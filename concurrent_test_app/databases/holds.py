"""A run's claims: its hold on each template, its kept clones, and the owner its clones record.

A run holds each template for its whole life (:func:`hold_template`, see
:meth:`~.cloning.locks.TemplateLocks.hold`), so a build replaces or drops it only once the run
is over. Each clone records its owner (:mod:`.owners`), which lets later runs drop the clones of
runs that are gone. A ``--keepdb`` clone has a fixed name; a run claims it under its hold
(:func:`clone_name`), reuses it only if the last run left it clean (:func:`reusable`), and marks
it clean again at the end (:func:`keep_clean`); a run that finds one claimed makes its own.
"""

from __future__ import annotations

import dataclasses
import logging
from contextlib import ExitStack
from dataclasses import dataclass, field

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.cloning import DatabaseCloner
from concurrent_test_app.databases.cloning.locks import TemplateHold
from concurrent_test_app.databases.owners import KEPT_KEY, Owner
from concurrent_test_app.databases.template import TemplateBuilder, TemplateResult
from concurrent_test_app.databases.types import Say
from concurrent_test_app.exceptions import DatabaseSetupError

logger = logging.getLogger(__name__)

# How often set-up makes a template ready again when a build replaced or dropped it between
# "it is current" and the run's hold on it (each time, that build had to finish first).
HOLD_ATTEMPTS = 3


@dataclass
class RunDatabase:
    """One database of the run: its template, the aliases on it, and its clones per slot."""

    owner: str
    aliases: list[str]
    cloner: DatabaseCloner
    template: str
    fingerprint: str
    hold: TemplateHold
    in_memory: bool = False
    clones: dict[int, str] = field(default_factory=dict)
    # The ready clones this run claimed, to use as they are if clean (see :mod:`.ready`).
    ready: set[str] = field(default_factory=set)
    built_at: str = ""  # the template's build (its bookkeeping's built_at, which clones copy)


def hold_template(
    builder: TemplateBuilder, *, force: bool, label: str, holds: ExitStack, say: Say
) -> tuple[TemplateResult, TemplateHold]:
    """Build or reuse the template, and hold it until ``holds`` closes (the run's teardown).

    A build or prune that replaced or dropped the template between "it is current" and the
    hold is waited for (``say`` tells the user); then the template is made ready again.
    """
    for _attempt in range(HOLD_ATTEMPTS):
        result = builder.ensure(force=force)
        force = False
        attempt = ExitStack()
        try:
            hold = attempt.enter_context(builder.cloner.hold(result.name, label=label, say=say))
            current = builder.status(verify_schema=False).current
        except BaseException:
            attempt.close()
            raise
        if current:
            holds.push(attempt)
            return result, hold
        attempt.close()
    raise DatabaseSetupError(
        f"The template of alias {builder.alias!r} was replaced or dropped {HOLD_ATTEMPTS} "
        "times while this run set up; let build_test_template finish, then retry."
    )


def is_kept(name: str) -> bool:
    """Return whether the clone ``name`` has the fixed name a --keepdb run keeps."""
    parsed = naming.parse(name)
    return parsed is not None and parsed.token == naming.KEEPDB_TOKEN


def clone_name(database: RunDatabase, slot: int, run_token: str, *, keepdb: bool, say: Say) -> str:
    """Return the name of ``slot``'s clone: the kept one if this run can claim it."""
    if keepdb:
        kept = naming.clone_name(database.template, slot, naming.KEEPDB_TOKEN)
        if database.hold.claim(kept):
            return kept
        say(
            f"The kept clone {kept} is in use by another run; worker {slot} gets a "
            "clone of this run's own, dropped at the end."
        )
    return naming.clone_name(database.template, slot, run_token)


def reusable(database: RunDatabase, name: str) -> bool:
    """Return whether the kept clone ``name`` may be used as it is."""
    if not database.cloner.exists(name):
        return False
    meta = database.cloner.read_meta(name) or {}
    # Only a clone its last run kept clean (not one a killed run left half-flushed).
    return (
        meta.get("complete") == "1"
        and meta.get(KEPT_KEY) == "1"
        and meta.get("fingerprint", "")[:12] == database.fingerprint
    )


def owner_meta(database: RunDatabase, owner: Owner) -> dict[str, str]:
    """Return the bookkeeping rows that say ``owner`` uses a clone (so it is not clean)."""
    owner = dataclasses.replace(owner, session=database.hold.session_id)
    return {**owner.to_meta(), KEPT_KEY: "0"}


def record_owner(database: RunDatabase, name: str, owner: Owner) -> None:
    """Record in the clone ``name`` that ``owner`` uses it (and that it is not clean)."""
    database.cloner.update_meta(name, owner_meta(database, owner))


def keep_clean(database: RunDatabase, name: str) -> None:
    """Mark the kept clone ``name`` clean: the next --keepdb run may reuse it."""
    database.cloner.update_meta(name, {KEPT_KEY: "1"})
