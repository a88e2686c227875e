from __future__ import annotations

from urllib.error import HTTPError
from urllib.request import urlopen

from django.test import LiveServerTestCase, tag

from .factories import make_product


@tag("live")
class CatalogLiveServerTests(LiveServerTestCase):
    def setUp(self) -> None:
        self.kettle = make_product("Electric kettle", price="39.00")

    def fetch(self, path: str) -> str:
        with urlopen(f"{self.live_server_url}{path}", timeout=10) as response:
            return response.read().decode()

    def test_home_page_over_http_lists_products(self) -> None:
        page = self.fetch("/")
        self.assertIn("Electric kettle", page)
        self.assertIn("39.00 EUR", page)

    def test_unknown_product_is_http_404(self) -> None:
        self.assertIn("39.00 EUR", self.fetch(self.kettle.get_absolute_url()))
        with self.assertRaises(HTTPError) as raised:
            self.fetch("/products/teapot/")
        self.assertEqual(raised.exception.code, 404)
