"""Uploads and the files of attachments: POST /api/uploads/, GET /api/attachments/<id>/ and .../preview/.

Files are private. Local files are streamed by the views below to members of the message's room
(or its uploader before it is sent); with S3 the views answer members with a redirect to a
presigned URL that expires after ATTACHMENT_URL_SECONDS. Anyone else gets a 404, as for a file
that does not exist. Only decoded-and-checked images are ever shown inline; every other file is
a download, and markup never goes out with a type a browser would run (chat.sniff).
"""

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.utils.http import content_disposition_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.permissions import IsVerified
from chat import attachments, selectors, sniff
from chat.events import AttachmentPayload, attachment_payload
from config.api_errors import ErrorSerializer

# What a multipart body may add around the file itself (boundaries, headers, the file's name).
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="One file; its bytes decide its type.")


class UploadView(APIView):
    permission_classes = [IsVerified]
    parser_classes = [MultiPartParser]

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        responses={
            201: AttachmentPayload,
            400: OpenApiResponse(
                ErrorSerializer, description="Empty, too large, not what it claims to be, or an image bomb (`fields`)"
            ),
            429: OpenApiResponse(ErrorSerializer, description="Uploading too fast; see Retry-After (`retry_after`)"),
        },
        summary="Upload a file to attach to a message",
        description=(
            "The file is stored unsent: send a message with `attachments: [id]` (REST or WebSocket) "
            "to share it. Uploads never sent are deleted after a day."
        ),
    )
    def post(self, request):
        # Refused before the body is read, when its length alone says the file is too large.
        if int(request.META.get("CONTENT_LENGTH") or 0) > settings.ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD_BYTES:
            raise serializers.ValidationError({"file": [attachments.too_large_message()]})
        serializer = UploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attachment = attachments.attachment_upload(uploader=request.user, upload=serializer.validated_data["file"])
        return Response(attachment_payload(attachment), status=status.HTTP_201_CREATED)


class AnyAccept(DefaultContentNegotiation):
    """A file answers whatever the client accepts (an <img> asks for image/*); errors stay JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


FILE_RESPONSES = {
    (200, "application/octet-stream"): OpenApiTypes.BINARY,
    302: OpenApiResponse(description="With S3: to a presigned URL that expires soon."),
    404: OpenApiResponse(ErrorSerializer, description="No such file, or not in a room of mine"),
}


class AttachmentFileView(APIView):
    permission_classes = [IsVerified]
    content_negotiation_class = AnyAccept
    preview = False

    @extend_schema(responses=FILE_RESPONSES, summary="An attachment's file (members of its room only)")
    def get(self, request, attachment_id: int):
        attachment = selectors.attachment_for(user=request.user, attachment_id=attachment_id)
        if attachment is None or (self.preview and not attachment.preview_name):
            raise Http404("No such file.")
        if self.preview:
            name, content_type = attachment.preview_name, attachments.PREVIEW_TYPE
        else:
            name, content_type = attachment.storage_name, attachment.content_type
        return _served(name, filename=attachment.name, content_type=content_type)


class AttachmentPreviewView(AttachmentFileView):
    preview = True

    @extend_schema(responses=FILE_RESPONSES, summary="An image attachment's preview (WebP, at most 1280 px)")
    def get(self, request, attachment_id: int):
        return super().get(request, attachment_id)


def _served(name: str, *, filename: str, content_type: str):
    inline = content_type in sniff.INLINE_IMAGE_TYPES
    served_type = sniff.served_type(content_type)
    if not isinstance(default_storage, FileSystemStorage):
        disposition = content_disposition_header(not inline, filename)
        parameters = {"ResponseContentDisposition": disposition, "ResponseContentType": served_type}
        return HttpResponseRedirect(
            default_storage.url(name, parameters=parameters, expire=settings.ATTACHMENT_URL_SECONDS)
        )
    try:
        handle = default_storage.open(name)
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = FileResponse(handle, as_attachment=not inline, filename=filename, content_type=served_type)
    response["X-Content-Type-Options"] = "nosniff"
    # Even opened directly, a file can run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    # Membership can end: a browser may keep a file for a few minutes, shared caches never.
    response["Cache-Control"] = "private, max-age=300"
    return response
