from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from chat.demo import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = (
        "Fill Parley with demo data: six verified people who are friends with some of the others, four "
        "group rooms (three public, with categories, and one private), two direct conversations, "
        "messages with replies, mentions and reactions, all written through the real services. Running "
        "it again creates nothing new. Prints the logins (every demo person has the same password). "
        "For a development or demo installation, not for production."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--password",
            default=DEMO_PASSWORD,
            help=f"Password of newly created demo people (default {DEMO_PASSWORD}).",
        )
        parser.add_argument(
            "--even-with-debug-off",
            action="store_true",
            help="Seed although DEBUG is False (a production-like installation): people with a known password.",
        )

    def handle(self, *args, password, even_with_debug_off, **options):
        if not settings.DEBUG and not even_with_debug_off:
            raise CommandError(
                "DEBUG is False, so this looks like production, where accounts with a published password "
                "do not belong. Pass --even-with-debug-off to seed anyway."
            )
        try:
            report = demo_seed(password=password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages))
        if report.nothing_new:
            self.stdout.write("The demo data was there already: nothing new was created.")
        else:
            created = ", ".join(f"{count} {name}" for name, count in report.created.items())
            self.stdout.write(self.style.SUCCESS(f"Created {created}."))
        self.stdout.write(f"\nLog in as any of these (password: {password}, unless they existed before):")
        for email, handle in report.logins:
            self.stdout.write(f"  {email:<32} @{handle}")
