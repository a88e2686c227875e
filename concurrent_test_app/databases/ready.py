"""Ready clones: clean clones a run leaves for the next, so that its set-up clones nothing.

A ready clone is named ``<prefix>_w<n>_<fingerprint>_ready`` (see :mod:`.naming`): ``n``
numbers the ready clones of one template, not a worker slot. It has no owner while it waits:
its bookkeeping says it is clean (``kept``) and names nobody. A run claims one atomically
with a lock named after it, taken in the session that holds the template
(:meth:`~.cloning.locks.TemplateHold.claim`), so two runs never claim the same one; the claim
lasts until the run ends. A claimed clone whose bookkeeping says it is clean and of this
fingerprint is used as it is, by name: no copy, no rename. Any other name the run claims
(a free number, or a clone a killed run left dirty) gets a fresh clone under that name.

At the end of a run that completed, :func:`leave_ready` makes the run's clones ready again,
as many as the run had workers, less the ready clones other runs already left, and drops the
surplus. A clone is left exactly as the template is: one that a ``TransactionTestCase``
flushed (``--keepdb``'s rule: a flushed clone is never ready), and on PostgreSQL and MySQL
every clone whose key counters cannot be set back to the template's (a rolled-back
``TestCase`` still advanced its sequences or auto-increment counters, so the next run's new
rows would get other ids than in serial; see :mod:`.cloning.counters`), is cloned again from
the template first; a clean SQLite clone is only marked clean. A run that was interrupted drops
its clones instead.

Ready clones of another fingerprint are dropped when a run sets up (:mod:`.sweep`), and every
unclaimed one by ``build_test_template --prune``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import NamedTuple

from concurrent_test_app.databases import naming
from concurrent_test_app.databases.holds import RunDatabase, owner_meta
from concurrent_test_app.databases.owners import KEPT_KEY, OWNER_KEYS, Owner

logger = logging.getLogger(__name__)

# Applies a making to each name: in turn, or concurrently (WorkerDatabases' choice).
Each = Callable[[Callable[[str], None], list[str]], object]

# The highest number a ready clone can have (naming's slot limit).
MAX_READY = 9999


def is_ready_name(name: str) -> bool:
    """Return whether ``name`` is the name of a ready clone."""
    parsed = naming.parse(name)
    return parsed is not None and parsed.token == naming.READY_TOKEN


def ready_names(database: RunDatabase) -> list[str]:
    """Return the ready clones of ``database``'s template that exist now, by number."""
    found = []
    for name in database.cloner.list_names(naming.assert_derived(database.template).prefix):
        parsed = naming.assert_derived(name)
        if parsed.token == naming.READY_TOKEN and parsed.fingerprint == database.fingerprint:
            found.append((parsed.slot or 0, name))
    return [name for _, name in sorted(found)]


def _candidates(database: RunDatabase, existing: list[str]) -> Iterator[str]:
    """Yield the ready clones that exist, then the free numbers, lowest first."""
    yield from existing
    taken = set(existing)
    for number in range(1, MAX_READY + 1):
        name = naming.clone_name(database.template, number, naming.READY_TOKEN)
        if name not in taken:
            yield name


def is_clean(meta: dict[str, str], database: RunDatabase) -> bool:
    """Return whether bookkeeping ``meta`` says its clone is ready: complete, clean, and a
    clone of the very template build the run holds (not of one --rebuild-template replaced)."""
    return (
        meta.get("complete") == "1"
        and meta.get(KEPT_KEY) == "1"
        and meta.get("fingerprint", "")[:12] == database.fingerprint
        and meta.get("built_at") == database.built_at
    )


def claim(database: RunDatabase, count: int) -> list[str]:
    """Claim ``count`` ready-clone names for this run; note in ``database.ready`` the ones
    that exist, which :func:`take` may use as they are.

    Existing ready clones come first; a name another run has claimed is passed over.
    """
    existing = ready_names(database)
    names: list[str] = []
    for name in _candidates(database, existing):
        if len(names) == count:
            break
        # A lock is taken again by the session that holds it: pass over the run's own.
        if name in database.clones.values() or not database.hold.claim(name):
            continue
        names.append(name)
        if name in existing:
            database.ready.add(name)
    logger.debug("Claimed ready clones %s (%d exist)", names, len(database.ready))
    return names


def take(database: RunDatabase, name: str, owner: Owner) -> bool:
    """Record ``owner`` in the claimed ready clone ``name``; return whether it was clean.

    In one transaction, so that it costs one connection; a clone that was not clean (one a
    killed run left) is the caller's to clone again.
    """
    try:
        before = database.cloner.swap_meta(name, owner_meta(database, owner))
    except Exception as exc:  # dropped meanwhile, or damaged: clone it again
        logger.debug("Cannot take the ready clone %s: %s", name, exc)
        return False
    return is_clean(before, database)


def mark_ready(database: RunDatabase, name: str) -> None:
    """Mark the clone ``name`` clean and owned by nobody: the next run may claim it."""
    database.cloner.update_meta(name, {KEPT_KEY: "1", **dict.fromkeys(OWNER_KEYS, "")})


def in_turn(make: Callable[[str], None], names: list[str]) -> None:
    """Apply ``make`` to each name, one after another."""
    for name in names:
        make(name)


class Left(NamedTuple):
    """The clones :func:`leave_ready` made ready, and those of them it cloned again."""

    made: list[str]
    cloned_again: list[str]


def leave_ready(database: RunDatabase, flushed: set[int], each: Each = in_turn) -> Left:
    """Make this run's clones of ``database`` ready for the next run; say which.

    As many stay as the run had clones, less the ready clones of other runs (which those runs
    leave, or left, ready themselves). Clean ones go first. A flushed one is cloned again from
    the template; where a rollback keeps the key counters, any other one has its counters set
    back, or is cloned again if that cannot make it the template's (:mod:`.cloning.counters`).
    ``each``
    applies the making to the chosen names (the caller may do it concurrently).
    The clones not returned are the caller's to drop.
    """
    own = dict(database.clones)
    others = [name for name in ready_names(database) if name not in own.values()]
    wanted = max(0, len(own) - len(others))
    chosen = [
        (slot, own[slot])
        for slot in sorted(own, key=lambda slot: (slot in flushed, slot))
        if is_ready_name(own[slot])
    ][:wanted]
    cloner = database.cloner
    flushed_names = {name for slot, name in chosen if slot in flushed}
    cloned: list[str] = []

    def make(name: str) -> None:
        if name in flushed_names or (
            cloner.rollback_keeps_counters and not cloner.reset_to_template(name)
        ):
            cloner.clone(database.template, name)
            cloned.append(name)
        mark_ready(database, name)

    each(make, [name for _, name in chosen])
    for slot, _ in chosen:
        del database.clones[slot]
    return Left(made=[name for _, name in chosen], cloned_again=sorted(cloned))
