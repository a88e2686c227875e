"""Sales figures computed from plain rows, so that they can be fed from any source."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from catalog.pricing import quantize


@dataclass(frozen=True)
class SaleRow:
    day: date
    sku: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class SalesSummary:
    revenue: Decimal
    units: int
    revenue_by_sku: dict[str, Decimal]
    revenue_by_day: dict[date, Decimal]

    def best_sellers(self, count: int = 3) -> list[str]:
        """Return the SKUs with the highest revenue, highest first (ties by SKU)."""
        ranked = sorted(self.revenue_by_sku.items(), key=lambda pair: (-pair[1], pair[0]))
        return [sku for sku, _ in ranked[:count]]


def summarise(rows: Iterable[SaleRow]) -> SalesSummary:
    """Add up revenue and units, in total, per SKU and per day."""
    by_sku: dict[str, Decimal] = defaultdict(Decimal)
    by_day: dict[date, Decimal] = defaultdict(Decimal)
    units = 0
    for row in rows:
        amount = row.quantity * row.unit_price
        by_sku[row.sku] += amount
        by_day[row.day] += amount
        units += row.quantity
    revenue = quantize(sum(by_sku.values(), Decimal("0")))
    return SalesSummary(
        revenue=revenue,
        units=units,
        revenue_by_sku={sku: quantize(amount) for sku, amount in by_sku.items()},
        revenue_by_day={day: quantize(amount) for day, amount in sorted(by_day.items())},
    )
