import json

from django.core.management.base import BaseCommand, CommandError

from chat.stats import chat_stats


class Command(BaseCommand):
    help = (
        "Show how Parley is used: people online now (counted in Redis across every server process; "
        "without REDIS_URL this process cannot see the server's sockets and says 0), people, rooms by "
        "kind, and messages per day for the last --days days (UTC, today included). --json prints the "
        "same figures as one JSON object, for scripts and monitoring."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=7, help="How many days of messages per day (default 7).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print JSON instead of text.")

    def handle(self, *args, days, as_json, **options):
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366.")
        stats = chat_stats(days=days)
        if as_json:
            self.stdout.write(json.dumps(stats, indent=2))
            return
        people, rooms = stats["people"], stats["rooms"]
        self.stdout.write(f"Online now: {stats['online']}")
        self.stdout.write(f"People: {people['verified']} verified, {people['active']} active, {people['total']} in all")
        self.stdout.write("Rooms: " + ", ".join(f"{count} {kind}" for kind, count in rooms.items()))
        self.stdout.write(f"Messages: {stats['messages_total']} in all; per day (UTC):")
        for entry in stats["messages_per_day"]:
            self.stdout.write(f"  {entry['day']}  {entry['messages']:>8}")
