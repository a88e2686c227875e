"""The pytest plugin's parts without processes: the scheduler on fake workers, keys, pins."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from concurrent_test_app.pytest_plugin import parse_shard, pinned
from concurrent_test_app.pytest_plugin.clones import slot_of
from concurrent_test_app.pytest_plugin.items import key_candidates, scope_of, unit_key
from concurrent_test_app.pytest_plugin.recording import outcome_of
from concurrent_test_app.pytest_plugin.scheduling import LongestFirstScheduling, expected_by_scope


class FakeNode:
    """What xdist's scheduler asks of a worker: take test indexes, shut down."""

    def __init__(self, name: str) -> None:
        self.gateway = SimpleNamespace(id=name)
        self.shutting_down = False
        self.sent: list[int] = []

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


def _config(workers: int) -> Any:
    option = SimpleNamespace(loadscopereorder=False)
    return SimpleNamespace(getvalue=lambda name: [f"{workers}*popen"], option=option)


COLLECTION = [
    "app/tests.py::Short::test_a",
    "app/tests.py::Short::test_b",
    "app/tests.py::Long::test_a",
    "app/tests.py::Middle::test_a",
    "app/tests.py::test_function",
]


def _scheduler(expected: dict[str, float], workers: int = 1) -> tuple[Any, list[FakeNode]]:
    scheduler = LongestFirstScheduling(_config(workers))
    scheduler._expected = expected  # the history, as _load would have read it
    nodes = [FakeNode(f"gw{n}") for n in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
        scheduler.add_node_collection(node, COLLECTION)
    scheduler.schedule()
    return scheduler, nodes


def _scopes(node: FakeNode) -> list[str]:
    return list(dict.fromkeys(scope_of(COLLECTION[index]) for index in node.sent))


def test_scopes_go_out_longest_expected_first() -> None:
    expected = expected_by_scope(
        ["app/tests.py::Short", "app/tests.py::Long", "app/tests.py::Middle", "app/tests.py"],
        {"app.tests.Long": 9.0, "app.tests.Middle": 4.0, "app.tests.Short": 1.0},
    )
    scheduler, (node,) = _scheduler(expected)
    while scheduler.workqueue:
        scheduler.mark_test_complete(node, node.sent[-1])
    # The module's functions, unknown to history, get the median of the known (4.0).
    assert _scopes(node) == [
        "app/tests.py::Long",
        "app/tests.py::Middle",
        "app/tests.py",
        "app/tests.py::Short",
    ]


def test_without_history_the_order_is_loadscope_s() -> None:
    scheduler, (node,) = _scheduler({})
    while scheduler.workqueue:
        scheduler.mark_test_complete(node, node.sent[-1])
    assert _scopes(node) == [
        "app/tests.py::Short",
        "app/tests.py::Long",
        "app/tests.py::Middle",
        "app/tests.py",
    ]


def test_a_crashed_test_is_not_handed_out_again() -> None:
    scheduler, nodes = _scheduler({"app/tests.py::Short": 5.0}, workers=2)
    first = nodes[0]
    assert COLLECTION[first.sent[0]] == "app/tests.py::Short::test_a"
    crashed = scheduler.remove_node(first)
    assert crashed == "app/tests.py::Short::test_a"
    queued = scheduler.workqueue.get("app/tests.py::Short", {})
    assert queued.get("app/tests.py::Short::test_a", True) is True


def test_history_keys_follow_the_unittest_id_or_the_node_id() -> None:
    assert key_candidates("shop/tests/test_x.py::Cart") == [
        "shop.tests.test_x.Cart",
        "tests.test_x.Cart",
        "test_x.Cart",
        "shop/tests/test_x.py::Cart",
    ]
    assert key_candidates("shop/tests/test_x.py") == ["shop/tests/test_x.py"]
    assert unit_key("shop.tests.Cart.test_a", "shop/tests.py::Cart::test_a") == "shop.tests.Cart"
    assert unit_key(None, "shop/tests.py::test_f") == "shop/tests.py"


def test_worker_slots_and_shards() -> None:
    assert [slot_of(w) for w in (None, "gw0", "gw1", "gw12", "odd")] == [1, 1, 2, 13, 1]
    assert parse_shard("2/3") == (2, 3) and parse_shard(None) is None
    for bad in ("0/2", "3/2", "1", "a/b"):
        with pytest.raises(ValueError, match="--shard"):
            parse_shard(bad)


@pytest.mark.parametrize(
    ("when", "outcome", "xfail", "expected"),
    [
        ("call", "passed", False, "passed"),
        ("call", "failed", False, "failed"),
        ("call", "skipped", False, "skipped"),
        ("call", "skipped", True, "expected_failure"),
        ("call", "passed", True, "unexpected_success"),
        ("setup", "failed", False, "error"),
        ("???", "failed", False, "error"),
        ("setup", "skipped", False, "skipped"),
    ],
)
def test_phase_outcomes(when: str, outcome: str, xfail: bool, expected: str) -> None:
    report = pytest.TestReport("t.py::test", ("t.py", 0, "test"), {}, outcome, None, when)
    if xfail:
        report.wasxfail = "reason"  # type: ignore[attr-defined]
    assert outcome_of(report) == expected


def test_the_pinned_private_apis_are_all_there() -> None:
    """Fails loudly when a pytest-django or pytest-xdist release moves what the plugin uses."""
    assert pinned.check() == []
    from xdist.scheduler.loadscope import LoadScopeScheduling

    scheduler = LoadScopeScheduling(_config(1))  # type: ignore[arg-type]
    assert isinstance(scheduler.workqueue, dict)


def test_the_versions_are_the_pinned_ones_when_the_matrix_runs() -> None:
    """Under `make pytest-matrix` the pair on PYTHONPATH is the one imported, not the venv's."""
    import os

    import pytest_django
    import xdist

    folder = next(
        (p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if ".matrix" in p), ""
    )
    if not folder:
        pytest.skip("not under make pytest-matrix")
    assert pytest_django.__file__.startswith(os.path.abspath(folder))
    assert xdist.__file__.startswith(os.path.abspath(folder))
