from __future__ import annotations

from django.urls import path

from . import views

app_name = "orders"

urlpatterns = [
    path("", views.OrderListView.as_view(), name="order_list"),
    path("<int:pk>/", views.OrderDetailView.as_view(), name="order_detail"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("place/<slug:slug>/", views.place, name="place"),
]
