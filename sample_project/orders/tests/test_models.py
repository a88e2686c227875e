from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import User
from django.test import TestCase

from catalog.tests.factories import make_product
from orders.models import Order, OrderItem


class OrderModelTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.customer = User.objects.create_user("ivan")
        cls.pen = make_product("Fountain pen", price="12.50")
        cls.ink = make_product("Ink bottle", price="3.35")
        cls.order = Order.objects.create(customer=cls.customer)
        OrderItem.objects.create(order=cls.order, product=cls.pen, quantity=2, unit_price="12.50")
        OrderItem.objects.create(order=cls.order, product=cls.ink, quantity=3, unit_price="3.35")
        cls.empty = Order.objects.create(customer=cls.customer, status=Order.Status.SHIPPED)

    def test_total_adds_up_the_lines(self) -> None:
        self.assertEqual(self.order.total(), Decimal("35.05"))
        self.assertEqual(self.empty.total(), Decimal("0.00"))

    def test_database_totals_match_python_totals(self) -> None:
        totals = {order.pk: order.total_amount for order in Order.objects.with_totals()}
        self.assertEqual(totals, {self.order.pk: Decimal("35.05"), self.empty.pk: Decimal("0")})

    def test_open_orders_leave_out_shipped_ones(self) -> None:
        self.assertQuerySetEqual(Order.objects.for_customer(self.customer).open(), [self.order])

    def test_status_workflow(self) -> None:
        self.assertTrue(self.order.can_become(Order.Status.PAID))
        self.assertFalse(self.order.can_become(Order.Status.SHIPPED))
        with self.assertRaisesMessage(ValueError, "an order that is shipped cannot become paid"):
            self.empty.advance(Order.Status.PAID)
        self.order.advance(Order.Status.PAID)
        self.order.refresh_from_db()
        self.assertEqual(str(self.order), f"Order #{self.order.pk} (Paid)")
