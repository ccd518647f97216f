from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from django.utils import timezone

from flashcards.personal import fit_learner
from flashcards.tasks import queue_fit


class Command(BaseCommand):
    help = (
        "Fit FSRS-6 parameters to learners' histories, adopting them only where they predict "
        "the learner's later answers better. Nightly from cron: --all queues a fit of every "
        "learner with answers for the workers (manage.py db_worker); --user fits one now."
    )

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Queue every learner with answers.")
        which.add_argument("--user", help="Fit one learner, by username, now.")
        which.add_argument(
            "--queued",
            action="store_true",
            help="Does nothing: fits asked for are queued for the workers at once.",
        )

    def handle(self, *args, all, user, queued, **options):
        User = get_user_model()
        if queued:
            self.stdout.write(
                "Nothing to do: a fit asked for is queued at once and run by "
                "`manage.py db_worker`; this option can be removed from cron."
            )
        elif user:
            try:
                learner = User.objects.get(username=user)
            except User.DoesNotExist as error:
                raise CommandError(f"No learner named {user}.") from error
            profile = fit_learner(learner, timezone.now())
            self.stdout.write(
                f"{learner.username}: {profile.get_fit_status_display()}. {profile.fit_message}"
            )
        else:
            queued_now = waiting = 0
            for learner in User.objects.filter(review__isnull=False).distinct().iterator():
                if queue_fit(learner):
                    queued_now += 1
                else:
                    waiting += 1
            self.stdout.write(
                f"Queued {queued_now} fit{pluralize(queued_now)} for the workers "
                f"({waiting} already waiting)."
            )
