"""Pages of rooms (the API routes are in rooms/urls.py)."""

from django.urls import path

from rooms import views

urlpatterns = [
    path("rooms/", views.rooms_index, name="rooms"),
    path("rooms/invites/<int:invite_id>/accept/", views.invite_accept, name="invite-accept"),
    path("rooms/new/", views.room_create, name="room-create"),
    path("rooms/directory/", views.directory, name="room-directory"),
    path("lobby/", views.lobby, name="lobby"),
    path("lobby/rooms/<int:room_id>/leave/", views.lobby_room_leave, name="lobby-room-leave"),
    path("rooms/<int:room_id>/report/", views.room_report, name="room-report"),
    path("rooms/<int:room_id>/", views.room_page, name="room"),
    path("rooms/<int:room_id>/send/", views.room_send, name="room-send"),
    path("rooms/<int:room_id>/join/", views.room_join, name="room-join"),
    path("rooms/<int:room_id>/settings/", views.room_settings, name="room-settings"),
    path("rooms/<int:room_id>/invite/", views.room_invite, name="room-invite"),
    path("rooms/<int:room_id>/members/<int:user_id>/role/", views.room_member_role, name="room-member-role"),
    path("rooms/<int:room_id>/members/<int:user_id>/remove/", views.room_member_remove, name="room-member-remove"),
    path("rooms/<int:room_id>/leave/", views.room_leave, name="room-leave"),
    path("rooms/<int:room_id>/notifications/", views.room_notifications, name="room-notifications"),
    path("rooms/requests/<int:room_id>/accept/", views.message_request_accept, name="message-request-accept"),
    path("rooms/requests/<int:room_id>/ignore/", views.message_request_ignore, name="message-request-ignore"),
    path("u/<str:handle>/message/", views.direct_message, name="direct-message"),
]
