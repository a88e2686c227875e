"""Price arithmetic shared by the catalog and the orders."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def quantize(amount: Decimal) -> Decimal:
    """Round ``amount`` to whole cents, halves away from zero."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def apply_discount(price: Decimal, percent: int) -> Decimal:
    """Return ``price`` less ``percent`` per cent, rounded to cents."""
    if not 0 <= percent <= 100:
        raise ValueError(f"discount must be between 0 and 100 per cent, not {percent}")
    return quantize(price * (100 - percent) / 100)


def format_price(amount: Decimal, currency: str = "EUR") -> str:
    """Return ``amount`` as text with two decimals and a thousands separator."""
    return f"{quantize(amount):,.2f} {currency}"
