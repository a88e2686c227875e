"""Which work unit goes next.

Schedulers are small classes behind one protocol, chosen by name with ``--scheduler``:
the pool asks :meth:`Scheduler.next_item` whenever a worker is free, gives back the rest of a
unit with :meth:`Scheduler.requeue` when a worker died under it, and never looks inside.
"""

from __future__ import annotations

import heapq
import logging
import statistics
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.protocol import RunUnit, WorkUnitSpec

logger = logging.getLogger(__name__)


class Scheduler:
    """Hand out units in the order :meth:`order` gives; re-queued work goes first."""

    name = "base"

    def __init__(
        self, units: Sequence[WorkUnitSpec], expected: Mapping[str, float], workers: int = 1
    ) -> None:
        self.units = list(units)
        self.units_by_index = {unit.index: unit for unit in self.units}
        self.expected = dict(expected)
        self._queue: deque[RunUnit] = deque(self.items())

    def order(self) -> list[WorkUnitSpec]:
        return self.units

    def items(self) -> list[RunUnit]:
        """Return the work in the order it is handed out: each unit, or its pieces."""
        return [item for unit in self.order() for item, _ in unit_items(unit, 0.0)]

    def next_item(self, slot: int, dirty: bool = False) -> RunUnit | None:
        """Return the next piece of work for the worker in ``slot``, or None.

        A ``dirty`` worker ran a TransactionTestCase, which leaves its database emptied; it
        is never given a unit with a TestCase, which (as in serial, where TestCases run
        first) may rely on the rows data migrations made. None while work remains tells the
        pool to give that worker a fresh clone.
        """
        for position, item in enumerate(self._queue):
            if not (dirty and self.units_by_index[item.unit].needs_clean):
                del self._queue[position]
                return item
        return None

    def requeue(self, item: RunUnit) -> None:
        """Put the unfinished rest of a unit back, ahead of everything else."""
        if item.tests:
            self._queue.appendleft(item)

    def worth_a_fresh_clone(self, slot: int) -> bool:
        """Return whether a worker that :meth:`next_item` gave nothing should start again on
        a fresh clone (rather than stop): here, whenever work is left."""
        return len(self) > 0

    def clone_replaced(self, slot: int) -> None:
        """Note that ``slot`` has a fresh clone (nothing to note here)."""

    def release_slot(self, slot: int) -> None:
        """Note that ``slot`` gets no worker again (nothing to note here)."""

    def drain(self) -> list[RunUnit]:
        """Remove and return everything not handed out yet."""
        items = list(self._queue)
        self._queue.clear()
        return items

    def __len__(self) -> int:
        return len(self._queue)


class DiscoveryScheduler(Scheduler):
    """Discovery order (Django's test type order first), as Django's --parallel hands out units."""

    name = "discovery"

    def order(self) -> list[WorkUnitSpec]:
        return serial_order(self.units)


