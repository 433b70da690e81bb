from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import api, views
from accounts.forms import CeleryPasswordResetForm, EmailAuthenticationForm

urlpatterns = [
    path("signup/", views.signup, name="signup"),
    path("verify/", views.verify, name="verify"),
    path("verify/resend/", views.verify_resend, name="verify-resend"),
    path("verify/<str:token>/", views.verify_link, name="verify-link"),
    path(
        "login/",
        auth_views.LoginView.as_view(authentication_form=EmailAuthenticationForm, redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path(
        "password/reset/",
        auth_views.PasswordResetView.as_view(form_class=CeleryPasswordResetForm),
        name="password_reset",
    ),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("settings/profile/", views.profile_edit, name="profile-edit"),
    path("settings/avatar/", views.avatar_upload, name="avatar-upload"),
    path("u/<str:handle>/", views.profile_public, name="profile"),
    path("u/<str:handle>/friend/", views.profile_friend_add, name="profile-friend-add"),
    path("u/<str:handle>/unfriend/", views.profile_unfriend, name="profile-unfriend"),
    path("u/<str:handle>/block/", views.profile_block, name="profile-block"),
    path("u/<str:handle>/report/", views.profile_report, name="profile-report"),
    path("u/<str:handle>/unblock/", views.profile_unblock, name="profile-unblock"),
    path("friends/", views.friends, name="friends"),
    path("friends/requests/", views.friend_request_send, name="friend-request-send"),
    path("friends/requests/<int:pk>/accept/", views.friend_request_accept, name="friend-request-accept"),
    path("friends/requests/<int:pk>/decline/", views.friend_request_decline, name="friend-request-decline"),
    path("friends/requests/<int:pk>/cancel/", views.friend_request_cancel, name="friend-request-cancel"),
]

api_urlpatterns = [
    path("auth/register/", api.RegisterView.as_view(), name="api-register"),
    path("auth/verify/", api.VerifyView.as_view(), name="api-verify"),
    path("auth/resend/", api.ResendView.as_view(), name="api-resend"),
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("auth/token/refresh/", api.TokenRefreshView.as_view(), name="api-token-refresh"),
    path("auth/logout/", api.LogoutView.as_view(), name="api-logout"),
    path("me/", api.MeView.as_view(), name="api-me"),
    path("me/avatar/", api.AvatarView.as_view(), name="api-me-avatar"),
    path("users/", api.UserListView.as_view(), name="api-users"),
    path("users/<int:user_id>/", api.UserDetailView.as_view(), name="api-user"),
    path("friends/", api.FriendsView.as_view(), name="api-friends"),
    path("friends/<int:user_id>/", api.FriendDetailView.as_view(), name="api-friend"),
    path("friends/requests/", api.FriendRequestsView.as_view(), name="api-friend-requests"),
    path("friends/requests/<int:request_id>/", api.FriendRequestDetailView.as_view(), name="api-friend-request"),
    path(
        "friends/requests/<int:request_id>/accept/",
        api.FriendRequestAcceptView.as_view(),
        name="api-friend-request-accept",
    ),
    path(
        "friends/requests/<int:request_id>/decline/",
        api.FriendRequestDeclineView.as_view(),
        name="api-friend-request-decline",
    ),
    path("blocks/", api.BlocksView.as_view(), name="api-blocks"),
    path("blocks/<int:user_id>/", api.BlockDetailView.as_view(), name="api-block"),
    path("reports/", api.ReportsView.as_view(), name="api-reports"),
]
