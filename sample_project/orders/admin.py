from __future__ import annotations

from decimal import Decimal

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from catalog.pricing import quantize

from .models import Order, OrderItem


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    extra = 0
    autocomplete_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "status", "created_at", "total_amount"]
    list_filter = ["status", "created_at"]
    search_fields = ["customer__username", "customer__email", "note"]
    date_hierarchy = "created_at"
    inlines = [OrderItemInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).select_related("customer").with_totals()

    @admin.display(description="Total", ordering="total_amount")
    def total_amount(self, order: Order) -> Decimal:
        # SQLite gives the sum back unscaled (14.5); show cents like the other vendors.
        return quantize(order.total_amount)  # type: ignore[attr-defined]
