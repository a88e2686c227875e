from __future__ import annotations

from decimal import Decimal

from django.db.models import ProtectedError
from django.test import TestCase, tag

from catalog.models import Product

from .factories import make_category, make_product


class CatalogModelTests(TestCase):
    def test_category_and_product_text(self) -> None:
        category = make_category("Garden")
        product = make_product("Rake", category=category)
        self.assertEqual(str(category), "Garden")
        self.assertEqual(str(product), "Rake (RAKE)")
        self.assertEqual(category.get_absolute_url(), "/categories/garden/")
        self.assertEqual(product.get_absolute_url(), "/products/rake/")

    def test_category_with_products_cannot_be_deleted(self) -> None:
        category = make_category("Kitchen")
        make_product("Ladle", category=category)
        with self.assertRaises(ProtectedError):
            category.delete()

    def test_available_needs_activity_and_stock(self) -> None:
        self.assertTrue(make_product("Hammer", stock=1).available)
        self.assertFalse(make_product("Chisel", stock=0).available)
        self.assertFalse(make_product("Mallet", stock=5, is_active=False).available)


class ProductQuerySetTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.hammer = make_product("Claw hammer", price="19.90", stock=4)
        cls.saw = make_product("Hand saw", price="34.50", stock=0)
        cls.drill = make_product("Cordless drill", price="89.00", stock=2)
        cls.retired = make_product("Brace drill", price="12.00", stock=7, is_active=False)

    @tag("smoke")
    def test_active_excludes_retired_products(self) -> None:
        self.assertQuerySetEqual(
            Product.objects.active(), [self.hammer, self.drill, self.saw], ordered=False
        )

    def test_in_stock_and_cheaper_than_chain(self) -> None:
        products = Product.objects.active().in_stock().cheaper_than(Decimal("50"))
        self.assertQuerySetEqual(products, [self.hammer])

    def test_search_matches_name_case_insensitively(self) -> None:
        self.assertQuerySetEqual(
            Product.objects.search("DRILL"), [self.retired, self.drill], ordered=False
        )

    def test_search_matches_sku_and_ignores_blank_text(self) -> None:
        self.assertQuerySetEqual(Product.objects.search("hand-saw"), [self.saw])
        self.assertEqual(Product.objects.search("   ").count(), 4)
