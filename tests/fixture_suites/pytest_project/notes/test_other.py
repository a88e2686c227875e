"""A test of two databases, collected only when the project has the second alias.

A marker, not a TestCase's ``databases``: pytest-django 4.11 reads ``databases`` from the
item rather than the class, so only the marker names both aliases in every pinned version.
"""

from __future__ import annotations

import pytest
from django.conf import settings

from notes.models import Note

if "other" in settings.DATABASES:

    @pytest.mark.django_db(databases=["default", "other"])
    def test_both() -> None:
        assert Note.objects.using("other").count() == 3
        assert Note.objects.count() == 3
