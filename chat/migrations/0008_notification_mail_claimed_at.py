from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0007_merge_attachment_search_vector"),
    ]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="mail_claimed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
