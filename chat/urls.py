"""API routes of messages, mounted under /api/."""

from django.urls import path

from chat import api, attachment_api, notification_api, search_api

urlpatterns = [
    path("rooms/<int:room_id>/messages/", api.RoomMessagesView.as_view(), name="api-room-messages"),
    path("rooms/<int:room_id>/read/", api.ReadView.as_view(), name="api-room-read"),
    path("messages/<int:message_id>/", api.MessageView.as_view(), name="api-message"),
    path("messages/<int:message_id>/reactions/", api.ReactionsView.as_view(), name="api-message-reactions"),
    path("search/", search_api.SearchView.as_view(), name="api-search"),
    path("uploads/", attachment_api.UploadView.as_view(), name="api-uploads"),
    path("attachments/<int:attachment_id>/", attachment_api.AttachmentFileView.as_view(), name="api-attachment-file"),
    path(
        "attachments/<int:attachment_id>/preview/",
        attachment_api.AttachmentPreviewView.as_view(),
        name="api-attachment-preview",
    ),
    path("ws-ticket/", api.WsTicketView.as_view(), name="api-ws-ticket"),
    path("notifications/", notification_api.NotificationsView.as_view(), name="api-notifications"),
    path("notifications/read/", notification_api.NotificationsReadView.as_view(), name="api-notifications-read"),
    path(
        "notifications/<int:notification_id>/read/",
        notification_api.NotificationReadView.as_view(),
        name="api-notification-read",
    ),
]
