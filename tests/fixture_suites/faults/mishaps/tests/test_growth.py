"""Eight one-test classes, each keeping 70 MB more in a module-level list, so RSS grows per unit.

A worker that runs them one after the other grows by 70 MB a unit, as a suite with a leaky cache
would; ``--max-worker-memory`` must replace it between units before it grows without bound.
"""

from __future__ import annotations

from django.test import SimpleTestCase

GROWTH_BYTES = 70 * 1024 * 1024

# Lives as long as the worker process: nothing ever empties it.
KEPT: list[bytes] = []


class GrowthBase:
    def test_keeps_memory(self) -> None:
        KEPT.append(bytes([len(KEPT) % 251 + 1]) * GROWTH_BYTES)
        self.assertEqual(len(KEPT[-1]), GROWTH_BYTES)


class GrowthA(GrowthBase, SimpleTestCase):
    pass


class GrowthB(GrowthBase, SimpleTestCase):
    pass


class GrowthC(GrowthBase, SimpleTestCase):
    pass


class GrowthD(GrowthBase, SimpleTestCase):
    pass


class GrowthE(GrowthBase, SimpleTestCase):
    pass


class GrowthF(GrowthBase, SimpleTestCase):
    pass


class GrowthG(GrowthBase, SimpleTestCase):
    pass


class GrowthH(GrowthBase, SimpleTestCase):
    pass