class LongestFirstScheduler(Scheduler):
    """Longest expected work first, while every clone sees its tests in serial order.

    Each item (a unit, or a piece of a split class) goes, longest expected first, to the list
    of the slot with the least expected work so far (longest-processing-time-first); a unit
    never seen gets the median of known ones. Each slot runs its own list in serial order
    (Django's test type order, then discovery order). So, as under Django's ``--parallel``,
    whose workers each take a subsequence of serial order, the tests a clone ran before a test
    are only tests that serial runs before it too: a ``TestCase`` that expects the template's
    next id in a table still gets it, since no test that serial runs later has advanced that
    table's sequence on its clone (a rollback keeps sequences and auto-increment counters).

    A slot whose list is done takes over the end of the list with the most expected work
    left: the items after the last one it ran on its clone, up to half of that work. When
    nothing is left that it may take on its clone, :meth:`worth_a_fresh_clone` tells the pool
    whether a fresh clone (on which it may take anything) is worth starting.
    """

    name = "longest"

    def __init__(
        self, units: Sequence[WorkUnitSpec], expected: Mapping[str, float], workers: int = 1
    ) -> None:
        self.workers = max(1, workers)
        self._lists: dict[int, deque[_Entry]] = {}
        self._bins: list[deque[_Entry]] = []
        self._last: dict[int, _Position] = {}
        self._orphans: list[_Entry] = []
        self._rank: dict[int, int] = {}
        self._shared: deque[_Entry] | None = None  # without history: one list for all
        # unit index -> (slot, entry, the slot's last position before it) of each hand-out.
        self._handed: dict[int, list[tuple[int, _Entry, _Position]]] = {}
        super().__init__(units, expected)

    def order(self) -> list[WorkUnitSpec]:
        estimates = expected_unit_seconds(self.units, self.expected)
        # sorted() is stable: units with equal estimates keep discovery order.
        return sorted(self.units, key=lambda unit: -estimates[unit.key])

    def items(self) -> list[RunUnit]:
        """Deal every item to a slot's list (see the class); return them in serial order."""
        estimates = expected_unit_seconds(self.units, self.expected)
        self._rank = {unit.index: rank for rank, unit in enumerate(serial_order(self.units))}
        entries = [
            _Entry((self._rank[unit.index], item.tests[0] if item.tests else 0), item, seconds)
            for unit in self.units
            for item, seconds in unit_items(unit, estimates[unit.key])
        ]
        if not any(entry.seconds for entry in entries):
            # No history at all: one queue in serial order for every slot, as Django's
            # --parallel hands units out; each slot still takes them in serial order.
            self._shared = deque(sorted(entries, key=lambda entry: entry.position))
            return [entry.item for entry in self._shared]
        self._bins = [deque() for _ in range(self.workers)]
        loads = [(0.0, 0, number) for number in range(self.workers)]
        # Longest first; equal estimates in serial order (ties: fewer items, then lower bin).
        for entry in sorted(entries, key=lambda entry: (-entry.seconds, entry.position)):
            load, count, number = heapq.heappop(loads)
            self._bins[number].append(entry)
            heapq.heappush(loads, (load + entry.seconds, count + 1, number))
        for number, dealt in enumerate(self._bins):
            self._bins[number] = deque(sorted(dealt, key=lambda entry: entry.position))
        self._bins.reverse()  # the busiest list first: pop() gives it to the first slot
        return [entry.item for entry in sorted(entries, key=lambda entry: entry.position)]

    def _list(self, slot: int) -> deque[_Entry]:
        """Return the list of ``slot``; the first time a slot asks, it gets a dealt one."""
        if self._shared is not None:
            return self._shared
        if slot not in self._lists:
            self._lists[slot] = self._bins.pop() if self._bins else deque()
        return self._lists[slot]

    def next_item(self, slot: int, dirty: bool = False) -> RunUnit | None:
        own = self._list(slot)
        last = self._last.get(slot, _BEFORE)

        def takes(entry: _Entry) -> bool:
            return entry.position > last and not (dirty and self._needs_clean(entry))

        if not own and not any(takes(entry) for entry in self._orphans):
            self._steal(slot, takes)
        choices = [entry for entry in self._orphans if takes(entry)]
        # A dealt list is in serial order past the slot's last item; the shared one may hold,
        # at its head, the rest of an item another slot was running: pass over it.
        first = next((entry for entry in own if takes(entry)), None)
        if first is not None and (first is own[0] or self._shared is not None):
            choices.append(first)
        if not choices:
            return None
        entry = min(choices, key=lambda entry: entry.position)
        if entry in self._orphans:
            self._orphans.remove(entry)
        else:
            own.remove(entry)
        self._handed.setdefault(entry.item.unit, []).append((slot, entry, last))
        self._last[slot] = entry.position
        return entry.item

    def _needs_clean(self, entry: _Entry) -> bool:
        return self.units_by_index[entry.item.unit].needs_clean

    def _steal(self, slot: int, takes: Callable[[_Entry], bool]) -> None:
        """Move to ``slot``'s list the end of the busiest list that it may take."""
        victims = [(other, work) for other, work in self._lists.items() if other != slot and work]
        victims += [(-1 - number, work) for number, work in enumerate(self._bins) if work]
        best: deque[_Entry] | None = None
        for _, work in victims:
            if takes(work[-1]) and (best is None or _seconds(work) > _seconds(best)):
                best = work
        if best is None:
            return
        share = _seconds(best) / 2
        taken: list[_Entry] = []
        while best and takes(best[-1]):
            if taken and _seconds(taken) + best[-1].seconds > share:
                break
            taken.append(best.pop())
        self._list(slot).extend(reversed(taken))

    def worth_a_fresh_clone(self, slot: int) -> bool:
        """Return whether ``slot`` should start again on a fresh clone to take work that is
        left: its own (a flushed clone), another's that no slot may take otherwise, or at
        least FRESH_CLONE_WORTH_SECONDS of a busier list."""
        if self._list(slot) or self._orphans:
            return True
        lists = [work for other, work in self._lists.items() if other != slot] + self._bins
        return any(_seconds(work) / 2 >= FRESH_CLONE_WORTH_SECONDS for work in lists if work)

    def clone_replaced(self, slot: int) -> None:
        """Note that ``slot`` has a fresh clone: no test has run on it yet."""
        self._last.pop(slot, None)

    def release_slot(self, slot: int) -> None:
        """Note that ``slot`` gets no worker again: its list is anyone's to take."""
        work = self._lists.pop(slot, None)
        if work is None and self._bins:  # lost before it asked: the list it would have had
            work = self._bins.pop()
        self._orphans.extend(work or ())

    def requeue(self, item: RunUnit) -> None:
        """Put the unfinished rest of a handed-out item back at the head of its slot's list."""
        if not item.tests:
            return
        for slot, entry, before in reversed(self._handed.get(item.unit, [])):
            if set(item.tests) <= set(entry.item.tests):
                rest = _Entry((entry.position[0], item.tests[0]), item, entry.seconds)
                if slot in self._lists or self._shared is not None:
                    self._list(slot).appendleft(rest)
                    self._last[slot] = min(self._last.get(slot, _BEFORE), before)
                else:
                    self._orphans.append(rest)
                return
        self._orphans.append(_Entry((self._rank[item.unit], item.tests[0]), item, 0.0))

    def _all_lists(self) -> list[deque[_Entry]]:
        shared = [] if self._shared is None else [self._shared]
        return [*self._lists.values(), *self._bins, *shared]

    def drain(self) -> list[RunUnit]:
        entries = [e for work in self._all_lists() for e in work] + self._orphans
        for work in self._all_lists():
            work.clear()
        self._orphans.clear()
        return [entry.item for entry in sorted(entries, key=lambda entry: entry.position)]

    def __len__(self) -> int:
        return sum(len(work) for work in self._all_lists()) + len(self._orphans)


