"""Public catalog pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.views.generic import DetailView, ListView

from .models import Category, Product


class ProductListView(ListView):
    model = Product
    paginate_by = 20
    template_name = "catalog/product_list.html"

    def get_queryset(self) -> QuerySet[Product]:
        products = Product.objects.active().select_related("category")
        return products.search(self.request.GET.get("q", ""))

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["query"] = self.request.GET.get("q", "")
        context["categories"] = Category.objects.all()
        return context


class ProductDetailView(DetailView):
    model = Product
    template_name = "catalog/product_detail.html"

    def get_queryset(self) -> QuerySet[Product]:
        return Product.objects.active().select_related("category")


class CategoryDetailView(ListView):
    paginate_by = 20
    template_name = "catalog/category_detail.html"

    def get_queryset(self) -> QuerySet[Product]:
        self.category = get_object_or_404(Category, slug=self.kwargs["slug"])
        return self.category.products.active()

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["category"] = self.category
        return context
