"""Orders placed by customers, and their lines."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import DecimalField, ExpressionWrapper, F, Sum
from django.db.models.functions import Coalesce
from django.urls import reverse

from catalog.pricing import quantize

LINE_TOTAL = ExpressionWrapper(
    F("items__quantity") * F("items__unit_price"),
    output_field=DecimalField(max_digits=12, decimal_places=2),
)

# Allowed moves of an order's status; anything else is refused by ``Order.advance``.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("paid", "cancelled"),
    "paid": ("shipped", "cancelled"),
    "shipped": (),
    "cancelled": (),
}


class OrderQuerySet(models.QuerySet["Order"]):
    def for_customer(self, user: object) -> OrderQuerySet:
        """Return the orders placed by ``user``."""
        return self.filter(customer=user)

    def open(self) -> OrderQuerySet:
        """Return the orders that are neither shipped nor cancelled."""
        return self.filter(status__in=[Order.Status.NEW, Order.Status.PAID])

    def with_totals(self) -> OrderQuerySet:
        """Annotate every order with ``total_amount`` computed in the database."""
        return self.annotate(
            total_amount=Coalesce(
                Sum(LINE_TOTAL),
                Decimal("0.00"),
                output_field=DecimalField(max_digits=12, decimal_places=2),
            )
        )


class Order(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        PAID = "paid", "Paid"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Order #{self.pk} ({self.get_status_display()})"

    def get_absolute_url(self) -> str:
        return reverse("orders:order_detail", kwargs={"pk": self.pk})

    def total(self) -> Decimal:
        """Return the sum of the order's lines."""
        return quantize(sum((item.line_total() for item in self.items.all()), Decimal("0")))

    def can_become(self, status: str) -> bool:
        """Say whether the order may move from its status to ``status``."""
        return status in TRANSITIONS[self.status]

    def advance(self, status: str) -> None:
        """Move the order to ``status`` and save it; refuse a move the workflow forbids."""
        if not self.can_become(status):
            raise ValueError(f"an order that is {self.status} cannot become {status}")
        self.status = status
        self.save(update_fields=["status"])


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="orders_item_once_per_order"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product.name}"

    def line_total(self) -> Decimal:
        """Return quantity times unit price."""
        return self.quantity * self.unit_price
