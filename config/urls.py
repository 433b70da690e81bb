import re

from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.static import serve
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as account_views
from accounts.urls import api_urlpatterns as account_api
from config import openapi  # noqa: F401  (registers the schema extensions)
from config.health import healthz

# Swagger UI's files come from its CDN (drf-spectacular's default) and its page has one <style> block;
# its own script is served from here (the split view), so no inline script runs even on this page.
SWAGGER_CDN = "https://cdn.jsdelivr.net"
docs_view = csp_update({"script-src": [SWAGGER_CDN], "style-src": [SWAGGER_CDN, "'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

api = [
    *account_api,
    path("", include("rooms.urls")),
    path("", include("chat.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs_view, name="api-docs"),
]

handler404 = "config.api_errors.not_found"

urlpatterns = [
    path("", account_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/", include(api)),
    path("", include("accounts.urls")),
    path("", include("rooms.page_urls")),
    path("", include("chat.page_urls")),
]

if settings.DEFAULT_STORAGE["BACKEND"].endswith("FileSystemStorage"):
    # Local media (avatars) are public by design; S3 serves them itself when configured. Attachments
    # are not: only chat.attachment_api serves them, to members.
    urlpatterns.append(
        re_path(
            rf"^{re.escape(settings.MEDIA_URL.strip('/'))}/(?!attachments/)(?P<path>.*)$",
            serve,
            {"document_root": settings.MEDIA_ROOT},
        )
    )
