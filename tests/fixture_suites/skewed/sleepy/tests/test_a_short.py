"""Six short classes, discovered first: 0.3 s each, made of sleeps so they hold under load.

They are TestCase classes like the long one, since Django runs TestCase before SimpleTestCase
whatever the module order.
"""

from __future__ import annotations

import time

from django.test import TestCase

NAP = 0.15


class ShortBase:
    def test_one(self) -> None:
        time.sleep(NAP)

    def test_two(self) -> None:
        time.sleep(NAP)


class ShortA(ShortBase, TestCase):
    pass


class ShortB(ShortBase, TestCase):
    pass


class ShortC(ShortBase, TestCase):
    pass


class ShortD(ShortBase, TestCase):
    pass


class ShortE(ShortBase, TestCase):
    pass


class ShortF(ShortBase, TestCase):
    pass
