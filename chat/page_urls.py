"""Pages of messages (the API routes are in chat/urls.py)."""

from django.urls import path

from chat import views

urlpatterns = [
    path("search/", views.search_page, name="search"),
]