# Where an item stands in serial order: its unit's rank, then its first test.
_Position = tuple[int, int]
_BEFORE: _Position = (-1, -1)
# A slot starts again on a fresh clone to take over at least this much of a busier list.
FRESH_CLONE_WORTH_SECONDS = 1.0


@dataclass(frozen=True, eq=False)
class _Entry:
    """An item in a slot's list: where it stands in serial order, and its expected seconds."""

    position: _Position
    item: RunUnit
    seconds: float


def _seconds(entries: Iterable[_Entry]) -> float:
    return sum(entry.seconds for entry in entries)


def serial_order(units: Sequence[WorkUnitSpec]) -> list[WorkUnitSpec]:
    """Return the units in the order serial runs them: Django's test type order, then discovery."""
    # sorted() is stable: inside a phase the units keep discovery order.
    return sorted(units, key=lambda unit: unit.phase)


def unit_items(unit: WorkUnitSpec, seconds: float) -> list[tuple[RunUnit, float]]:
    """Return the unit's work as (item, expected seconds): each piece, or the whole unit."""
    if unit.pieces:
        return [(RunUnit(unit.index, piece.tests), piece.seconds) for piece in unit.pieces]
    return [(RunUnit(unit.index, tuple(range(len(unit.tests)))), seconds)]


def expected_unit_seconds(
    units: Sequence[WorkUnitSpec], expected: Mapping[str, float]
) -> dict[str, float]:
    """Return the expected seconds of every unit, filling unknown ones with the known median."""
    known = [expected[unit.key] for unit in units if unit.key in expected]
    fallback = statistics.median(known) if known else 0.0
    return {unit.key: expected.get(unit.key, fallback) for unit in units}


def shard_units(
    units: Sequence[WorkUnitSpec], expected: Mapping[str, float], k: int, n: int
) -> list[WorkUnitSpec]:
    """Return the units of shard ``k`` of ``n`` (k counted from 1), in discovery order.

    Longest-processing-time-first: units, longest expected first (ties broken by key), each
    go to the shard with the least expected time so far (ties: fewer units, then the lower
    shard). Only the units and their expected durations decide, never the machine, so every
    CI job computes the same split and each unit lands in exactly one shard.
    """
    if n < 1 or not 1 <= k <= n:
        raise ConfigurationError(
            f"--shard {k}/{n} is out of range; "
            f"pass K/N with 1 <= K <= N, such as --shard 1/{max(n, 2)}."
        )
    estimates = expected_unit_seconds(units, expected)
    if not any(estimates.values()):
        # No history at all: balance by number of tests, the best guess there is.
        estimates = {unit.key: float(len(unit.tests)) for unit in units}
    ranked = sorted(units, key=lambda unit: (-estimates[unit.key], unit.key, unit.index))
    shards: list[tuple[float, int, int]] = [(0.0, 0, shard) for shard in range(n)]
    chosen: set[int] = set()
    for unit in ranked:
        load, count, shard = heapq.heappop(shards)
        if shard == k - 1:
            chosen.add(unit.index)
        heapq.heappush(shards, (load + estimates[unit.key], count + 1, shard))
    picked = [unit for unit in units if unit.index in chosen]
    logger.debug("Shard %d/%d holds %d of %d units", k, n, len(picked), len(units))
    return picked


SCHEDULERS: dict[str, type[Scheduler]] = {
    DiscoveryScheduler.name: DiscoveryScheduler,
    LongestFirstScheduler.name: LongestFirstScheduler,
}
DEFAULT_SCHEDULER = LongestFirstScheduler.name
