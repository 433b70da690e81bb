"""Sockets close when the session behind them ends: logout, a new password, a deactivated account.

A socket is authenticated once, at its handshake; without this it would keep receiving a room's
messages after its person signed out or was locked out. The close reaches every process through
the person's group; the browser then reconnects with whatever session it still has (if any).
"""

from functools import partial

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.models import User
from chat import attachments, events, notifications
from chat.db import on_commit_robust
from chat.models import Attachment, Notification
from rooms.models import RoomInvite

CREDENTIAL_FIELDS = {"is_active", "password"}


def _close_sockets_on_commit(user_id: int) -> None:
    on_commit_robust(partial(events.user_sockets_close, user_id))


@receiver(user_logged_out, dispatch_uid="chat.close_sockets_on_logout")
def close_sockets_on_logout(sender, request, user, **kwargs):
    if user is not None:
        _close_sockets_on_commit(user.pk)


@receiver(pre_save, sender=User, dispatch_uid="chat.remember_credentials")
def remember_credentials(sender, instance, raw=False, update_fields=None, **kwargs):
    # One query, and only for saves that may change what a socket was authenticated with.
    if raw or instance.pk is None or (update_fields is not None and not CREDENTIAL_FIELDS & set(update_fields)):
        return
    instance._credentials_before = User.objects.filter(pk=instance.pk).values_list("is_active", "password").first()


@receiver(post_save, sender=User, dispatch_uid="chat.close_sockets_on_credential_change")
def close_sockets_on_credential_change(sender, instance, created, **kwargs):
    before = instance.__dict__.pop("_credentials_before", None)
    if created or before is None:
        return
    was_active, old_password = before
    if (was_active and not instance.is_active) or old_password != instance.password:
        _close_sockets_on_commit(instance.pk)


# An invitation is a notification too. Received here because the invite service lives in rooms,
# which must not depend on chat; the notification is written in the invite's own transaction.
# Not announced: the invite service's room.invited already reaches the person's sockets, and the
# page's badge counts that event (static/js/notifications.js), so one event says it once.
@receiver(post_save, sender=RoomInvite, dispatch_uid="chat.notify_room_invite")
def notify_room_invite(sender, instance, created, raw=False, **kwargs):
    if created and not raw:
        notifications.notification_create(
            user=instance.user,
            kind=Notification.Kind.ROOM_INVITE,
            actor=instance.invited_by,
            room=instance.room,
            announce=False,
        )


# Files follow their rows however the rows go: a deleted message (chat.services), the purge of unsent
# uploads, or a cascade (a room or message deleted in the admin). Queued only once the delete commits.
@receiver(post_delete, sender=Attachment, dispatch_uid="chat.delete_attachment_files")
def delete_attachment_files(sender, instance, **kwargs):
    attachments.files_delete_on_commit([instance.storage_name, instance.preview_name])
