"""Placing and cancelling orders: stock moves and order rows change together or not at all."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal

from catalog.models import Product

from .models import Order, OrderItem

# Sent with ``order=`` once the transaction that placed the order has committed, never before:
# a receiver that e-mails the customer must not announce an order that was rolled back.
order_placed = Signal()


class OutOfStock(Exception):
    """Raised when a product has fewer units than an order asks for."""

    def __init__(self, product: Product, wanted: int) -> None:
        super().__init__(f"{product.name}: {wanted} wanted, {product.stock} in stock")
        self.product = product
        self.wanted = wanted


def place_order(
    customer: AbstractBaseUser, lines: Iterable[tuple[Product, int]], note: str = ""
) -> Order:
    """Create an order for ``lines`` of (product, quantity) and take the units from stock."""
    wanted: dict[int, int] = {}
    for product, quantity in lines:
        if quantity < 1:
            raise ValueError(f"quantity of {product.name} must be at least 1, not {quantity}")
        wanted[product.pk] = wanted.get(product.pk, 0) + quantity
    if not wanted:
        raise ValueError("an order needs at least one line")
    with transaction.atomic():
        # Lock the rows in a stable order so that two concurrent orders cannot deadlock.
        products = list(Product.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
        if len(products) != len(wanted):
            raise Product.DoesNotExist("an ordered product no longer exists")
        order = Order.objects.create(customer=customer, note=note)
        for product in products:
            quantity = wanted[product.pk]
            if not product.available or product.stock < quantity:
                raise OutOfStock(product, quantity)
            Product.objects.filter(pk=product.pk).update(stock=F("stock") - quantity)
            OrderItem.objects.create(
                order=order, product=product, quantity=quantity, unit_price=product.price
            )
        transaction.on_commit(lambda: order_placed.send(sender=Order, order=order))
    return order


def cancel_order(order: Order) -> None:
    """Cancel ``order`` and put its units back in stock."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        if not order.can_become(Order.Status.CANCELLED):
            raise ValueError(f"an order that is {order.status} cannot be cancelled")
        for item in order.items.all():
            Product.objects.filter(pk=item.product_id).update(stock=F("stock") + item.quantity)
        order.advance(Order.Status.CANCELLED)
