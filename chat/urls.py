"""API routes of messages, mounted under /api/."""

from django.urls import path

from chat import api, search_api

urlpatterns = [
    path("rooms/<int:room_id>/messages/", api.RoomMessagesView.as_view(), name="api-room-messages"),
    path("rooms/<int:room_id>/read/", api.ReadView.as_view(), name="api-room-read"),
    path("messages/<int:message_id>/", api.MessageView.as_view(), name="api-message"),
    path("messages/<int:message_id>/reactions/", api.ReactionsView.as_view(), name="api-message-reactions"),
    path("search/", search_api.SearchView.as_view(), name="api-search"),
    path("ws-ticket/", api.WsTicketView.as_view(), name="api-ws-ticket"),
]
