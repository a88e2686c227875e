from __future__ import annotations

from django.contrib import admin

from .models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    list_display = ["user", "display_name", "newsletter", "joined_at"]
    list_filter = ["newsletter"]
    search_fields = ["user__username", "user__email", "display_name"]
    readonly_fields = ["joined_at"]
