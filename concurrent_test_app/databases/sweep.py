"""Drop what is nobody's any more: a project's old templates, and clones no live run owns.

A run sweeps the clones of its alias before it holds anything (:func:`sweep_clones`);
``build_test_template --prune`` also drops the templates of other fingerprints
(:func:`prune`). Neither ever touches a database whose name was not derived, a clone whose
owner runs on another host, or a template that a run still holds (it waits for the run).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from concurrent_test_app.conf import app_settings
from concurrent_test_app.databases import naming
from concurrent_test_app.databases.owners import KEPT_KEY, Owner
from concurrent_test_app.exceptions import DatabaseUnreachableError

if TYPE_CHECKING:
    from concurrent_test_app.databases.cloning import DatabaseCloner
    from concurrent_test_app.databases.template import TemplateBuilder

logger = logging.getLogger(__name__)


@dataclass
class Sweep:
    """What :func:`sweep_clones` did: (name, why) of each clone it dropped, and of each it left
    because its owner cannot be checked from here."""

    dropped: list[tuple[str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Pruned:
    """What :func:`prune` dropped, and the clones it only listed (name, why)."""

    dropped: list[str] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)


def prune(builder: TemplateBuilder, keep: int) -> Pruned:
    """Drop the alias's other templates (all but the newest ``keep``) and stray clones.

    The current template is left alone. A template that runs hold is dropped once they have
    ended, waiting DJANGO_TEST_TEMPLATE_WAIT at most in all (see
    :meth:`~.cloning.locks.TemplateLocks.replacing`). Clones go as :func:`sweep_clones`
    says, kept clones of other fingerprints and every ready clone no run claims too.
    """
    cloner = builder.cloner
    pruned = Pruned()
    deadline = time.monotonic() + app_settings.template_wait
    with cloner.lock(builder.prefix):
        others: list[tuple[float, str]] = []
        for name in cloner.list_names(builder.prefix):
            parsed = naming.assert_derived(name)
            if parsed.kind == naming.BUILDING:
                # Builds run only under this lock, which is held: this one was abandoned.
                if cloner.drop(name, force=False):
                    pruned.dropped.append(name)
            elif parsed.kind == naming.TEMPLATE and name != builder.name:
                others.append((_built_at(cloner, name), name))
        others.sort(reverse=True)
        for _, name in others[keep:]:
            wait = max(0.0, deadline - time.monotonic())
            with cloner.replacing(name, timeout=wait, say=builder.log):
                cloner.drop(name)
            pruned.dropped.append(name)
        # After the templates: a clone whose template is gone is nobody's to make any more.
        # Ready clones go too, the current template's as well (all but those runs claim).
        sweep = sweep_clones(builder, stale_kept=True, all_ready=True)
    pruned.dropped = sorted(pruned.dropped + [name for name, _ in sweep.dropped])
    pruned.left = sweep.left
    return pruned


def _built_at(cloner: DatabaseCloner, template: str) -> float:
    """Return when ``template`` was built (epoch seconds), 0 when its bookkeeping cannot say."""
    meta = cloner.read_meta(template) or {}
    try:
        return float(meta.get("built_at", "0"))
    except ValueError:
        return 0.0


def sweep_clones(builder: TemplateBuilder, *, stale_kept: bool, all_ready: bool = False) -> Sweep:
    """Drop the alias's clones that no live run owns; list those it cannot judge.

    Each clone records its owner (:mod:`concurrent_test_app.databases.owners`):

    - an owner on this host that is gone: the clone is dropped;
    - an owner on another host: the clone is only listed, since that run cannot be seen;
    - no owner (a clone being made right now, one cut short, or one an older version
      made): dropped when no run holds its template, since only a run holding a template
      makes clones of it;
    - a clone kept clean by ``--keepdb``: left for the next --keepdb run while its
      fingerprint is current, or with ``stale_kept`` False;
    - a ready clone (:mod:`.ready`): left while its fingerprint is current, unless
      ``all_ready``; its bookkeeping is not read, since a run that claims a dirty one
      clones it again.

    A kept or ready clone's name is dropped only under its claim, so that a run about to
    use it never loses it; a clone whose name was not derived is never touched.
    """
    cloner = builder.cloner
    sweep = Sweep()
    held: dict[str, bool] = {}
    for name in cloner.list_names(builder.prefix):
        parsed = naming.assert_derived(name)
        if parsed.kind != naming.CLONE:
            continue
        if parsed.token == naming.READY_TOKEN:
            _sweep_ready(builder, sweep, parsed, all_ready=all_ready)
            continue
        try:
            meta = cloner.read_meta(name) or {}
        except DatabaseUnreachableError as exc:
            logger.info("Leaving the clone %s: %s", name, exc)
            continue
        owner = Owner.from_meta(meta)
        if owner is None:
            template = naming.template_name(builder.prefix, parsed.fingerprint)
            if template not in held:
                held[template] = bool(cloner.holders(template))
            if held[template]:
                continue  # its run may be making it at this moment
            why = "it records no owner, and no run holds its template"
        elif meta.get(KEPT_KEY) == "1":
            if not stale_kept or parsed.fingerprint == builder.fingerprint.short:
                continue
            why = "it was kept by --keepdb for a template of another fingerprint"
        elif not owner.local:
            sweep.left.append(
                (name, f"owned by {owner.describe()}, whose processes this host cannot see")
            )
            continue
        elif owner.alive():
            continue
        else:
            why = f"the run that made it ({owner.describe()}) is no longer running"
        if _drop_clone(cloner, name, claimed=parsed.token == naming.KEEPDB_TOKEN):
            sweep.dropped.append((name, why))
    return sweep


# Why a ready clone was dropped, by whether --prune asked for every one.
_READY_WHY = {
    False: "it was a ready clone of a template of another fingerprint",
    True: "it was a ready clone that no run was using",
}


def _sweep_ready(
    builder: TemplateBuilder, sweep: Sweep, parsed: naming.DerivedName, *, all_ready: bool
) -> None:
    """Drop the ready clone ``parsed`` unless its fingerprint is current (and not ``all_ready``)."""
    if parsed.fingerprint == builder.fingerprint.short and not all_ready:
        return
    if _drop_clone(builder.cloner, parsed.name, claimed=True):
        sweep.dropped.append((parsed.name, _READY_WHY[all_ready]))


def _drop_clone(cloner: DatabaseCloner, name: str, *, claimed: bool) -> bool:
    if not claimed:
        return cloner.drop(name)
    with cloner.claimed(name) as free:
        return free and cloner.drop(name)
