"""Reports handled before the moderation queue said "actioned"; it says "resolved" now. And the
Moderators group: staff put in it can work the reports queue and moderate people, rooms and messages
in the admin, without being superusers (docs/MODERATION.md)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Moderators"
PERMISSIONS = {
    "accounts": ["view_user", "change_user", "view_report", "change_report", "view_moderationaction"],
    "rooms": ["view_room", "change_room", "view_membership"],
    "chat": ["view_message", "change_message", "view_attachment", "view_reaction"],
}


def reports_resolved(apps, schema_editor):
    apps.get_model("accounts", "Report").objects.filter(status="actioned").update(status="resolved")


def reports_actioned(apps, schema_editor):
    apps.get_model("accounts", "Report").objects.filter(status="resolved").update(status="actioned")


def moderators_group(apps, schema_editor):
    # Permissions are otherwise created only after every migration ran (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        models_module, app_config.models_module = getattr(app_config, "models_module", None), True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = models_module
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codenames in PERMISSIONS.items():
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))


def moderators_group_delete(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_moderation_audit_log"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(reports_resolved, reports_actioned),
        migrations.RunPython(moderators_group, moderators_group_delete),
    ]
