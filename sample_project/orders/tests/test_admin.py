from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase
from django.urls import reverse

from catalog.tests.factories import make_product
from orders.services import place_order


class OrderAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.admin = User.objects.create_superuser("root", "root@example.com", password=None)
        customer = User.objects.create_user("mallory", "mallory@example.com")
        cls.order = place_order(customer, [(make_product("Notebook", price="2.40"), 5)])

    def setUp(self) -> None:
        self.client.force_login(self.admin)

    def test_changelist_shows_the_database_total(self) -> None:
        response = self.client.get(reverse("admin:orders_order_changelist"), {"q": "mallory"})
        self.assertEqual(response.context["cl"].result_count, 1)
        self.assertContains(response, "12.00")
        self.assertContains(response, "column-total_amount")

    def test_change_page_shows_the_lines_inline(self) -> None:
        response = self.client.get(reverse("admin:orders_order_change", args=[self.order.pk]))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Notebook")
        self.assertEqual(response.context["inline_admin_formsets"][0].formset.total_form_count(), 1)
