"""The @timeout decorator, adaptive limits and the timeout hierarchy warnings."""

from __future__ import annotations

import io
import statistics
import unittest

import pytest
from django.test import SimpleTestCase, override_settings

import concurrent_test_app.timeouts as timeouts_module
from concurrent_test_app.exceptions import ConfigurationError
from concurrent_test_app.timeouts import (
    adaptive_limit,
    check_hierarchy,
    limit_for,
    timeout,
    timeout_for,
)

# Sample TestCases are built inside functions so pytest never collects them.


def make_cases() -> dict[str, type[unittest.TestCase]]:
    class Plain(unittest.TestCase):
        def test_plain(self) -> None:
            pass

        @timeout(120)
        def test_slow(self) -> None:
            pass

    @timeout(60)
    class Decorated(unittest.TestCase):
        def test_inherits_class(self) -> None:
            pass

        @timeout(7.5)
        def test_own(self) -> None:
            pass

        @unittest.skip("not today")
        @timeout(9)
        def test_skipped_inner(self) -> None:
            pass

        @timeout(11)
        @override_settings(DEBUG=True)
        def test_outer(self) -> None:
            pass

    class Child(Decorated):
        def test_own(self) -> None:  # overridden without a decorator: the class limit applies
            pass

        def test_child(self) -> None:
            pass

    class PlainChild(Plain):
        def test_slow(self) -> None:  # the parent's method limit does not carry over
            pass

    return {"Plain": Plain, "Decorated": Decorated, "Child": Child, "PlainChild": PlainChild}


CASES = make_cases()


@pytest.mark.parametrize(
    ("cls", "method", "expected"),
    [
        ("Plain", "test_plain", None),
        ("Plain", "test_slow", 120.0),
        ("Decorated", "test_inherits_class", 60.0),
        ("Decorated", "test_own", 7.5),
        ("Decorated", "test_skipped_inner", 9.0),
        ("Decorated", "test_outer", 11.0),
        ("Child", "test_own", 60.0),
        ("Child", "test_child", 60.0),
        ("Child", "test_skipped_inner", 9.0),
        ("PlainChild", "test_slow", None),
        ("PlainChild", "test_plain", None),
    ],
)
def test_timeout_for(cls: str, method: str, expected: float | None) -> None:
    assert timeout_for(CASES[cls](method)) == expected


def test_decorator_returns_the_same_objects() -> None:
    def test_something() -> None:
        pass

    class Case(SimpleTestCase):
        pass

    assert timeout(5)(test_something) is test_something
    assert timeout(5)(Case) is Case
    assert test_something.__name__ == "test_something"


def run(case_class: type[unittest.TestCase]) -> tuple[list[str], unittest.TestResult]:
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(case_class)
    ids = [test.id() for test in suite]
    result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(suite)
    return ids, result


def test_decorated_case_runs_as_undecorated() -> None:
    def build(decorate: bool) -> type[unittest.TestCase]:
        deco = timeout(3) if decorate else (lambda f: f)

        class Sample(unittest.TestCase):
            @deco
            def test_pass(self) -> None:
                pass

            @deco
            def test_fail(self) -> None:
                self.fail("boom")

            @deco
            def test_subtests(self) -> None:
                for i in range(3):
                    with self.subTest(i=i):
                        self.assertNotEqual(i, 1)

            @deco
            @unittest.skip("why")
            def test_skip(self) -> None:
                pass

        return Sample

    plain_ids, plain = run(build(False))
    deco_ids, decorated = run(build(True))
    assert deco_ids == plain_ids
    assert decorated.testsRun == plain.testsRun == 4
    assert [t.id() for t, _ in decorated.failures] == [t.id() for t, _ in plain.failures]
    assert len(decorated.failures) == 2
    assert [(t.id(), r) for t, r in decorated.skipped] == [(t.id(), r) for t, r in plain.skipped]


