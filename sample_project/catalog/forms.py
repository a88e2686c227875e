"""Forms for editing the catalog."""

from __future__ import annotations

from django import forms

from .models import Product


class ProductForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["category", "name", "slug", "sku", "price", "stock", "is_active"]

    def clean_sku(self) -> str:
        """Store SKUs in upper case so that look-ups do not depend on the collation."""
        return self.cleaned_data["sku"].strip().upper()

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("is_active") and cleaned.get("stock") == 0:
            self.add_error("stock", "An active product needs at least one unit in stock.")
        return cleaned
