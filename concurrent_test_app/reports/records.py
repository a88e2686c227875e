"""The run's record, for reports and history: one entry per test id, worker and unit.

:class:`Ledger` turns the result calls the workers sent into :class:`CaseRecord` entries
with unittest's ids and the worst outcome of each; :class:`RunReport` is what every report
writer and the history take.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from concurrent_test_app.protocol import ResultCall, WorkUnitSpec

OUTCOMES = (
    "passed",
    "failed",
    "error",
    "skipped",
    "expected_failure",
    "unexpected_success",
    "not_run",
)

# Which outcome wins when unittest reports one id more than once (a test that failed and then
# errored in a cleanup, a parent test whose subtests failed and errored).
_SEVERITY = {
    "not_run": 0,
    "passed": 1,
    "skipped": 2,
    "expected_failure": 3,
    "unexpected_success": 4,
    "failed": 5,
    "error": 6,
}

_CALL_OUTCOME = {
    "addSuccess": "passed",
    "addFailure": "failed",
    "addError": "error",
    "addSkip": "skipped",
    "addExpectedFailure": "expected_failure",
    "addUnexpectedSuccess": "unexpected_success",
}


@dataclass
class CaseRecord:
    """One entry of the JSON report's ``tests`` list."""

    id: str
    outcome: str
    duration: float = 0.0
    worker: int | None = None
    message: str = ""
    unit: str = ""


@dataclass
class WorkerRecord:
    slot: int
    database: str = ""
    tests: int = 0
    units: int = 0
    busy_seconds: float = 0.0
    setup_seconds: float = 0.0
    queries: int = 0
    memory_peak_mb: float = 0.0
    restarts: int = 0
    recycles: int = 0
    refreshes: int = 0
    life_seconds: float = 0.0  # from the slot's first worker's start to its last one's end
    timeline: list[tuple[str, float, float]] = field(default_factory=list)


@dataclass
class TemplateRecord:
    alias: str
    name: str
    fingerprint: str
    reused: bool
    seconds: float


@dataclass
class UnitRecord:
    key: str
    slot: int | None
    seconds: float
    setup_seconds: float


class Ledger:
    """Turn the result calls of a run into one record per test id, as the JSON report lists them."""

    def __init__(self, units: list[WorkUnitSpec]) -> None:
        self.units = units
        self._records: dict[str, CaseRecord] = {}
        self._seen: set[tuple[int, int]] = set()
        self.unit_records: list[UnitRecord] = []
        self._fixture_pieces: dict[str, object] = {}  # pseudo-id -> the piece that reported it

    def first_reports(
        self, unit: WorkUnitSpec | None, piece: object, calls: tuple[ResultCall, ...]
    ) -> tuple[ResultCall, ...]:
        """Return ``calls`` less a split class's fixture reports that another piece made.

        Every piece runs the class fixtures; a setUpClass that fails in several is reported
        once, by the first piece, as serial reports it.
        """
        if unit is None or not unit.pieces:
            return calls
        return tuple(
            call
            for call in calls
            if call.holder is None
            or self._fixture_pieces.setdefault(call.holder.id, piece) is piece
        )

    def add(
        self, slot: int | None, unit: WorkUnitSpec | None, calls: tuple[ResultCall, ...]
    ) -> None:
        for call in calls:
            if call.test >= 0:
                assert unit is not None
                info = unit.tests[call.test]
                self._seen.add((unit.index, call.test))
            else:
                assert call.holder is not None
                info = call.holder
            if call.method == "addDuration":
                self._record(info.id, unit, slot).duration = call.duration or 0.0
            elif call.method == "startTest":
                self._record(info.id, unit, slot)
            elif call.method == "addSubTest":
                if call.error is None or call.subtest is None:
                    continue
                outcome = "failed" if call.failure else "error"
                self._set(self._record(call.subtest.id, unit, slot), outcome, call.error)
                self._set(self._record(info.id, unit, slot), outcome, "")
            elif call.method in _CALL_OUTCOME:
                message = call.error or call.reason or ""
                self._set(self._record(info.id, unit, slot), _CALL_OUTCOME[call.method], message)

    def ran(self, unit: int, test: int) -> bool:
        return (unit, test) in self._seen

    def mark_not_run(self, unit: WorkUnitSpec, test: int, reason: str) -> None:
        info = unit.tests[test]
        if info.id not in self._records:
            self._records[info.id] = CaseRecord(info.id, "not_run", message=reason, unit=unit.key)

    def _record(self, test_id: str, unit: WorkUnitSpec | None, slot: int | None) -> CaseRecord:
        record = self._records.get(test_id)
        if record is None:
            record = CaseRecord(test_id, "not_run", worker=slot, unit=unit.key if unit else "")
            self._records[test_id] = record
        record.worker = slot
        return record

    @staticmethod
    def _set(record: CaseRecord, outcome: str, message: str) -> None:
        if _SEVERITY[outcome] >= _SEVERITY[record.outcome]:
            record.outcome = outcome
        if message:
            record.message = f"{record.message}\n{message}" if record.message else message

    def records(self) -> list[CaseRecord]:
        return list(self._records.values())


@dataclass
class RunReport:
    """Everything a run learned: the JSON report's content and what history stores."""

    summary: dict[str, Any]
    tests: list[CaseRecord]
    workers: list[WorkerRecord]
    templates: list[TemplateRecord]
    units: list[UnitRecord]
    started_at: float
    finished_at: float
    shard: str | None = None
    vendor: str = ""
    exit_status: int = 0
    clone_seconds: list[float] = field(default_factory=list)
    split_units: list[str] = field(default_factory=list)  # keys of the classes run as pieces

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary,
            # Plain fields only: a copy of each record's fields, without asdict()'s deep copy.
            "tests": [dict(vars(t)) for t in self.tests],
            "workers": [
                {k: v for k, v in asdict(w).items() if k != "timeline"} for w in self.workers
            ],
            "templates": [asdict(t) for t in self.templates],
            "units": [asdict(u) for u in self.units],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "shard": self.shard,
            "vendor": self.vendor,
            "exit_status": self.exit_status,
            "clone_seconds": [round(seconds, 4) for seconds in self.clone_seconds],
            "split_units": self.split_units,
        }
