"""API routes of rooms, mounted under /api/."""

from django.urls import path

from rooms import api

urlpatterns = [
    path("rooms/", api.RoomListView.as_view(), name="api-rooms"),
    path("rooms/direct/", api.DirectRoomView.as_view(), name="api-room-direct"),
    path("rooms/public/", api.DirectoryView.as_view(), name="api-rooms-public"),
    path("lobby/", api.LobbyView.as_view(), name="api-lobby"),
    path("rooms/requests/", api.MessageRequestListView.as_view(), name="api-message-requests"),
    path(
        "rooms/requests/<int:room_id>/accept/",
        api.MessageRequestAcceptView.as_view(),
        name="api-message-request-accept",
    ),
    path(
        "rooms/requests/<int:room_id>/ignore/",
        api.MessageRequestIgnoreView.as_view(),
        name="api-message-request-ignore",
    ),
    path("rooms/<int:room_id>/", api.RoomDetailView.as_view(), name="api-room"),
    path("rooms/<int:room_id>/membership/", api.MyMembershipView.as_view(), name="api-room-membership"),
    path("rooms/<int:room_id>/members/", api.MemberListView.as_view(), name="api-room-members"),
    path("rooms/<int:room_id>/members/<int:user_id>/", api.MemberView.as_view(), name="api-room-member"),
    path("rooms/<int:room_id>/transfer/", api.TransferView.as_view(), name="api-room-transfer"),
    path("invites/", api.InviteListView.as_view(), name="api-invites"),
    path("invites/<int:invite_id>/accept/", api.InviteAcceptView.as_view(), name="api-invite-accept"),
]
