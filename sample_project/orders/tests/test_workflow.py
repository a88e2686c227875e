from __future__ import annotations

import time

from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import TransactionTestCase, tag

from catalog.models import Product
from catalog.tests.factories import make_product
from orders.models import Order
from orders.services import OutOfStock, cancel_order, order_placed, place_order

# Deliberate work: a real fulfilment test waits on a payment provider's sandbox. The pause stands
# in for that round trip. This is the longest class of the suite, and it comes last in discovery
# order on purpose: a runner that hands out classes in that order leaves the other workers idle
# while it finishes, and a longest-first scheduler does not.
PAYMENT_SANDBOX_SECONDS = 1.4


@tag("slow")
class OrderWorkflowTests(TransactionTestCase):
    """Commit and roll back for real: these tests are not wrapped in a transaction."""

    def setUp(self) -> None:
        self.customer = User.objects.create_user("niaj")
        self.stove = make_product("Camping stove", price="45.00", stock=3)
        self.gas = make_product("Gas canister", price="5.50", stock=1)
        self.heard: list[Order] = []
        order_placed.connect(self.hear)
        self.addCleanup(order_placed.disconnect, self.hear)

    def hear(self, sender: type, order: Order, **kwargs: object) -> None:
        self.heard.append(order)

    def pay(self, order: Order) -> None:
        time.sleep(PAYMENT_SANDBOX_SECONDS)
        order.advance(Order.Status.PAID)

    def stock(self, product: Product) -> int:
        return Product.objects.get(pk=product.pk).stock

    def test_placed_order_is_committed_and_announced(self) -> None:
        order = place_order(self.customer, [(self.stove, 1)])
        self.assertTrue(connection.get_autocommit())
        self.assertEqual(self.heard, [order])
        self.pay(order)
        self.assertEqual(Order.objects.get(pk=order.pk).status, Order.Status.PAID)

    def test_failed_order_is_rolled_back_and_not_announced(self) -> None:
        with self.assertRaises(OutOfStock):
            place_order(self.customer, [(self.stove, 1), (self.gas, 2)])
        time.sleep(PAYMENT_SANDBOX_SECONDS)
        self.assertEqual(self.heard, [])
        self.assertFalse(Order.objects.exists())
        self.assertEqual((self.stock(self.stove), self.stock(self.gas)), (3, 1))

    def test_order_inside_a_rolled_back_outer_transaction_is_not_announced(self) -> None:
        with self.assertRaises(RuntimeError), transaction.atomic():
            place_order(self.customer, [(self.stove, 2)])
            raise RuntimeError("the caller gave up")
        time.sleep(PAYMENT_SANDBOX_SECONDS)
        self.assertEqual(self.heard, [])
        self.assertEqual(self.stock(self.stove), 3)

    def test_paid_order_is_shipped_and_cannot_be_cancelled(self) -> None:
        order = place_order(self.customer, [(self.gas, 1)])
        self.pay(order)
        order.advance(Order.Status.SHIPPED)
        with self.assertRaisesMessage(ValueError, "shipped cannot be cancelled"):
            cancel_order(order)
        self.assertEqual(self.stock(self.gas), 0)

    def test_paid_order_can_still_be_cancelled(self) -> None:
        order = place_order(self.customer, [(self.stove, 3), (self.gas, 1)])
        self.pay(order)
        cancel_order(order)
        self.assertEqual(Order.objects.get(pk=order.pk).status, Order.Status.CANCELLED)
        self.assertEqual((self.stock(self.stove), self.stock(self.gas)), (3, 1))

    def test_sold_out_product_refuses_the_next_customer(self) -> None:
        first = place_order(self.customer, [(self.gas, 1)])
        self.pay(first)
        other = User.objects.create_user("olivia")
        with self.assertRaisesMessage(OutOfStock, "Gas canister: 1 wanted, 0 in stock"):
            place_order(other, [(self.gas, 1)])
        self.assertEqual(list(Order.objects.values_list("customer__username", flat=True)), ["niaj"])
