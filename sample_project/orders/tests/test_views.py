from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase, tag
from django.urls import reverse

from catalog.models import Product
from catalog.tests.factories import make_product
from orders.models import Order
from orders.services import place_order


class OrderViewTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.kim = User.objects.create_user("kim")
        cls.lee = User.objects.create_user("lee")
        cls.mug = make_product("Coffee mug", price="7.25", stock=5)
        cls.kims_order = place_order(cls.kim, [(cls.mug, 2)])
        cls.lees_order = place_order(cls.lee, [(cls.mug, 1)])

    def setUp(self) -> None:
        self.client.force_login(self.kim)

    @tag("smoke")
    def test_list_shows_only_the_customers_own_orders(self) -> None:
        response = self.client.get(reverse("orders:order_list"))
        self.assertEqual(list(response.context["orders"]), [self.kims_order])
        self.assertContains(response, "14.50 EUR")
        self.client.logout()
        response = self.client.get(reverse("orders:order_list"))
        self.assertRedirects(response, f"{reverse('login')}?next={reverse('orders:order_list')}")

    def test_another_customers_order_is_not_found(self) -> None:
        self.assertContains(self.client.get(self.kims_order.get_absolute_url()), "Coffee mug")
        self.assertEqual(self.client.get(self.lees_order.get_absolute_url()).status_code, 404)

    def test_ordering_from_the_product_page(self) -> None:
        response = self.client.post(
            reverse("orders:place", args=[self.mug.slug]), {"quantity": "2"}, follow=True
        )
        order = Order.objects.for_customer(self.kim).first()
        assert order is not None
        self.assertRedirects(response, order.get_absolute_url())
        self.assertContains(response, f"Thank you: order #{order.pk} is placed.")
        self.assertEqual(Product.objects.get(pk=self.mug.pk).stock, 0)

    def test_too_many_units_or_a_get_request_place_nothing(self) -> None:
        url = reverse("orders:place", args=[self.mug.slug])
        response = self.client.post(url, {"quantity": "9"}, follow=True)
        self.assertContains(response, "Sorry, not enough stock: Coffee mug: 9 wanted, 2 in stock.")
        self.assertEqual(self.client.get(url).status_code, 405)
        self.assertEqual(Order.objects.count(), 2)

    def test_cancelling_puts_the_units_back(self) -> None:
        url = reverse("orders:cancel", args=[self.kims_order.pk])
        self.assertContains(self.client.post(url, follow=True), "is cancelled")
        self.assertEqual(Product.objects.get(pk=self.mug.pk).stock, 4)
        self.assertContains(
            self.client.post(url, follow=True), "An order that is cancelled cannot be cancelled."
        )
