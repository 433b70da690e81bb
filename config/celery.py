import os
from contextvars import ContextVar

from celery import Celery, Task
from celery.schedules import crontab
from django_guid import get_guid, set_guid

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

_caller_request_id: ContextVar[str | None] = ContextVar("caller_request_id", default=None)


class RequestIdTask(Task):
    """Eager tasks (embedded mode, tests) run with the request id of the code that queued them.

    django-guid hands the id over in a message header, which an eager task never has: without this
    it would run under a new id, and clear the caller's id for the rest of its request on the way out.
    """

    def apply(self, *args, **kwargs):
        caller = get_guid()
        token = _caller_request_id.set(caller)
        try:
            return super().apply(*args, **kwargs)
        finally:
            _caller_request_id.reset(token)
            if caller:
                set_guid(caller)

    def __call__(self, *args, **kwargs):
        if self.request.is_eager and _caller_request_id.get():
            set_guid(_caller_request_id.get())
        return super().__call__(*args, **kwargs)


app = Celery("parley", task_cls=RequestIdTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# `make beat` runs these (one beat process per installation; workers may be many).
app.conf.beat_schedule = {
    # Each person's own interval (NOTIFICATION_EMAIL_INTERVAL, or the digest's) is checked per run:
    # the minute only bounds how late a due mail can be.
    "notification-mails": {"task": "chat.tasks.notifications_mail_due", "schedule": 60.0},
    "direct-messages-while-away": {"task": "chat.tasks.notifications_dm_away", "schedule": 60.0},
    "clean-up": {"task": "chat.tasks.notifications_clean_up", "schedule": crontab(hour=4, minute=17)},
    # Uploads never sent are kept a day (ATTACHMENT_UNSENT_LIFETIME); hourly runs delete them at most an hour late.
    "unsent-attachments": {"task": "chat.tasks.attachments_purge_unsent", "schedule": crontab(minute=41)},
    # Lobby chats are due LOBBY_ROOM_TTL after they closed; ten minutes bounds how late one goes.
    "lobby-rooms-purge": {"task": "rooms.tasks.random_rooms_purge", "schedule": 600.0},
}
