from __future__ import annotations

from django.test import TestCase

from catalog.forms import ProductForm

from .factories import make_category, make_product


class ProductFormTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.category = make_category("Paint")

    def data(self, **overrides: object) -> dict[str, object]:
        data: dict[str, object] = {
            "category": self.category.pk,
            "name": "Wall paint",
            "slug": "wall-paint",
            "sku": " wp-10 ",
            "price": "24.95",
            "stock": 3,
            "is_active": True,
        }
        data.update(overrides)
        return data

    def test_valid_form_saves_the_sku_in_upper_case(self) -> None:
        form = ProductForm(self.data())
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.save().sku, "WP-10")

    def test_sku_already_taken_is_refused(self) -> None:
        make_product("Primer", category=self.category)
        form = ProductForm(self.data(sku="primer"))
        self.assertFalse(form.is_valid())
        self.assertIn("sku", form.errors)

    def test_active_product_without_stock_and_free_product_are_refused(self) -> None:
        form = ProductForm(self.data(stock=0, price="0.00"))
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors["stock"], ["An active product needs at least one unit in stock."]
        )
        self.assertIn("price", form.errors)
