from django.db import migrations, models


class Migration(migrations.Migration):
    # A constant default: PostgreSQL adds the column without rewriting the message table.
    dependencies = [
        ("chat", "0008_notification_mail_claimed_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="removal_reason",
            field=models.CharField(blank=True, db_default="", default="", max_length=500),
        ),
    ]
