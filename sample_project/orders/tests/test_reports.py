from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.test import SimpleTestCase, tag

from orders.reports import SaleRow, summarise

# Deliberate work: a month of sales for a busy shop, summed with Decimal arithmetic. It is CPU
# bound on purpose, so this class is one of the slow ones the demo's scheduler has to place well.
ROWS_PER_RUN = 180_000
FIRST_DAY = date(2025, 3, 1)


def month_of_sales() -> list[SaleRow]:
    return [
        SaleRow(
            day=FIRST_DAY + timedelta(days=number % 31),
            sku=f"SKU-{number % 40:02d}",
            quantity=1 + number % 3,
            unit_price=Decimal("1.25") * (1 + number % 40),
        )
        for number in range(ROWS_PER_RUN)
    ]


@tag("slow")
class SalesReportTests(SimpleTestCase):
    def test_revenue_and_units_add_up(self) -> None:
        rows = month_of_sales()
        summary = summarise(rows)
        self.assertEqual(summary.units, sum(row.quantity for row in rows))
        self.assertEqual(summary.revenue, sum(summary.revenue_by_sku.values()))
        self.assertEqual(summary.revenue, sum(summary.revenue_by_day.values()))

    def test_best_sellers_are_the_dearest_skus(self) -> None:
        summary = summarise(month_of_sales())
        self.assertEqual(summary.best_sellers(), ["SKU-39", "SKU-38", "SKU-37"])
        self.assertEqual(len(summary.revenue_by_day), 31)

    def test_empty_month(self) -> None:
        summary = summarise([])
        self.assertEqual((summary.revenue, summary.units, summary.best_sellers()), (0, 0, []))
        summary = summarise(month_of_sales()[:3])
        self.assertEqual(summary.revenue, Decimal("17.50"))
