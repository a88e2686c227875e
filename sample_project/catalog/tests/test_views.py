from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase, tag
from django.urls import reverse

from .factories import make_category, make_product


class ProductListViewTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.lamp = make_product("Desk lamp", price="29.00")
        cls.bulb = make_product("LED bulb", price="4.99")
        make_product("Oil lamp", is_active=False)

    @tag("smoke")
    def test_lists_active_products_only(self) -> None:
        response = self.client.get(reverse("catalog:product_list"))
        self.assertEqual(response.status_code, 200)
        self.assertTemplateUsed(response, "catalog/product_list.html")
        self.assertEqual(list(response.context["product_list"]), [self.lamp, self.bulb])
        self.assertNotContains(response, "Oil lamp")

    def test_search_narrows_the_list(self) -> None:
        response = self.client.get(reverse("catalog:product_list"), {"q": "lamp"})
        self.assertEqual(list(response.context["product_list"]), [self.lamp])
        self.assertContains(response, 'value="lamp"')

    def test_long_catalog_is_paginated(self) -> None:
        for number in range(25):
            make_product(f"Spare part {number:02d}")
        response = self.client.get(reverse("catalog:product_list"), {"page": 2})
        self.assertEqual(len(response.context["product_list"]), 7)
        self.assertContains(response, "Page 2 of 2")


class ProductDetailViewTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.category = make_category("Lighting")
        cls.lamp = make_product("Desk lamp", category=cls.category, price="29.00", stock=3)
        cls.sold_out = make_product("Floor lamp", category=cls.category, stock=0)

    def test_shows_price_and_asks_anonymous_visitors_to_log_in(self) -> None:
        response = self.client.get(self.lamp.get_absolute_url())
        self.assertContains(response, "29.00 EUR")
        self.assertContains(response, "3 in stock")
        self.assertContains(response, "to order.")

    def test_logged_in_customer_sees_the_order_form(self) -> None:
        self.client.force_login(User.objects.create_user("dora"))
        response = self.client.get(self.lamp.get_absolute_url())
        self.assertContains(response, reverse("orders:place", args=[self.lamp.slug]))
        response = self.client.get(self.sold_out.get_absolute_url())
        self.assertContains(response, "Out of stock")

    def test_unknown_product_and_category_pages(self) -> None:
        self.assertEqual(self.client.get("/products/no-such-thing/").status_code, 404)
        response = self.client.get(self.category.get_absolute_url())
        self.assertContains(response, "Desk lamp")
        self.assertEqual(self.client.get("/categories/nowhere/").status_code, 404)
