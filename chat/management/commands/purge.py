from django.core.management.base import BaseCommand, CommandError

from chat import purge


class Command(BaseCommand):
    help = (
        "Delete data Parley no longer needs: expired e-mail verification codes and API refresh tokens, "
        "notifications read more than NOTIFICATION_RETENTION_DAYS ago, lobby chats LOBBY_ROOM_TTL after they "
        "ended (the beat also purges those every ten minutes), and messages older than "
        "MESSAGE_RETENTION_DAYS when that is set (unset keeps messages forever). With --dry-run nothing "
        "is deleted: the counts say what would be. Safe to run at any time, for instance daily from a "
        "timer (deploy/systemd/parley-purge.timer)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="Count what would be deleted; delete nothing.")
        names = ", ".join(step.name for step in purge.purge_steps())
        parser.add_argument(
            "--step",
            action="append",
            dest="steps",
            metavar="NAME",
            help=f"Run only this step (repeatable). Steps: {names}.",
        )

    def handle(self, *args, dry_run, steps, **options):
        try:
            counts = purge.purge_run(dry_run=dry_run, names=steps)
        except KeyError as error:
            raise CommandError(error.args[0])
        descriptions = {step.name: step.description for step in purge.purge_steps()}
        verb = "would delete" if dry_run else "deleted"
        for name, count in counts.items():
            self.stdout.write(f"{name}: {verb} {count} ({descriptions[name]})")
        if dry_run:
            self.stdout.write("Dry run: nothing was deleted.")
