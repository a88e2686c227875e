"""A LiveServerTestCase that reads through HTTP what the test wrote."""

from __future__ import annotations

import json
from urllib.request import urlopen

from django.test import LiveServerTestCase, tag
from library.models import Book


@tag("fidelity_slow")
class BookLiveServerTests(LiveServerTestCase):
    def test_titles_over_http(self):
        Book.objects.create(title="Served")
        with urlopen(f"{self.live_server_url}/books/", timeout=10) as response:
            payload = json.loads(response.read().decode())
        self.assertEqual(payload, {"titles": ["Served"]})
