from __future__ import annotations

from decimal import Decimal

from django.test import SimpleTestCase

from catalog.pricing import apply_discount, format_price, quantize


class PricingTests(SimpleTestCase):
    def test_quantize_rounds_halves_away_from_zero(self) -> None:
        self.assertEqual(quantize(Decimal("2.345")), Decimal("2.35"))
        self.assertEqual(quantize(Decimal("2.344")), Decimal("2.34"))

    def test_discounts(self) -> None:
        cases = [("100.00", 0, "100.00"), ("100.00", 15, "85.00"), ("9.99", 33, "6.69")]
        for price, percent, expected in cases:
            with self.subTest(price=price, percent=percent):
                self.assertEqual(apply_discount(Decimal(price), percent), Decimal(expected))

    def test_discount_outside_zero_to_hundred_is_refused(self) -> None:
        with self.assertRaisesMessage(ValueError, "not 120"):
            apply_discount(Decimal("10"), 120)

    def test_format_price_groups_thousands(self) -> None:
        self.assertEqual(format_price(Decimal("1234567.891")), "1,234,567.89 EUR")
        self.assertEqual(format_price(Decimal("5"), "USD"), "5.00 USD")
