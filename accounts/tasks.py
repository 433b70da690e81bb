from celery import shared_task

from accounts import services
from accounts.models import User

MAIL_RETRY = {"autoretry_for": (OSError,), "retry_backoff": True, "max_retries": 5}


@shared_task(**MAIL_RETRY)
def send_verification_email(user_id: int) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        services.verification_mail(user=user)


@shared_task(**MAIL_RETRY)
def send_existing_account_notice(user_id: int) -> None:
    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        services.existing_account_notice_mail(user=user)


@shared_task(**MAIL_RETRY)
def send_password_reset_email(user_id: int) -> None:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is not None:
        services.password_reset_mail(user=user)
