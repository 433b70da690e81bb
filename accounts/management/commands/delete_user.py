from django.core.management.base import BaseCommand, CommandError

from accounts.management.people import person
from chat.personal_data import MessagesChoice, user_delete


class Command(BaseCommand):
    help = (
        "Delete a person's account for good: profile, avatar, friends, requests, blocks, memberships, "
        "reactions, notifications and login records. Their open sockets are closed at once. Group rooms "
        "they owned pass to the longest-standing member. You must choose what happens to their messages: "
        "--messages=keep-anonymized keeps them with no author (conversations stay readable), "
        "--messages=delete turns each into a tombstone ('message deleted'), like a delete by its author. "
        "Asks for confirmation unless --yes. Run export_user first if the person asked for their data."
    )

    def add_arguments(self, parser):
        parser.add_argument("handle", help="The person's handle, with or without the leading @.")
        parser.add_argument(
            "--messages",
            required=True,
            choices=MessagesChoice.ALL,
            help="keep-anonymized: keep their messages without an author; delete: blank them into tombstones.",
        )
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation.")

    def handle(self, *args, handle, messages, yes, **options):
        user = person(handle)
        if not yes and not self.confirmed(user, messages):
            raise CommandError("Nothing was deleted.")
        counts = user_delete(user=user, messages=messages)
        summary = ", ".join(f"{name.replace('_', ' ')}: {count}" for name, count in counts.items())
        self.stdout.write(self.style.SUCCESS(f"Deleted @{user.handle} ({summary})."))

    def confirmed(self, user, messages: str) -> bool:
        fate = "kept without an author" if messages == MessagesChoice.KEEP_ANONYMIZED else "blanked (tombstones)"
        self.stdout.write(f"@{user.handle} <{user.email}> will be deleted for good; their messages will be {fate}.")
        try:
            answer = input(f"Type the handle ({user.handle}) to confirm: ")
        except EOFError:
            return False
        return answer.strip().lstrip("@") == user.handle
