import json
from pathlib import Path

from django.core.management.base import BaseCommand

from accounts.management.people import person
from chat.personal_data import user_export


class Command(BaseCommand):
    help = (
        "Write everything Parley holds about one person as JSON (data portability): profile, settings and "
        "privacy choices, friends, friend requests, blocks, room memberships and invites, every message "
        "they wrote, their reactions and notifications. No password hash, code or token is included. "
        "Prints to standard output unless --output names a file."
    )

    def add_arguments(self, parser):
        parser.add_argument("handle", help="The person's handle, with or without the leading @.")
        parser.add_argument("--output", "-o", type=Path, help="Write the JSON to this file instead of stdout.")

    def handle(self, *args, handle, output, **options):
        user = person(handle)
        text = json.dumps(user_export(user=user), indent=2, ensure_ascii=False)
        if output is None:
            self.stdout.write(text)
            return
        output.write_text(text + "\n", encoding="utf-8")
        self.stderr.write(f"Wrote the data of @{user.handle} to {output}.")
