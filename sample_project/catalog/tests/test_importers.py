from __future__ import annotations

import time

from django.test import TestCase, tag

from catalog.importers import import_products
from catalog.models import Product

from .factories import make_product

# Deliberate work: a real import test reads a supplier feed over the network. The pause stands in
# for it, so that this class is one of the slow ones the demo's scheduler has to place well.
FEED_LATENCY_SECONDS = 0.75

FEED = """sku,name,category,price,stock
bx-1,Box of screws,Fixings,4.50,120
nl-2,Box of nails,Fixings,3.20,80
gl-3,Wood glue,Adhesives,7.95,12
"""


@tag("slow")
class ProductImportTests(TestCase):
    def fetch(self, text: str) -> str:
        time.sleep(FEED_LATENCY_SECONDS)
        return text

    def test_new_rows_create_products_and_categories(self) -> None:
        report = import_products(self.fetch(FEED))
        self.assertEqual((report.created, report.updated, report.errors), (3, 0, []))
        glue = Product.objects.get(sku="GL-3")
        self.assertEqual(glue.category.name, "Adhesives")
        self.assertEqual(glue.slug, "wood-glue-gl-3")

    def test_known_sku_is_updated_in_place(self) -> None:
        make_product("Box of screws", stock=1)
        Product.objects.filter(name="Box of screws").update(sku="BX-1")
        report = import_products(self.fetch(FEED))
        self.assertEqual((report.created, report.updated), (2, 1))
        self.assertEqual(Product.objects.get(sku="BX-1").stock, 120)

    def test_bad_rows_are_reported_and_skipped(self) -> None:
        feed = FEED + "xx-4,Broken,Fixings,abc,1\nxx-5,Free lunch,Fixings,0,1\n"
        report = import_products(self.fetch(feed))
        self.assertEqual(report.created, 3)
        self.assertEqual(
            report.errors,
            ["line 5: bad price or stock", "line 6: price must be positive and stock not negative"],
        )

    def test_feed_without_required_columns_imports_nothing(self) -> None:
        report = import_products(self.fetch("sku,name\nbx-1,Box of screws\n"))
        self.assertEqual(report.errors, ["missing columns: category, price, stock"])
        self.assertFalse(Product.objects.exists())
