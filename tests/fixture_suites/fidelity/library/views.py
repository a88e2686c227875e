from __future__ import annotations

from django.http import HttpRequest, JsonResponse

from library.models import Book


def book_titles(request: HttpRequest) -> JsonResponse:
    """Return the titles of all books, for the live server test."""
    return JsonResponse({"titles": sorted(Book.objects.values_list("title", flat=True))})
