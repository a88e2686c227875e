"""Small helpers that create catalog rows for the tests of every app."""

from __future__ import annotations

from decimal import Decimal

from django.utils.text import slugify

from catalog.models import Category, Product


def make_category(name: str = "Tools") -> Category:
    """Create and return a category called ``name``."""
    return Category.objects.create(name=name, slug=slugify(name))


def make_product(
    name: str,
    *,
    category: Category | None = None,
    price: str = "10.00",
    stock: int = 10,
    is_active: bool = True,
) -> Product:
    """Create and return a product; the slug and SKU are derived from ``name``."""
    if category is None:
        category, _ = Category.objects.get_or_create(slug="general", defaults={"name": "General"})
    return Product.objects.create(
        category=category,
        name=name,
        slug=slugify(name),
        sku=slugify(name).upper()[:32],
        price=Decimal(price),
        stock=stock,
        is_active=is_active,
    )
