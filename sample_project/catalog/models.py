"""Categories and the products sold in them."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("catalog:category_detail", kwargs={"slug": self.slug})


class ProductQuerySet(models.QuerySet["Product"]):
    def active(self) -> ProductQuerySet:
        """Return the products that are on sale."""
        return self.filter(is_active=True)

    def in_stock(self) -> ProductQuerySet:
        """Return the products with at least one unit in stock."""
        return self.filter(stock__gt=0)

    def cheaper_than(self, price: Decimal) -> ProductQuerySet:
        """Return the products whose price is below ``price``."""
        return self.filter(price__lt=price)

    def search(self, text: str) -> ProductQuerySet:
        """Return the products whose name or SKU contains ``text``."""
        text = text.strip()
        if not text:
            return self
        return self.filter(models.Q(name__icontains=text) | models.Q(sku__icontains=text))


class Product(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200, unique=True)
    sku = models.CharField("SKU", max_length=32, unique=True)
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.01"))]
    )
    stock = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"

    def get_absolute_url(self) -> str:
        return reverse("catalog:product_detail", kwargs={"slug": self.slug})

    @property
    def available(self) -> bool:
        """Say whether the product can be ordered now."""
        return self.is_active and self.stock > 0
