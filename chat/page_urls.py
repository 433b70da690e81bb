"""Pages of messages (the API routes are in chat/urls.py)."""

from django.urls import path

from chat import views

urlpatterns = [
    path("search/", views.search_page, name="search"),
    path("messages/<int:message_id>/report/", views.message_report, name="message-report"),
    path("notifications/", views.notifications_page, name="notifications"),
    path("notifications/read/", views.notifications_read_all, name="notifications-read-all"),
    path("notifications/<int:notification_id>/read/", views.notification_read, name="notification-read"),
    path("notifications/unsubscribe/<str:token>/", views.notifications_unsubscribe, name="notifications-unsubscribe"),
]
