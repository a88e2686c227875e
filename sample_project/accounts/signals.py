"""Create a profile whenever a user is created."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import Profile


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def create_profile(sender: type, instance: Any, created: bool, raw: bool, **kwargs: Any) -> None:
    """Give a new user an empty profile (not while loading fixtures)."""
    if created and not raw:
        Profile.objects.get_or_create(user=instance)
