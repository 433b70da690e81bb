"""Celery tasks of chat: each fetches ids and calls a service (chat.notifications, chat.previews, chat.attachments)."""

from celery import shared_task

from chat import attachments, notifications, previews

# SMTP errors are OSErrors: a mail that could not be handed over is retried, with a growing pause.
MAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task
def message_mentions_notify(message_id: int) -> int:
    """Queued on commit by message sends whose body contains "@"."""
    return len(notifications.mentions_notify(message_id=message_id))


@shared_task
def message_preview_fetch(message_id: int) -> bool:
    """Queued on commit by message sends and edits whose body has a link."""
    return previews.message_preview_update(message_id=message_id) is not None


@shared_task
def notifications_dm_away() -> int:
    """Beat: direct messages that wait unread for people who are offline."""
    return notifications.dm_away_notify()


@shared_task
def notifications_mail_due() -> int:
    """Beat: one mail task per person who is due one."""
    user_ids = notifications.users_due_for_mail()
    for user_id in user_ids:
        notification_mail_send.delay(user_id)
    return len(user_ids)


@shared_task(**MAIL_RETRY)
def notification_mail_send(user_id: int) -> int:
    return notifications.notification_mail_send(user_id=user_id)


@shared_task
def notifications_clean_up() -> dict[str, int]:
    """Beat, daily: old read notifications and long-expired e-mail verification codes.

    (WebSocket tickets need nothing: they live in the cache with a 30-second expiry, chat.tickets.)
    """
    return {
        "notifications": notifications.notifications_delete_old_read(),
        "verifications": notifications.verifications_delete_expired(),
    }


@shared_task
def attachment_files_delete(names: list[str]) -> int:
    """Queued on commit when attachments are deleted (with their message, or by the purge below)."""
    attachments.files_delete(names)
    return len(names)


@shared_task
def attachments_purge_unsent() -> int:
    """Beat, hourly: uploads never sent, once older than ATTACHMENT_UNSENT_LIFETIME."""
    return attachments.attachments_purge_unsent()
