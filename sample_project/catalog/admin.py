from __future__ import annotations

from django.contrib import admin

from .models import Category, Product


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "sku", "category", "price", "stock", "is_active"]
    list_filter = ["is_active", "category"]
    list_editable = ["is_active"]
    search_fields = ["name", "sku"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "created_at"
