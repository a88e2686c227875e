from __future__ import annotations

from django.contrib.auth.models import User
from django.test import TestCase
from django.urls import reverse

from .factories import make_product


class ProductAdminTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.admin = User.objects.create_superuser("admin", "admin@example.com", password=None)
        make_product("Garden hose", price="15.00")
        make_product("Watering can", price="9.00", is_active=False)

    def setUp(self) -> None:
        self.client.force_login(self.admin)

    def test_changelist_shows_every_product(self) -> None:
        response = self.client.get(reverse("admin:catalog_product_changelist"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Garden hose")
        self.assertContains(response, "Watering can")
        self.assertEqual(response.context["cl"].result_count, 2)

    def test_changelist_search_and_filter(self) -> None:
        url = reverse("admin:catalog_product_changelist")
        self.assertEqual(self.client.get(url, {"q": "hose"}).context["cl"].result_count, 1)
        response = self.client.get(url, {"is_active__exact": "0"})
        self.assertEqual([p.name for p in response.context["cl"].result_list], ["Watering can"])

    def test_add_page_renders_for_staff_only(self) -> None:
        url = reverse("admin:catalog_product_add")
        self.assertEqual(self.client.get(url).status_code, 200)
        self.client.logout()
        self.assertRedirects(self.client.get(url), f"{reverse('admin:login')}?next={url}")
