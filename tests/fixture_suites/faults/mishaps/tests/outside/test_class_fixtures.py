"""setUpClass and tearDownClass that end their worker: by exit, by SIGSEGV and by hanging."""

from __future__ import annotations

from django.test import TestCase

from mishaps.outside import HealthyTests, trigger


class SetUpClassFault(HealthyTests):
    kind = ""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()  # type: ignore[misc]
        trigger("setUpClass", cls.kind)


class TearDownClassFault(HealthyTests):
    kind = ""

    @classmethod
    def tearDownClass(cls) -> None:
        trigger("tearDownClass", cls.kind)
        super().tearDownClass()  # type: ignore[misc]


class SetUpClassExitTests(SetUpClassFault, TestCase):
    kind = "exit"


class SetUpClassSegvTests(SetUpClassFault, TestCase):
    kind = "segv"


class SetUpClassHangTests(SetUpClassFault, TestCase):
    kind = "hang"


class TearDownClassExitTests(TearDownClassFault, TestCase):
    kind = "exit"


class TearDownClassSegvTests(TearDownClassFault, TestCase):
    kind = "segv"


class TearDownClassHangTests(TearDownClassFault, TestCase):
    kind = "hang"


class NeighbourTests(HealthyTests, TestCase):
    pass
