from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.test import TestCase

from catalog.models import Product
from catalog.tests.factories import make_product
from orders.models import Order
from orders.services import OutOfStock, cancel_order, order_placed, place_order


class PlaceOrderTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.customer = User.objects.create_user("judy")
        cls.tea = make_product("Green tea", price="6.40", stock=10)
        cls.cup = make_product("Tea cup", price="8.00", stock=1)

    def test_placing_takes_units_from_stock_and_keeps_the_price(self) -> None:
        order = place_order(self.customer, [(self.tea, 3), (self.tea, 1), (self.cup, 1)])
        Product.objects.filter(pk=self.tea.pk).update(price=Decimal("9.99"))
        self.assertEqual(order.total(), Decimal("33.60"))
        self.assertEqual(Product.objects.get(pk=self.tea.pk).stock, 6)
        self.assertEqual(Product.objects.get(pk=self.cup.pk).stock, 0)

    def test_not_enough_stock_leaves_no_trace(self) -> None:
        with self.assertRaisesMessage(OutOfStock, "Tea cup: 2 wanted, 1 in stock"):
            place_order(self.customer, [(self.tea, 1), (self.cup, 2)])
        self.assertFalse(Order.objects.exists())
        self.assertEqual(Product.objects.get(pk=self.tea.pk).stock, 10)

    def test_bad_lines_are_refused(self) -> None:
        with self.assertRaisesMessage(ValueError, "at least one line"):
            place_order(self.customer, [])
        with self.assertRaisesMessage(ValueError, "quantity of Green tea must be at least 1"):
            place_order(self.customer, [(self.tea, 0)])

    def test_receivers_hear_of_the_order_once_committed(self) -> None:
        heard: list[Order] = []

        def receiver(sender: type, order: Order, **kwargs: object) -> None:
            heard.append(order)

        order_placed.connect(receiver)
        self.addCleanup(order_placed.disconnect, receiver)
        with self.captureOnCommitCallbacks(execute=True) as callbacks:
            order = place_order(self.customer, [(self.tea, 1)])
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(heard, [order])
        cancel_order(order)
        self.assertEqual(Product.objects.get(pk=self.tea.pk).stock, 10)
