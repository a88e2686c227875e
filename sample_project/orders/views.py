"""A customer's own orders: list, detail, place and cancel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST
from django.views.generic import DetailView, ListView

from catalog.models import Product

from .models import Order
from .services import OutOfStock, cancel_order, place_order


class OrderListView(LoginRequiredMixin, ListView):
    template_name = "orders/order_list.html"
    context_object_name = "orders"

    def get_queryset(self) -> QuerySet[Order]:
        return Order.objects.for_customer(self.request.user).with_totals()


class OrderDetailView(LoginRequiredMixin, DetailView):
    template_name = "orders/order_detail.html"
    context_object_name = "order"

    def get_queryset(self) -> QuerySet[Order]:
        # Another customer's order is a 404, not a 403: its existence is not revealed.
        return Order.objects.for_customer(self.request.user).prefetch_related("items__product")


@login_required
@require_POST
def place(request: HttpRequest, slug: str) -> HttpResponse:
    """Order ``quantity`` units of the product ``slug`` for the logged-in user."""
    product = get_object_or_404(Product.objects.active(), slug=slug)
    try:
        quantity = int(request.POST.get("quantity", "1"))
    except ValueError:
        quantity = 0
    if quantity < 1:
        messages.error(request, "Quantity must be a whole number of at least 1.")
        return redirect(product)
    try:
        order = place_order(request.user, [(product, quantity)])
    except OutOfStock as exc:
        messages.error(request, f"Sorry, not enough stock: {exc}.")
        return redirect(product)
    messages.success(request, f"Thank you: order #{order.pk} is placed.")
    return redirect(order)


@login_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel the logged-in user's order ``pk``."""
    order = get_object_or_404(Order.objects.for_customer(request.user), pk=pk)
    try:
        cancel_order(order)
    except ValueError as exc:
        messages.error(request, str(exc).capitalize() + ".")
    else:
        messages.success(request, f"Order #{order.pk} is cancelled.")
    return redirect(order)
