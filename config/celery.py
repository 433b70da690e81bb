import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("parley")
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
