"""Load products from a supplier's CSV feed."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils.text import slugify

from .models import Category, Product

COLUMNS = ("sku", "name", "category", "price", "stock")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


def import_products(text: str) -> ImportReport:
    """Create or update the products listed in CSV ``text``; collect bad rows as errors."""
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text))
    missing = [column for column in COLUMNS if column not in (reader.fieldnames or [])]
    if missing:
        report.errors.append(f"missing columns: {', '.join(missing)}")
        return report
    with transaction.atomic():
        for line, row in enumerate(reader, start=2):
            try:
                price = Decimal(row["price"])
                stock = int(row["stock"])
            except (InvalidOperation, ValueError):
                report.errors.append(f"line {line}: bad price or stock")
                continue
            if price <= 0 or stock < 0:
                report.errors.append(f"line {line}: price must be positive and stock not negative")
                continue
            category, _ = Category.objects.get_or_create(
                slug=slugify(row["category"]), defaults={"name": row["category"].strip()}
            )
            _, created = Product.objects.update_or_create(
                sku=row["sku"].strip().upper(),
                defaults={
                    "name": row["name"].strip(),
                    "slug": slugify(f"{row['name']}-{row['sku']}"),
                    "category": category,
                    "price": price,
                    "stock": stock,
                },
            )
            if created:
                report.created += 1
            else:
                report.updated += 1
    return report