def test_subtest_is_timed_as_its_test() -> None:
    seen = []

    class Sample(unittest.TestCase):
        @timeout(42)
        def test_sub(self) -> None:
            with self.subTest(i=1):
                self.fail("x")

    class Recorder(unittest.TestResult):
        def addSubTest(self, test, subtest, outcome):  # type: ignore[no-untyped-def]
            seen.append(timeout_for(subtest))
            super().addSubTest(test, subtest, outcome)

    Sample("test_sub").run(Recorder())
    assert seen == [42.0]


def test_function_test_case() -> None:
    @timeout(13)
    def check() -> None:
        pass

    assert timeout_for(unittest.FunctionTestCase(check)) == 13.0
    assert timeout_for(unittest.FunctionTestCase(lambda: None)) is None


@pytest.mark.parametrize("bad", [0, -1, "10", True, float("nan"), None])
def test_bad_decorator_values(bad: object) -> None:
    with pytest.raises(ConfigurationError) as caught:
        timeout(bad)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message == f"@timeout({bad!r}) needs a number of seconds above 0, such as @timeout(120)."


def test_decorator_refuses_non_callables() -> None:
    with pytest.raises(ConfigurationError, match="apply it to a test method or a TestCase class"):
        timeout(5)(42)


def p95(durations: list[float]) -> float:
    return statistics.quantiles(durations, n=20, method="inclusive")[-1]


def test_adaptive_limit_from_synthetic_history() -> None:
    quick = p95([0.04, 0.05, 0.05, 0.06, 0.05, 0.07, 0.05])
    medium = p95([1.5, 1.8, 2.0, 1.9, 2.1, 1.7])
    slow = p95([9.0, 10.0, 11.0, 12.0])
    assert quick == pytest.approx(0.067, abs=0.001)
    # 10 x 67 ms is under the floor: the floor wins, far below the 30 s default.
    assert adaptive_limit(quick, floor=5, multiple=10, ceiling=30) == 5
    assert adaptive_limit(medium, floor=5, multiple=10, ceiling=30) == pytest.approx(10 * medium)
    # Never above the limit the test would have had anyway.
    assert adaptive_limit(slow, floor=5, multiple=10, ceiling=30) == 30
    # No history: the ordinary limit.
    assert adaptive_limit(None, floor=5, multiple=10, ceiling=30) == 30
    assert adaptive_limit(float("nan"), floor=5, multiple=10, ceiling=30) == 30
    # A floor above the ceiling cannot loosen the ceiling.
    assert adaptive_limit(0.01, floor=50, multiple=10, ceiling=30) == 30


def test_limit_for_precedence() -> None:
    plain = CASES["Plain"]("test_plain")
    slow = CASES["Plain"]("test_slow")
    knobs = {"floor": 5.0, "multiple": 10.0}
    assert limit_for(plain, default=30, **knobs) == 30
    assert limit_for(plain, default=30, p95=0.05, **knobs) == 30  # adaptive off
    assert limit_for(plain, default=30, p95=0.05, adaptive=True, **knobs) == 5
    assert limit_for(plain, default=30, p95=None, adaptive=True, **knobs) == 30
    # The decorator beats both the default and the adaptive limit, in either direction.
    assert limit_for(slow, default=30, p95=0.05, adaptive=True, **knobs) == 120


def test_check_hierarchy_wording() -> None:
    assert check_hierarchy(30, 3600, 7200) == []
    assert check_hierarchy(30, 30, 60) == [
        "[CONCURRENT] Test timeout (30s) should be less than worker timeout (30s)"
    ]
    assert check_hierarchy(10, 300, 120.5) == [
        "[CONCURRENT] Worker timeout (300s) should be less than global timeout (120.5s)"
    ]
    assert check_hierarchy(400.0, 300.0, 300.0) == [
        "[CONCURRENT] Test timeout (400s) should be less than worker timeout (300s)",
        "[CONCURRENT] Worker timeout (300s) should be less than global timeout (300s)",
    ]
    assert check_hierarchy(None, 10, None) == []


def test_attribute_name_is_public() -> None:
    assert timeouts_module.TIMEOUT_ATTRIBUTE == "concurrent_test_timeout"
    assert getattr(CASES["Plain"].test_slow, "concurrent_test_timeout") == 120.0  # noqa: B009
